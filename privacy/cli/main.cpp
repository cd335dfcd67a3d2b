// fedlora-privacy: privacy accounting from the command line.
//
//   fedlora-privacy epsilon --noise-multiplier S --sample-rate Q --steps T --delta D
//                           [--orders LIST] [--accountant rdp|pld] [--max-participations M]
//                           [--json]
//       prints ε against the released models (amplified by sampling; valid only while
//       cohort membership is secret) and ε against the coordinator (no amplification) at
//       the expected q·T participations, at all T rounds and at the cap M.
//   fedlora-privacy epsilon --mechanism dp_ftrl --noise-multiplier S --steps T --delta D
//                           [--restart-every N] [--max-participations P]
//                           [--min-separation B] [--orders LIST] [--json]
//       DP-FTRL tree aggregation (Kairouz et al. 2021), no sampling.
//   fedlora-privacy noise   --epsilon E --delta D --sample-rate Q --steps T
//                           [--orders LIST] [--json]
//   fedlora-privacy ledger  --path FILE --device ID [--json]
//
// Exit code 0 only on success; errors go to stderr on one line.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdint>
#include <exception>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <filesystem>
#include <string>
#include <vector>

#include "privacy/accounting/calibration.h"
#include "privacy/accounting/epsilon.h"
#include "privacy/accounting/pld.h"
#include "privacy/accounting/rdp.h"
#include "privacy/cli/adversary_report.h"
#include "privacy/cli/orders_arg.h"
#include "privacy/errors.h"
#include "privacy/ledger/privacy_ledger.h"

