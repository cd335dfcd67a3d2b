// Privacy accounting of DP-FTRL: Gaussian tree aggregation without sampling.
//
// Source: P. Kairouz, B. McMahan, S. Song, O. Thakkar, A. Thakurta, Z. Xu, "Practical and
// Private (Deep) Learning without Sampling or Shuffling", ICML 2021 (arXiv:2103.00039),
// Appendix D; the same analysis as TensorFlow Privacy's
// tensorflow_privacy/privacy/analysis/tree_aggregation_accountant.py
// (compute_rdp_tree_restart, compute_rdp_single_tree, compute_zcdp_single_tree).
//
// Every tree node is the sum of the leaves (rounds) below it plus N(0, σ²S²) noise, where
// S bounds one user's contribution to one leaf. Releasing all nodes is a Gaussian mechanism
// whose squared L2 sensitivity (in units of S) is Σ_nodes c_node², c_node = how many of
// the user's participations fall under the node. Hence RDP(α) = α·Σ c²/(2σ²) and zCDP
// ρ = Σ c²/(2σ²) (Bun & Steinke 2016). Every prefix sum DP-FTRL releases is a
// post-processing of the nodes.
//  * Tree restart (the paper's TreeRestart, one participation per tree): Σ c² of a tree of
//    n leaves is its depth ⌊log₂ n⌋ + 1 (the leaf and its ancestors), summed over trees.
//  * One tree (or each tree) with at most P participations per user at least B leaves
//    apart (min_separation: a user in leaves x < y has y − x − 1 ≥ B): the worst Σ c² is
//    found by dynamic programming over the binary decomposition (Appendix D.2;
//    tree_sensitivity_square_sum).
// No amplification by sampling is used, so the guarantee holds also against an adversary
// who knows who took part in which round — as long as the node noise is secret from it
// (with central noise the coordinator adds it, so it is not covered).
// Neighbouring relation: add/remove one user's whole data (all of their participations).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace fedlora::privacy {

/// Depth of a binary tree over n leaves, ⌊log₂ n⌋ + 1 (n ≥ 1); 0 for n = 0: the number of
/// nodes (leaf and ancestors) that contain the worst leaf. Throws on n < 0.
std::int64_t tree_depth(std::int64_t leaves);

/// Worst-case Σ_nodes c_node² over all placements of at most `max_participations`
/// (P ≥ 0) participations in a tree of `leaves` (≥ 0) leaves, consecutive participations
/// at least `min_separation` (B ≥ 0) leaves apart; 0 when no participation fits
/// (P = 0 or leaves = 0). Cost O(P² B³ log leaves) time, O(P B² log leaves) memory: meant
/// for the FL scale of hundreds to thousands of rounds. Throws InvalidPrivacyParameter on
/// negative input.
std::int64_t tree_sensitivity_square_sum(std::int64_t max_participations,
                                         std::int64_t min_separation, std::int64_t leaves);

/// RDP of DP-FTRL with tree restarts, one participation per user per tree:
/// rdp(α) = α Σ_i tree_depth(steps_per_tree[i]) / (2σ²). σ ≥ 0 (σ = 0 → +∞); every
/// entry ≥ 0 and at least one entry; α = ∞ → +∞. Throws InvalidPrivacyParameter.
std::vector<double> tree_restart_rdp(double noise_multiplier,
                                     std::span<const std::int64_t> steps_per_tree,
                                     std::span<const double> orders);

/// RDP of DP-FTRL with independent trees of the given sizes, each user at most
/// max_participations times per tree with min_separation between participations:
/// rdp(α) = α Σ_i tree_sensitivity_square_sum(P, B, steps_per_tree[i]) / (2σ²).
/// With P = 1 this equals tree_restart_rdp; with one tree it is TF Privacy's
/// compute_rdp_single_tree. Throws InvalidPrivacyParameter.
std::vector<double> tree_aggregation_rdp(double noise_multiplier,
                                         std::span<const std::int64_t> steps_per_tree,
                                         std::int64_t max_participations,
                                         std::int64_t min_separation,
                                         std::span<const double> orders);

/// zCDP ρ = tree_sensitivity_square_sum(P, B, total_steps) / (2σ²) of one tree.
/// σ = 0 → +∞. Throws InvalidPrivacyParameter.
double single_tree_zcdp(double noise_multiplier, std::int64_t total_steps,
                        std::int64_t max_participations, std::int64_t min_separation);

/// Tree sizes when a tree of `restart_every` leaves (≥ 1) is restarted over `total_steps`
/// (≥ 0) rounds: ⌊T/N⌋ trees of N leaves and one of T mod N if nonzero; {0} for T = 0.
std::vector<std::int64_t> restart_schedule(std::int64_t total_steps, std::int64_t restart_every);

}  // namespace fedlora::privacy
