#include "simulator/multi/rank_group.h"

#define USE_C10D_GLOO 1
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/torch.h>

#include <cstdlib>
#include <stdexcept>

namespace fedlora::sim {

void RankSpec::set_master(const std::string& host_port) {
  const auto colon = host_port.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == host_port.size())
    throw std::invalid_argument("--master must be HOST:PORT, got \"" + host_port + "\"");
  master_host = host_port.substr(0, colon);
  const std::string port = host_port.substr(colon + 1);
  char* end = nullptr;
  const long p = std::strtol(port.c_str(), &end, 10);
  if (*end != '\0' || p < 1 || p > 65535) throw std::invalid_argument("--master port must be 1..65535, got \"" + port + "\"");
  master_port = static_cast<std::uint16_t>(p);
}

void RankSpec::validate() const {
  if (world_size < 1) throw std::invalid_argument("--world-size must be >= 1, got " + std::to_string(world_size));
  if (rank < 0 || rank >= world_size)
    throw std::invalid_argument("--rank must be in [0, " + std::to_string(world_size) + "), got " + std::to_string(rank));
}

struct RankGroup::Impl {
  c10::intrusive_ptr<c10d::Store> store;     // TCPStore
  c10::intrusive_ptr<c10d::Store> messages;  // "sim/" keys
  c10::intrusive_ptr<c10d::ProcessGroupGloo> pg;
  std::string where;
};

namespace {

bool loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1"; }

template <class F>
auto guarded(const std::string& what, F&& f) {
  try {
    return f();
  } catch (const RankError&) {
    throw;
  } catch (const std::exception& e) {
    throw RankError(what + ": " + e.what());
  }
}

void wait_for(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) {
  guarded(what, [&] {
    work->wait();
    return 0;
  });
}

}  // namespace

RankGroup::RankGroup(const RankSpec& spec) : impl_(std::make_unique<Impl>()) {
  spec.validate();
  rank_ = spec.rank;
  world_size_ = spec.world_size;
  impl_->where = "rank " + std::to_string(rank_) + " of " + std::to_string(world_size_) + " (master " +
                 spec.master_host + ":" + std::to_string(spec.master_port) + ")";
  const std::chrono::milliseconds timeout = spec.timeout;
  guarded(impl_->where + ": rendezvous failed", [&] {
    c10d::TCPStoreOptions o;
    o.port = spec.master_port;
    o.isServer = rank_ == 0;
    o.numWorkers = static_cast<std::size_t>(world_size_);
    o.waitWorkers = true;
    o.timeout = timeout;
    impl_->store = c10::make_intrusive<c10d::TCPStore>(spec.master_host, o);
    impl_->messages = c10::make_intrusive<c10d::PrefixStore>("sim", impl_->store);
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* iface = std::getenv("GLOO_SOCKET_IFNAME"); iface && *iface) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(iface));
    } else if (loopback(spec.master_host)) {
      options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("pg", impl_->store),
                                                            rank_, world_size_, options);
    return 0;
  });
}

RankGroup::~RankGroup() = default;

void RankGroup::put(const std::string& key, const std::string& bytes) {
  guarded(impl_->where + ": cannot publish " + key, [&] {
    impl_->messages->set(key, std::vector<std::uint8_t>(bytes.begin(), bytes.end()));
    return 0;
  });
}

std::string RankGroup::take(const std::string& key) {
  return guarded(impl_->where + ": no message " + key + " from a peer (it failed, or the timeout passed)", [&] {
    const auto v = impl_->messages->get(key);
    return std::string(v.begin(), v.end());
  });
}

void RankGroup::erase(const std::string& key) {
  guarded(impl_->where + ": cannot erase " + key, [&] { return impl_->messages->deleteKey(key); });
}

void RankGroup::broadcast(std::span<float> values, int root) {
  std::vector<at::Tensor> t{torch::from_blob(values.data(), {static_cast<std::int64_t>(values.size())}, torch::kFloat32)};
  c10d::BroadcastOptions o;
  o.rootRank = root;
  wait_for(impl_->pg->broadcast(t, o), impl_->where + ": broadcast failed");
}

void RankGroup::allreduce_sum(std::span<double> values) {
  std::vector<at::Tensor> t{torch::from_blob(values.data(), {static_cast<std::int64_t>(values.size())}, torch::kFloat64)};
  wait_for(impl_->pg->allreduce(t, c10d::AllreduceOptions{}), impl_->where + ": allreduce failed");
}

void RankGroup::allreduce_sum(std::span<std::int64_t> values) {
  std::vector<at::Tensor> t{torch::from_blob(values.data(), {static_cast<std::int64_t>(values.size())}, torch::kInt64)};
  wait_for(impl_->pg->allreduce(t, c10d::AllreduceOptions{}), impl_->where + ": allreduce failed");
}

void RankGroup::barrier() { wait_for(impl_->pg->barrier(c10d::BarrierOptions{}), impl_->where + ": barrier failed"); }

}  // namespace fedlora::sim
