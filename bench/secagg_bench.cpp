// SecAgg+ round cost: client and server time, bytes per client and for the server, for
// n in {100, 500, 1000}, m in {1e4, 1e5, 1e6} words, dropout in {0, 10, 30}% (clients drop
// before MaskedInputCollection, the case that makes the server rebuild pairwise masks).
// Alongside: this machine's AES-256-CTR throughput and the mask-expansion bound
// (keystream bytes / throughput) of each figure.
//
//   secagg_bench --benchmark_filter=AesCtr          # throughput only
//   secagg_bench --benchmark_filter='Round/100/'     # one cohort size
//
// Graph: choose_parameters for 5% corrupt clients and a 30% dropout budget (semi-honest):
// a random Harary graph for n >= 100; 32-bit words, no consistency round; signed round
// keys and the default scrypt cost of the graph seed (kDefaultGraphSeedWork), i.e. what a
// deployment pays. Clients use ClientPolicy::unchecked() so that the 30%-dropout rows
// measure the protocol rather than isolation refusals. Times are thread CPU times (the
// machine is shared); client_ms is the mean over surviving clients.
// BM_GraphSeed and BM_Ed25519 measure the per-round fixed costs on their own.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <ctime>
#include <map>

#include "secure-agg/crypto/aes_ctr_prng.h"
#include "secure-agg/crypto/ed25519.h"
#include "secure-agg/crypto/random.h"
#include "secure-agg/driver.h"
#include "secure-agg/graph_parameters.h"
#include "secure-agg/graph_seed.h"
#include "secure-agg/masking.h"

namespace fs = fedlora::secagg;
namespace fc = fedlora::secagg::crypto;

namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Best-of-5 AES-256-CTR keystream rate on one core (thread CPU time), bytes per second,
// generated in 16 KiB pieces into a cache-resident buffer exactly as apply_masks does, so
// the bound is the cipher's speed and not DRAM bandwidth. The round figures are CPU times
// too, so both sides of each ratio count the same thing.
double aes_ctr_bytes_per_second() {
  static const double rate = [] {
    fc::AesCtrPrng prg(fc::Secret32{});
    std::vector<std::uint8_t> buf(16384);
    const int pieces = 16384;  // 256 MiB per repetition
    double best = 0;
    for (int rep = 0; rep < 5; ++rep) {
      const double t0 = thread_cpu_seconds();
      for (int i = 0; i < pieces; ++i) {
        prg.fill(buf);
        benchmark::DoNotOptimize(buf.data());
      }
      best = std::max(best, static_cast<double>(buf.size()) * pieces / (thread_cpu_seconds() - t0));
    }
    return best;
  }();
  return rate;
}

void BM_AesCtrThroughput(benchmark::State& st) {
  fc::AesCtrPrng prg(fc::Secret32{});
  std::vector<std::uint8_t> buf(static_cast<std::size_t>(st.range(0)));
  for (auto _ : st) {
    prg.fill(buf);
    benchmark::DoNotOptimize(buf.data());
  }
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * buf.size()));
  st.counters["GBps_best_of_5"] = aes_ctr_bytes_per_second() / 1e9;
}
BENCHMARK(BM_AesCtrThroughput)->Arg(16384)->Arg(64 << 20)->Unit(benchmark::kMicrosecond);

// Mask expansion alone for one client with k neighbours (k + 1 masks).
void BM_ClientMaskExpansion(benchmark::State& st) {
  const auto k = static_cast<std::size_t>(st.range(0));
  const auto m = static_cast<std::size_t>(st.range(1));
  fc::DeterministicRandom rng(1, "bench masks");
  std::vector<fs::MaskSpec> masks;
  for (std::size_t j = 0; j <= k; ++j) masks.push_back({rng.secret32(), j % 2 == 0});
  std::vector<std::uint64_t> v(m, 1);
  for (auto _ : st) {
    fs::apply_masks(v, masks, 4);
    benchmark::DoNotOptimize(v.data());
  }
  const double bytes = static_cast<double>(fs::mask_expansion_bytes(k + 1, m, 4));
  st.SetBytesProcessed(static_cast<std::int64_t>(st.iterations() * bytes));
  st.counters["bound_ms"] = bytes / aes_ctr_bytes_per_second() * 1e3;
}
BENCHMARK(BM_ClientMaskExpansion)->Args({28, 1000000})->Args({72, 100000})->Unit(benchmark::kMillisecond);