namespace {

using namespace fedlora::privacy;
using nlohmann::json;

constexpr const char* kProgram = "fedlora-privacy";

// JSON has no infinity: an infinite ε is written as null.
json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string fmt(double v) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

struct SgmArgs {
  double noise_multiplier = 0.0;
  double sample_rate = 0.0;
  std::int64_t steps = 0;
  double delta = 0.0;
  double epsilon = 0.0;
  std::string orders;
  std::string accountant = "rdp";
  double discretization = 1e-4;
  bool json = false;
  std::string mechanism = "sampled_gaussian";
  std::int64_t max_participations = 0;
  std::int64_t restart_every = 0;
  std::int64_t min_separation = 0;
  // Set for options the user gave (CLI11 cannot tell a default from an explicit value).
  CLI::Option* sample_rate_opt = nullptr;
  CLI::Option* accountant_opt = nullptr;
  CLI::Option* max_participations_opt = nullptr;
  CLI::Option* restart_every_opt = nullptr;
  CLI::Option* min_separation_opt = nullptr;
};

bool given(const CLI::Option* o) { return o != nullptr && o->count() > 0; }

std::vector<double> orders_from(const std::string& list) {
  return list.empty() ? default_orders() : cli::parse_orders(list);
}

json released_model_json(double eps, double order, double sample_rate) {
  return {{"epsilon", number_or_null(eps)},
          {"optimal_order", number_or_null(order)},
          {"adversary", "sees the released models only"},
          {"assumption", "amplification by Poisson sampling with q = " + fmt(sample_rate) +
                             "; valid only while cohort membership stays secret (not against "
                             "the coordinator)"}};
}

int run_epsilon_ftrl(const SgmArgs& a) {
  if (given(a.sample_rate_opt)) {
    throw InvalidPrivacyParameter("--sample-rate does not apply to --mechanism dp_ftrl (no "
                                  "sampling); drop it");
  }
  if (given(a.accountant_opt) && a.accountant != "rdp") {
    throw InvalidPrivacyParameter("--accountant pld does not apply to --mechanism dp_ftrl; its "
                                  "exact epsilon (analytic Gaussian) is always reported");
  }
  const auto orders = orders_from(a.orders);
  const auto r = cli::ftrl_report(a.noise_multiplier, a.steps, a.delta, a.restart_every,
                                  given(a.max_participations_opt) ? a.max_participations : 1,
                                  a.min_separation, orders);
  if (a.json) {
    std::cout << r.json.dump(2) << "\n";
  } else {
    std::cout << r.text;
  }
  return 0;
}

int run_epsilon_pld(const SgmArgs& a) {
  if (!a.orders.empty()) {
    throw InvalidPrivacyParameter("--orders applies to the RDP accountant only; drop it or use "
                                  "--accountant rdp");
  }
  PldOptions options;
  options.value_discretization_interval = a.discretization;
  PldAccountant acc(options);
  acc.compose_poisson_gaussian(a.sample_rate, a.noise_multiplier, a.steps);
  const double eps = acc.epsilon(a.delta);
  const auto coordinator = cli::coordinator_report(a.sample_rate, a.noise_multiplier, a.steps,
                                                   a.delta, a.max_participations,
                                                   default_orders());
  if (a.json) {
    json out = {{"epsilon", number_or_null(eps)},
                {"optimal_order", nullptr},
                {"delta", a.delta},
                {"noise_multiplier", a.noise_multiplier},
                {"sample_rate", a.sample_rate},
                {"steps", a.steps},
                {"value_discretization_interval", a.discretization},
                {"accountant", "pld-connect-the-dots"},
                {"mechanism", "sampled_gaussian"},
                {"released_model", released_model_json(eps, std::nan(""), a.sample_rate)},
                {"coordinator", coordinator.json}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "epsilon = " << fmt(eps) << " at delta = " << fmt(a.delta)
              << " (PLD accountant, discretization " << fmt(a.discretization) << ")\n"
              << cli::released_model_caveat(a.sample_rate) << coordinator.text;
  }
  return 0;
}

int run_epsilon(const SgmArgs& a) {
  if (a.mechanism == "dp_ftrl") return run_epsilon_ftrl(a);
  if (!given(a.sample_rate_opt)) {
    throw InvalidPrivacyParameter("--sample-rate is required for --mechanism sampled_gaussian");
  }
  if (given(a.restart_every_opt) || given(a.min_separation_opt)) {
    throw InvalidPrivacyParameter("--restart-every and --min-separation apply to --mechanism "
                                  "dp_ftrl only");
  }
  if (a.accountant == "pld") return run_epsilon_pld(a);
  const auto orders = orders_from(a.orders);
  const auto rdp = compute_rdp(a.sample_rate, a.noise_multiplier, a.steps, orders);
  const EpsilonResult r = epsilon_from_rdp(orders, rdp, a.delta);
  const auto coordinator = cli::coordinator_report(a.sample_rate, a.noise_multiplier, a.steps,
                                                   a.delta, a.max_participations, orders);
  if (a.json) {
    json out = {{"epsilon", number_or_null(r.epsilon)},
                {"optimal_order", number_or_null(r.optimal_order)},
                {"delta", a.delta},
                {"noise_multiplier", a.noise_multiplier},
                {"sample_rate", a.sample_rate},
                {"steps", a.steps},
                {"num_orders", orders.size()},
                {"accountant", "rdp-poisson-subsampled-gaussian"},
                {"conversion", "balle2020-thm21"},
                {"mechanism", "sampled_gaussian"},
                {"released_model", released_model_json(r.epsilon, r.optimal_order, a.sample_rate)},
                {"coordinator", coordinator.json}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "epsilon = " << fmt(r.epsilon) << " at delta = " << fmt(a.delta)
              << " (optimal RDP order " << fmt(r.optimal_order) << ")\n"
              << cli::released_model_caveat(a.sample_rate) << coordinator.text;
  }
  return 0;
}

int run_noise(const SgmArgs& a) {
  const auto orders = orders_from(a.orders);
  const NoiseCalibration c =
      noise_for_epsilon(a.epsilon, a.delta, a.sample_rate, a.steps, orders);
  if (a.json) {
    json out = {{"noise_multiplier", c.noise_multiplier},
                {"epsilon", number_or_null(c.achieved.epsilon)},
                {"optimal_order", number_or_null(c.achieved.optimal_order)},
                {"target_epsilon", a.epsilon},
                {"delta", a.delta},
                {"sample_rate", a.sample_rate},
                {"steps", a.steps},
                {"bisection_iterations", c.iterations}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "noise multiplier = " << fmt(c.noise_multiplier) << " gives epsilon = "
              << fmt(c.achieved.epsilon) << " <= " << fmt(a.epsilon) << " at delta = "
              << fmt(a.delta) << " (optimal RDP order " << fmt(c.achieved.optimal_order)
              << ")\n";
  }
  return 0;
}

struct LedgerArgs {
  std::string path;
  std::string device;
  bool json = false;
};

int run_ledger(const LedgerArgs& a) {
  if (!std::filesystem::exists(a.path)) {
    throw LedgerError("ledger file '" + a.path + "' does not exist; check --path");
  }
  PrivacyLedger ledger = PrivacyLedger::open(a.path);
  const auto record = ledger.find(a.device);
  if (!record) {
    throw LedgerError("device '" + a.device + "' is not in ledger '" + a.path + "'");
  }
  const EpsilonResult spent = record->spent();
  if (a.json) {
    json out = {{"device_id", record->device_id},
                {"epsilon_spent", number_or_null(spent.epsilon)},
                {"optimal_order", number_or_null(spent.optimal_order)},
                {"epsilon_budget", record->budget.epsilon},
                {"delta", record->budget.delta},
                {"steps", record->steps},
                {"spends", record->spends}};
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "device " << record->device_id << ": epsilon spent " << fmt(spent.epsilon)
              << " of " << fmt(record->budget.epsilon) << " at delta " << fmt(record->budget.delta)
              << " (" << record->steps << " steps in " << record->spends << " rounds)\n";
  }
  return 0;
}

void add_sgm_options(CLI::App* cmd, SgmArgs& a, bool sample_rate_required) {
  a.sample_rate_opt = cmd->add_option("--sample-rate,-q", a.sample_rate,
                                      "Poisson sampling rate q per step (e.g. batch/dataset "
                                      "size; cohort/population)");
  if (sample_rate_required) a.sample_rate_opt->required();
  cmd->add_option("--steps,-T", a.steps, "number of steps (or rounds)")->required();
  cmd->add_option("--delta,-d", a.delta, "target delta, in (0, 1)")->required();
  cmd->add_option("--orders", a.orders,
                  "comma-separated RDP orders, e.g. 1.5,2,4,32,inf (default: 1.1..10.9 step "
                  "0.1, 11..63, 128, 256, 512, 1024)");
  cmd->add_flag("--json", a.json, "print the result as JSON");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fedlora privacy accounting: RDP of the Poisson-subsampled Gaussian mechanism "
               "(Mironov, Talwar, Zhang 2019) converted to (epsilon, delta) with Balle et al. "
               "2020 Thm 21",
               kProgram};
  app.require_subcommand(1);

  SgmArgs eps_args;
  auto* eps_cmd = app.add_subcommand("epsilon", "epsilon and optimal order for T steps");
  eps_cmd->add_option("--noise-multiplier,-s", eps_args.noise_multiplier,
                      "noise multiplier sigma (noise std / L2 sensitivity)")
      ->required();
  add_sgm_options(eps_cmd, eps_args, /*sample_rate_required=*/false);
  eps_args.accountant_opt =
      eps_cmd
          ->add_option("--accountant", eps_args.accountant,
                       "rdp (Mironov et al. 2019 + Balle et al. 2020, default) or pld "
                       "(connect-the-dots privacy loss distribution, tighter)")
          ->check(CLI::IsMember({"rdp", "pld"}));
  eps_cmd->add_option("--mechanism", eps_args.mechanism,
                      "sampled_gaussian (DP-SGD / DP-FedAvg with Poisson sampling, default; "
                      "--sample-rate required) or dp_ftrl (tree aggregation, no sampling)")
      ->check(CLI::IsMember({"sampled_gaussian", "dp_ftrl"}));
  eps_args.max_participations_opt = eps_cmd->add_option(
      "--max-participations", eps_args.max_participations,
      "sampled_gaussian: cap on participations per user for the coordinator figure (0 = none, "
      "default); dp_ftrl: participations per user per tree (default 1)");
  eps_args.restart_every_opt = eps_cmd->add_option(
      "--restart-every", eps_args.restart_every,
      "dp_ftrl: rounds per tree before a restart (default 0 = one tree)");
  eps_args.min_separation_opt = eps_cmd->add_option(
      "--min-separation", eps_args.min_separation,
      "dp_ftrl: rounds at least between two participations of a user (default 0)");
  eps_cmd->add_option("--discretization", eps_args.discretization,
                      "PLD grid spacing of privacy-loss values (default 1e-4)")
      ->check(CLI::PositiveNumber);

  SgmArgs noise_args;
  auto* noise_cmd =
      app.add_subcommand("noise", "smallest noise multiplier reaching a target epsilon (bisection)");
  noise_cmd->add_option("--epsilon,-e", noise_args.epsilon, "target epsilon > 0")->required();
  add_sgm_options(noise_cmd, noise_args, /*sample_rate_required=*/true);

  LedgerArgs ledger_args;
  auto* ledger_cmd = app.add_subcommand("ledger", "show a device's spent budget from its ledger");
  ledger_cmd->add_option("--path", ledger_args.path, "ledger file (SQLite)")->required();
  ledger_cmd->add_option("--device", ledger_args.device, "user/device id")->required();
  ledger_cmd->add_flag("--json", ledger_args.json, "print the result as JSON");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << kProgram << ": error: " << e.what() << " (run with --help for usage)\n";
    return e.get_exit_code() != 0 ? e.get_exit_code() : 2;
  }

  try {
    if (*eps_cmd) return run_epsilon(eps_args);
    if (*noise_cmd) return run_noise(noise_args);
    if (*ledger_cmd) return run_ledger(ledger_args);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    for (char& c : msg) {
      if (c == '\n') c = ' ';
    }
    std::cerr << kProgram << ": error: " << msg << "\n";
    return 1;
  }
  std::cerr << kProgram << ": error: no subcommand given (run with --help for usage)\n";
  return 2;
}
