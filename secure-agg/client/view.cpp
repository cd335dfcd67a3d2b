#include <algorithm>

#include "secure-agg/client/client_states.h"
#include "secure-agg/errors.h"

namespace fedlora::secagg::client {
namespace {

std::vector<ClientId> sorted_ids(const google::protobuf::RepeatedField<std::uint32_t>& ids, std::uint32_t n,
                                 const char* what) {
  std::vector<ClientId> out(ids.begin(), ids.end());
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] >= n) throw ProtocolError(std::string(what) + " list names client " + std::to_string(out[i]) + " >= n");
    if (i > 0 && out[i] <= out[i - 1]) {
      throw ProtocolError(std::string(what) + " list is not strictly increasing");
    }
  }
  return out;
}

bool contains(const std::vector<ClientId>& sorted, ClientId v) {
  return std::binary_search(sorted.begin(), sorted.end(), v);
}

}  // namespace

View parse_view(const ClientContext& ctx, const std::vector<ClientId>& live,
                const google::protobuf::RepeatedField<std::uint32_t>& survivors,
                const google::protobuf::RepeatedField<std::uint32_t>& dropped) {
  const std::uint32_t n = ctx.config.num_clients;
  View view{sorted_ids(survivors, n, "survivor"), sorted_ids(dropped, n, "dropped")};
  for (ClientId v : view.dropped) {
    if (contains(view.survivors, v)) {
      // The one rule that protects inputs: revealing b_v and s_sk_v together unmasks x_v.
      throw ProtocolError("server lists client " + std::to_string(v) +
                          " as both survivor and dropped, i.e. asks for both kinds of shares; refused");
    }
  }
  if (!contains(view.survivors, ctx.id)) {
    throw ProtocolError("server does not list this client (" + std::to_string(ctx.id) + ") as a survivor");
  }
  std::size_t surviving = 0;
  for (ClientId v : live) {
    const bool s = contains(view.survivors, v), d = contains(view.dropped, v);
    if (!s && !d) {
      throw ProtocolError("server's view omits neighbour " + std::to_string(v) + ", which shared keys");
    }
    if (s) ++surviving;
  }
  // Isolation: a server that marks honest neighbours as dropped could unmask this input
  // with the pairwise keys it rebuilds; below min_live (>= t - 1) the client refuses.
  if (surviving < ctx.min_live) {
    throw PolicyError("isolation: only " + std::to_string(surviving) + " neighbours survive in the server's view; "
                      "this client unmasks only with at least " + std::to_string(ctx.min_live) +
                      " (threshold t = " + std::to_string(ctx.config.params.threshold) + ")");
  }
  return view;
}

}  // namespace fedlora::secagg::client