// One evaluation of the Harary graph seed (scrypt N = 2^work, r = 8) for n = 1000
// advertised devices: what each client and the server pay once per round, and what a
// server grinding graphs pays per try.
void BM_GraphSeed(benchmark::State& st) {
  fs::RoundConfig cfg;
  cfg.session_id.fill(1);
  cfg.num_clients = 1000;
  cfg.vector_length = 1;
  cfg.params = {fs::GraphKind::kHarary, 66, 23};
  cfg.graph_seed_work = static_cast<unsigned>(st.range(0));
  fc::DeterministicRandom rng(3, "bench roster");
  std::vector<fs::RosterEntry> roster;
  fs::AdvertisedKeys adv;
  for (fs::ClientId u = 0; u < cfg.num_clients; ++u) {
    roster.push_back({fc::Ed25519PrivateKey::generate(rng).public_key(), std::nullopt});
    adv.ids.push_back(u);
    fc::Digest32 d{};
    rng.fill(d);
    adv.digests.push_back(d);
  }
  cfg.roster = fs::make_roster(std::move(roster));
  for (auto _ : st) benchmark::DoNotOptimize(fs::graph_seed(cfg, adv));
}
BENCHMARK(BM_GraphSeed)->DenseRange(12, 16, 2)->Unit(benchmark::kMillisecond);

// Ed25519 through EVP: one signature per client per round, k verifications per client
// and n at the server.
void BM_Ed25519(benchmark::State& st) {
  fc::DeterministicRandom rng(4, "bench ed25519");
  const auto key = fc::Ed25519PrivateKey::generate(rng);
  const fc::Bytes msg(140, 7);  // a round-keys message is 32 + 32 + 4 + 32 + 32 + domain bytes
  const auto sig = key.sign(msg);
  const auto pk = key.public_key();
  for (auto _ : st) {
    if (st.range(0) == 0) {
      benchmark::DoNotOptimize(key.sign(msg));
    } else {
      benchmark::DoNotOptimize(fc::ed25519_verify(pk, msg, sig));
    }
  }
  st.SetLabel(st.range(0) == 0 ? "sign" : "verify");
}
BENCHMARK(BM_Ed25519)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

fs::SecAggParameters params_for(std::uint32_t n) {
  static std::map<std::uint32_t, fs::SecAggParameters> cache;
  auto it = cache.find(n);
  if (it == cache.end()) {
    it = cache.emplace(n, fs::choose_parameters(n, {0.05, 0.30, fs::AdversaryModel::kSemiHonest})).first;
  }
  return it->second;
}

std::vector<std::uint64_t> input_of(fs::ClientId u, std::uint64_t m) {
  fc::DeterministicRandom rng(u, "bench input");
  std::vector<std::uint64_t> x(m);
  rng.fill({reinterpret_cast<std::uint8_t*>(x.data()), x.size() * 8});
  for (auto& w : x) w &= (1u << 20) - 1;  // 20-bit encoded values, as FixedPointCodec makes
  return x;
}

