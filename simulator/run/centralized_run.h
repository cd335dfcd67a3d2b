#pragma once
// The centralized baseline (federation.mode = "centralized"): the same LoRA (base, layout,
// θ_0 from run.seed, [client] optimizer settings) trained on the POOLED training windows of
// every user, with as many example passes per "round" as a federated cohort makes in
// expectation, θ ← θ + Δ each round, and the federated run's evaluation and reports. The
// usual upper reference for federated training on non-IID users (McMahan et al. 2017 §3
// compare FedAvg against the same model trained on the pooled data).
#include <cstdint>
#include <span>

#include "simulator/config/sim_config.h"
#include "simulator/run/simulation.h"

namespace fedlora::sim {

/// Examples local training (client/train/local_trainer.h `train_local`) processes on `n`
/// windows: `epochs` passes of ⌈n/B⌉ batches (the last one of a pass n − B(⌈n/B⌉ − 1) long),
/// stopped after `max_steps` batches when max_steps > 0. 0 when n = 0.
/// Throws std::invalid_argument if epochs or batch_size < 1, or n or max_steps < 0.
std::int64_t local_examples(std::int64_t n, int epochs, int batch_size, int max_steps);

/// Examples a cohort of `cohort_size` users drawn uniformly without replacement processes
/// in one round, in expectation: cohort_size × mean over users of local_examples(n_u, ...),
/// rounded to the nearest integer (at most cohort_size × max_steps × batch_size when
/// max_steps > 0). `train_examples` holds n_u, the training windows of every user.
/// Throws std::invalid_argument on an empty population or the errors of local_examples.
std::int64_t centralized_examples_per_round(std::span<const std::int64_t> train_examples, int cohort_size, int epochs,
                                            int batch_size, int max_steps);

/// Runs the centralized baseline of `config` (federation.mode = "centralized"). Each round r
/// draws centralized_examples_per_round windows from the pool, without replacement within a
/// pass over the pool (a seeded permutation per pass, seed derived from run.seed and r), and
/// trains them in shuffled batches of client.batch_size (one pass, Adam/SGD state fresh each
/// round, as on a device). Evaluates every federation.eval_every rounds and after the last,
/// exactly as run_simulation does, and writes metrics.jsonl (the federated fields that mean
/// something here: round, cohort = contributors = 1, aborted, update_norm = ‖Δ‖₂, bytes 0,
/// train_loss, train_tokens, eval, wall_s; plus "mode", "examples", "steps"), summary.json
/// (with "centralized") and adapter/; then personalisation if asked (personalization.h).
/// Single training thread: deterministic for a seed, whatever run.threads. No checkpoints.
/// Throws ResumeError if options.resume, ConfigError if the mode is not "centralized", and
/// the errors of run_simulation.
SimulationSummary run_centralized(const SimConfig& config, const ProgressFn& progress, const RunOptions& options = {});

}  // namespace fedlora::sim
