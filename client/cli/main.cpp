// fedlora-client: the device runtime. Checks in with a coordinator, trains the round's LoRA
// adapter on the device's own text, and sends only its (clipped, noised, masked) update.
#include <CLI/CLI.hpp>
#include <signal.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include "client/runtime/device_data.h"
#include "client/runtime/device_runtime.h"
#include "client/runtime/device_state.h"
#include "coordinator/config/job_config.h"
#include "coordinator/protocol/payload.h"
#include "lora/format/gguf_reader.h"
#include "lora/model/base_model.h"
#include "lora/model/runtime.h"
#include "lora/tokenizer/text_codec.h"

namespace {
std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

std::string read_token(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the token file " + path);
  std::string t;
  in >> t;
  if (t.empty()) throw std::runtime_error("the token file " + path + " is empty");
  return t;
}
}  // namespace

int main(int argc, char** argv) {
  fedlora::lora::ensure_fast_blas_kernels(argv);
  using namespace fedlora;
  CLI::App app{"fedlora-client: a device that takes part in federated LoRA rounds"};
  app.require_subcommand(1);
  client::LinkOptions link;
  client::RuntimeOptions rt;
  std::string base_path = "models/base.gguf", data_path, state_dir, token_file, quantize = "q8_0";
  double dp_epsilon = 8.0, dp_delta = 1e-5;
  int threads = 1;
  double secagg_corrupt = 0.05, secagg_dropout = 0.10;  // the job defaults of [secagg]
  bool require_consistency = false;
  auto* run = app.add_subcommand("run", "check in, train and report until the job ends");
  run->add_option("--coordinator", link.address, "coordinator address host:port")->required();
  run->add_option("--base", base_path, "the base model GGUF (must be the job's: its SHA-256 is checked)");
  run->add_option("--data", data_path, "the device's text: a file, a directory, or JSONL of one user")->required();
  run->add_option("--state", state_dir, "state directory: privacy ledger, identity, last global adapter")->required();
  run->add_option("--device-id", rt.device_id, "this device's id (its certificate CN or token-file id)")->required();
  run->add_option("--ca", link.ca, "CA certificate that signed the coordinator's TLS certificate");
  run->add_option("--cert", link.cert, "client certificate (mTLS)");
  run->add_option("--key", link.key, "client private key (mTLS)");
  run->add_option("--token", token_file, "file holding this device's bearer token");
  run->add_option("--server-name", link.server_name_override, "TLS name to verify instead of the host");
  run->add_flag("--insecure", link.insecure, "plaintext gRPC (test deployments only)");
  run->add_option("--dp-epsilon", dp_epsilon, "this device's lifetime example-level budget epsilon (DP-SGD rounds)");
  run->add_option("--dp-delta", dp_delta, "its delta");
  run->add_option("--max-rounds", rt.max_rounds, "stop after reporting in N rounds (0 = until the job ends)");
  run->add_option("--threads", threads, "compute threads for local training");
  double memory_budget_mb = 0;
  run->add_option("--memory-budget-mb", memory_budget_mb,
                  "MB local training may use beyond runtime and base weights; micro-batches and activation "
                  "checkpointing are chosen to fit, tasks that cannot fit are refused (0 = no budget)")
      ->check(CLI::NonNegativeNumber);
  std::string base_matmul = "fp32";
  run->add_option("--base-matmul", base_matmul, "base products in local training: fp32 | int8")
      ->check(CLI::IsMember({"fp32", "int8"}));
  run->add_option("--quantize", quantize, "weight type the base is held in: f32 | f16 | q8_0 | q4_0");
  run->add_option("--secagg-corrupt-fraction", secagg_corrupt,
                  "SecAgg policy: fraction of colluding devices the round's (k, t) must withstand");
  run->add_option("--secagg-dropout-fraction", secagg_dropout,
                  "SecAgg policy: dropout budget (sets how many live neighbours this device requires)");
  run->add_flag("--require-consistency-check", require_consistency,
                "SecAgg policy: refuse rounds without the consistency check (malicious coordinator)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (!link.cert.empty() != !link.key.empty()) throw std::runtime_error("--cert and --key go together");
    if (!token_file.empty()) link.token = read_token(token_file);
    if (link.token.empty() && link.cert.empty())
      throw std::runtime_error("give --token FILE or --cert/--key: the coordinator refuses unauthenticated devices");
    if (link.insecure && !link.cert.empty()) throw std::runtime_error("--cert needs TLS; drop --insecure");
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    lora::set_compute_threads(threads);
    lora::keep_freed_memory_in_heap();  // steps reuse their activation buffers
    const auto file = lora::gguf::GgufFile::open(base_path);
    const auto tokenizer = lora::TextCodec::from_gguf(file);
    client::DeviceContext device;
    device.base = lora::load_base_model(base_path, config::parse_weight_type(quantize));
    device.base_model_sha256 = protocol::sha256_of_file(base_path);
    const auto examples = client::device_examples(rt.device_id, client::load_device_texts(data_path), tokenizer,
                                                  device.base->config.context_length);
    device.train_examples = &examples.train;
    auto state = client::DeviceState::open(state_dir, rt.device_id);
    device.ledger = &state.ledger();
    device.privacy = client::DevicePrivacy{rt.device_id, {dp_epsilon, dp_delta}};
    device.identity = &state.identity();
    if (memory_budget_mb > 0) device.memory_budget_mb = memory_budget_mb;
    device.base_gemm = lora::parse_base_gemm(base_matmul);
    device.secagg_policy = secagg::ClientPolicy::for_threat(secagg::ThreatModel{
        secagg_corrupt, secagg_dropout,
        require_consistency ? secagg::AdversaryModel::kSemiMalicious : secagg::AdversaryModel::kSemiHonest});
    std::cout << rt.device_id << ": " << examples.train.size() << " training windows, base sha256 "
              << protocol::to_hex(device.base_model_sha256).substr(0, 16) << "…" << std::endl;
    client::CoordinatorLink coordinator(link);
    client::DeviceRuntime runtime(rt, coordinator, device, &state);
    runtime.log = [](const std::string& s) { std::cout << s << std::endl; };
    const auto exit = runtime.run(g_stop);
    switch (exit) {
      case client::RuntimeExit::kJobFinished: std::cout << rt.device_id << ": the job is finished" << std::endl; break;
      case client::RuntimeExit::kMaxRounds: std::cout << rt.device_id << ": reported in --max-rounds rounds" << std::endl; break;
      case client::RuntimeExit::kStopped: std::cout << rt.device_id << ": stopped" << std::endl; break;
      case client::RuntimeExit::kBudgetSpent: std::cout << rt.device_id << ": privacy budget spent" << std::endl; break;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "fedlora-client: error: " << e.what() << std::endl;
    return 1;
  }
}