void BM_SecAggRound(benchmark::State& st) {
  const auto n = static_cast<std::uint32_t>(st.range(0));
  const auto m = static_cast<std::uint64_t>(st.range(1));
  const auto drop_pct = static_cast<std::uint32_t>(st.range(2));
  const auto p = params_for(n);
  fs::RoundConfig cfg;
  fc::DeterministicRandom srng(n * 31 + drop_pct, "bench session");
  srng.fill(cfg.session_id);
  cfg.round = 1;
  cfg.num_clients = n;
  cfg.vector_length = m;
  cfg.word_bits = 32;
  cfg.params = p;
  cfg.graph_seed_work = fs::kDefaultGraphSeedWork;
  // Drop floor(rate * n) clients, chosen by a seeded shuffle, before MaskedInputCollection.
  fs::DropoutSchedule sched = fs::DropoutSchedule::none(n);
  std::vector<fs::ClientId> order(n);
  for (fs::ClientId u = 0; u < n; ++u) order[u] = u;
  fc::DeterministicRandom drng(n + drop_pct, "bench dropouts");
  for (std::size_t i = n - 1; i > 0; --i) std::swap(order[i], order[drng.uniform_below(i + 1)]);
  const std::uint32_t drops = n * drop_pct / 100;
  for (std::uint32_t i = 0; i < drops; ++i) sched.drop_before[order[i]] = fs::Stage::kMaskedInputCollection;

  fs::DriverReport rep;
  for (auto _ : st) {
    rep = fs::run_secagg_round_streaming(cfg, [m](fs::ClientId u) { return input_of(u, m); }, sched, 9);
  }
  const auto* r = std::get_if<fs::RoundResult>(&rep.outcome);
  if (r == nullptr) {
    st.SkipWithError(("round aborted: " + std::get<fs::RoundAborted>(rep.outcome).reason).c_str());
    return;
  }
  std::vector<std::uint64_t> truth(m, 0);
  for (fs::ClientId u : r->survivors) {
    const auto x = input_of(u, m);
    for (std::uint64_t i = 0; i < m; ++i) truth[i] = (truth[i] + x[i]) & 0xffffffffu;
  }
  if (truth != r->sum) {
    st.SkipWithError("unmasked sum differs from the plain sum");
    return;
  }
  // Mask-expansion bounds: a client expands k + 1 masks; the server one self mask per
  // survivor plus one pairwise mask per (dropped, surviving neighbour) pair.
  if (!rep.graph) {
    st.SkipWithError("no graph in the report");
    return;
  }
  const auto& g = *rep.graph;
  std::vector<char> alive(n, 0);
  for (fs::ClientId u : r->survivors) alive[u] = 1;
  std::uint64_t server_masks = r->survivors.size();
  for (fs::ClientId d = 0; d < n; ++d) {
    if (alive[d]) continue;
    for (fs::ClientId w : g.neighbours(d)) server_masks += alive[w] ? 1 : 0;
  }
  const double thr = aes_ctr_bytes_per_second();
  const double client_bound_ms = static_cast<double>(fs::mask_expansion_bytes(p.degree + 1, m, 4)) / thr * 1e3;
  const double server_bound_ms = static_cast<double>(fs::mask_expansion_bytes(server_masks, m, 4)) / thr * 1e3;
  std::uint64_t up = 0, down = 0;
  for (fs::ClientId u = 0; u < n; ++u) {
    up += rep.bytes_up[u];
    down += rep.bytes_down[u];
  }
  // Client time: mean over the survivors, the clients that did all the work (the dropped
  // ones stopped after round 1). Bytes: mean over all n clients.
  double survivor_seconds = 0;
  for (fs::ClientId u : r->survivors) survivor_seconds += rep.client_seconds[u];
  const double active = static_cast<double>(n);
  st.counters["k"] = p.degree;
  st.counters["t"] = p.threshold;
  st.counters["client_ms"] = survivor_seconds / static_cast<double>(r->survivors.size()) * 1e3;
  st.counters["client_max_ms"] = rep.client_seconds_max * 1e3;
  st.counters["client_bound_ms"] = client_bound_ms;
  st.counters["server_ms"] = rep.server_seconds * 1e3;
  st.counters["server_bound_ms"] = server_bound_ms;
  st.counters["up_KB_per_client"] = static_cast<double>(up) / active / 1e3;
  st.counters["down_KB_per_client"] = static_cast<double>(down) / active / 1e3;
  st.counters["server_MB"] = static_cast<double>(up + down) / 1e6;
  st.counters["server_held_KB"] = static_cast<double>(rep.max_server_buffered_bytes) / 1e3;
  st.counters["survivors"] = static_cast<double>(r->survivors.size());
}

void round_args(benchmark::internal::Benchmark* b) {
  b->Args({20, 300000, 10});  // the simulator's typical round: ~20 clients, ~300k floats
  for (std::int64_t n : {100, 500, 1000}) {
    for (std::int64_t m : {10000, 100000, 1000000}) {
      for (std::int64_t d : {0, 10, 30}) b->Args({n, m, d});
    }
  }
}
BENCHMARK(BM_SecAggRound)->Apply(round_args)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
