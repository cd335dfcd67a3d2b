#include "simulator/multi/shard_messages.h"

#include <nlohmann/json.hpp>
#include <stdexcept>

namespace fedlora::sim {
namespace {

using nlohmann::json;

std::string to_bytes(const json& j) {
  const auto v = json::to_cbor(j);
  return {v.begin(), v.end()};
}

template <class F>
auto parse(const std::string& bytes, const char* what, F&& f) {
  try {
    return f(json::from_cbor(bytes));
  } catch (const json::exception& e) {
    throw std::runtime_error(std::string("multi-process simulation: malformed ") + what + " message: " + e.what());
  }
}

json bin(const std::string& s) { return json::binary(std::vector<std::uint8_t>(s.begin(), s.end())); }
std::string unbin(const json& j) {
  const auto& b = j.get_binary();
  return {b.begin(), b.end()};
}

json stage_json(const std::optional<secagg::Stage>& s) { return s ? json(static_cast<int>(*s)) : json(nullptr); }
std::optional<secagg::Stage> stage_of(const json& j) {
  if (j.is_null()) return std::nullopt;
  return static_cast<secagg::Stage>(j.get<int>());
}

json report_json(const ShardReport& r) {
  const auto& p = r.report;
  return json{{"i", r.index},
              {"status", static_cast<int>(p.status)},
              {"error", p.error},
              {"loss", p.train_loss},
              {"tokens", p.tokens},
              {"examples", p.num_examples},
              {"weight", p.weight},
              {"eps", p.example_epsilon},
              {"clipped", p.clipped_values},
              {"micro_batch", p.memory.micro_batch},
              {"ckpt", p.memory.activation_checkpointing},
              {"micro_batched", p.micro_batched},
              {"rss", p.peak_rss_bytes},
              {"refused", r.refused_task ? json(*r.refused_task) : json(nullptr)}};
}

ShardReport report_of(const json& j) {
  ShardReport r;
  r.index = j.at("i").get<std::uint32_t>();
  auto& p = r.report;
  p.status = static_cast<client::DeviceStatus>(j.at("status").get<int>());
  p.error = j.at("error").get<std::string>();
  p.train_loss = j.at("loss").get<double>();
  p.tokens = j.at("tokens").get<std::int64_t>();
  p.num_examples = j.at("examples").get<std::int64_t>();
  p.weight = j.at("weight").get<double>();
  p.example_epsilon = j.at("eps").get<double>();
  p.clipped_values = j.at("clipped").get<std::int64_t>();
  p.memory.micro_batch = j.at("micro_batch").get<int>();
  p.memory.activation_checkpointing = j.at("ckpt").get<bool>();
  p.micro_batched = j.at("micro_batched").get<bool>();
  p.peak_rss_bytes = j.at("rss").get<std::int64_t>();
  if (!j.at("refused").is_null()) r.refused_task = j.at("refused").get<std::string>();
  return r;
}

json secagg_json(const ShardSecAgg& m) { return json{{"i", m.index}, {"m", bin(m.message)}, {"b", m.wire_bytes}}; }
ShardSecAgg secagg_of(const json& j) {
  return ShardSecAgg{j.at("i").get<std::uint32_t>(), unbin(j.at("m")), j.at("b").get<std::int64_t>()};
}

// A JSON array of items, each encoded by `one`.
template <class T, class F>
std::string encode_list(const std::vector<T>& items, F&& one) {
  json a = json::array();
  for (const auto& x : items) a.push_back(one(x));
  return to_bytes(a);
}

// The inverse of encode_list.
template <class T, class F>
std::vector<T> decode_list(const std::string& bytes, const char* what, F&& one) {
  return parse(bytes, what, [&](const json& j) {
    std::vector<T> out;
    for (const auto& x : j) out.push_back(one(x));
    return out;
  });
}

}  // namespace

std::string encode(const ShardOpen& m) {
  json members = json::array();
  for (const auto& x : m.members)
    members.push_back(json{{"i", x.index}, {"id", x.device}, {"seed", x.shuffle_seed}, {"silent", stage_json(x.silent_from)}});
  return to_bytes(json{{"end", m.end},
                       {"failed", m.failed},
                       {"round", m.round},
                       {"instructions", bin(m.instructions)},
                       {"members", members},
                       {"secure", m.secure},
                       {"upload_length", m.upload_length},
                       {"max_weight", m.max_weight},
                       {"vector_length", m.vector_length},
                       {"word_bits", m.word_bits},
                       {"theta_length", m.theta_length}});
}

ShardOpen decode_open(const std::string& bytes) {
  return parse(bytes, "round-open", [](const json& j) {
    ShardOpen m;
    m.end = j.at("end").get<bool>();
    m.failed = j.at("failed").get<bool>();
    m.round = j.at("round").get<std::uint64_t>();
    m.instructions = unbin(j.at("instructions"));
    for (const auto& x : j.at("members"))
      m.members.push_back(ShardOpen::Member{x.at("i").get<std::uint32_t>(), x.at("id").get<std::uint64_t>(),
                                            x.at("seed").get<std::uint64_t>(), stage_of(x.at("silent"))});
    m.secure = j.at("secure").get<bool>();
    m.upload_length = j.at("upload_length").get<std::int64_t>();
    m.max_weight = j.at("max_weight").get<double>();
    m.vector_length = j.at("vector_length").get<std::uint64_t>();
    m.word_bits = j.at("word_bits").get<unsigned>();
    m.theta_length = j.at("theta_length").get<std::int64_t>();
    return m;
  });
}

std::string encode(const std::vector<ShardReport>& m) { return encode_list(m, report_json); }

std::vector<ShardReport> decode_reports(const std::string& bytes) {
  return decode_list<ShardReport>(bytes, "device-report", report_of);
}

std::string encode(const std::vector<ShardSilence>& m) {
  return encode_list(m, [](const ShardSilence& s) { return json{s.index, static_cast<int>(s.from)}; });
}

std::vector<ShardSilence> decode_silences(const std::string& bytes) {
  return decode_list<ShardSilence>(bytes, "silence", [](const json& x) {
    return ShardSilence{x.at(0).get<std::uint32_t>(), static_cast<secagg::Stage>(x.at(1).get<int>())};
  });
}

std::string encode(const ShardPlain& m) {
  json rejected = json::array();
  for (const auto& [i, why] : m.rejected) rejected.push_back(json{i, why});
  return to_bytes(json{{"accepted", m.accepted}, {"rejected", rejected}, {"bytes", m.bytes}});
}

ShardPlain decode_plain(const std::string& bytes) {
  return parse(bytes, "plain-upload", [](const json& j) {
    ShardPlain m;
    m.accepted = j.at("accepted").get<std::vector<std::uint32_t>>();
    for (const auto& x : j.at("rejected")) m.rejected.emplace_back(x.at(0).get<std::uint32_t>(), x.at(1).get<std::string>());
    m.bytes = j.at("bytes").get<std::int64_t>();
    return m;
  });
}

std::string encode(const std::vector<ShardSecAgg>& m) { return encode_list(m, secagg_json); }

std::vector<ShardSecAgg> decode_secagg(const std::string& bytes) {
  return decode_list<ShardSecAgg>(bytes, "SecAgg", secagg_of);
}

std::string encode(const ShardStage& m) {
  json a = json::array();
  for (const auto& x : m.downlinks) a.push_back(secagg_json(x));
  return to_bytes(json{{"down", a}, {"masked", m.masked_stage}, {"finished", m.finished}});
}

ShardStage decode_stage(const std::string& bytes) {
  return parse(bytes, "SecAgg stage", [](const json& j) {
    ShardStage m;
    for (const auto& x : j.at("down")) m.downlinks.push_back(secagg_of(x));
    m.masked_stage = j.at("masked").get<bool>();
    m.finished = j.at("finished").get<bool>();
    return m;
  });
}

std::string encode(const std::vector<std::uint32_t>& m) { return to_bytes(json(m)); }

std::vector<std::uint32_t> decode_members(const std::string& bytes) {
  return parse(bytes, "member-list", [](const json& j) { return j.get<std::vector<std::uint32_t>>(); });
}

}  // namespace fedlora::sim
