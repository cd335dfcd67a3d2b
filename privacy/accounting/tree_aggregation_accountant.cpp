#include "privacy/accounting/tree_aggregation_accountant.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <string>
#include <unordered_map>

#include "privacy/accounting/rdp.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

constexpr std::int64_t kInfeasible = std::numeric_limits<std::int64_t>::min();

void check_non_negative(std::int64_t v, const char* name, const char* where) {
  if (v < 0) {
    throw InvalidPrivacyParameter(std::string(where) + ": " + name + " " + std::to_string(v) +
                                  " must be >= 0");
  }
}

void check_sigma(double sigma, const char* where) {
  if (!(sigma >= 0.0) || std::isinf(sigma)) {
    throw InvalidPrivacyParameter(std::string(where) + ": noise multiplier " +
                                  std::to_string(sigma) + " must be finite and >= 0");
  }
}

// Dynamic programme of Kairouz et al. 2021 App. D.2. State: p participations placed in a
// (sub)tree of `size` leaves, the first no earlier than `start` leaves into it, and the
// next participation after the subtree no earlier than `end` leaves after it (so the
// separation B is respected across subtree borders). Value: the worst Σ c² over the
// nodes inside the subtree, or kInfeasible.
class SensitivityProgramme {
 public:
  explicit SensitivityProgramme(std::int64_t min_separation) : sep_(min_separation) {}

  std::int64_t worst(std::int64_t p, std::int64_t start, std::int64_t end, std::int64_t size) {
    if (!possible(p, start, end, size)) return kInfeasible;
    if (p == 0) return 0;
    if (size == 1) return p == 1 ? 1 : kInfeasible;
    const Key key{p, start, end, size};
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    // A full subtree (size a power of two) has a root node holding all p participations;
    // otherwise the "tree" is a forest: a full left subtree of the largest power of two
    // below size, and the rest.
    const bool full = std::has_single_bit(static_cast<std::uint64_t>(size));
    const std::int64_t left_size =
        full ? size / 2
             : static_cast<std::int64_t>(std::bit_floor(static_cast<std::uint64_t>(size)));
    std::int64_t best = kInfeasible;
    for (std::int64_t right_p = 0; right_p <= p; ++right_p) {
      for (std::int64_t gap = 0; gap <= sep_; ++gap) {
        const std::int64_t left = worst(p - right_p, start, gap, left_size);
        if (left == kInfeasible) continue;
        const std::int64_t right = worst(right_p, gap, end, size - left_size);
        if (right == kInfeasible) continue;
        best = std::max(best, left + right);
      }
    }
    const std::int64_t value = best == kInfeasible ? kInfeasible : best + (full ? p * p : 0);
    memo_.emplace(key, value);
    return value;
  }

  [[nodiscard]] bool possible(std::int64_t p, std::int64_t start, std::int64_t end,
                              std::int64_t size) const {
    return start + (sep_ + 1) * p <= size + end;
  }

 private:
  struct Key {
    std::int64_t p, start, end, size;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      std::uint64_t h = 1469598103934665603ull;
      for (std::int64_t v : {k.p, k.start, k.end, k.size}) {
        h ^= static_cast<std::uint64_t>(v);
        h *= 1099511628211ull;
      }
      return static_cast<std::size_t>(h);
    }
  };
  std::int64_t sep_;
  std::unordered_map<Key, std::int64_t, KeyHash> memo_;
};

std::vector<double> gaussian_rdp_curve(double sigma, double sum_sensitivity_square,
                                       std::span<const double> orders) {
  validate_orders(orders);
  std::vector<double> rdp(orders.size());
  for (std::size_t i = 0; i < orders.size(); ++i) {
    if (sum_sensitivity_square == 0.0) {
      rdp[i] = 0.0;
    } else if (sigma == 0.0 || std::isinf(orders[i])) {
      rdp[i] = std::numeric_limits<double>::infinity();
    } else {
      rdp[i] = orders[i] * sum_sensitivity_square / (2.0 * sigma * sigma);
    }
  }
  return rdp;
}

void check_steps_list(std::span<const std::int64_t> steps, const char* where) {
  if (steps.empty()) {
    throw InvalidPrivacyParameter(std::string(where) +
                                  ": steps_per_tree must list at least one tree");
  }
  for (std::int64_t s : steps) check_non_negative(s, "tree size", where);
}

}  // namespace

std::int64_t tree_depth(std::int64_t leaves) {
  check_non_negative(leaves, "leaves", "tree_depth");
  if (leaves == 0) return 0;
  return static_cast<std::int64_t>(std::bit_width(static_cast<std::uint64_t>(leaves)));
}

std::int64_t tree_sensitivity_square_sum(std::int64_t max_participations,
                                         std::int64_t min_separation, std::int64_t leaves) {
  constexpr const char* kWhere = "tree_sensitivity_square_sum";
  check_non_negative(max_participations, "max_participations", kWhere);
  check_non_negative(min_separation, "min_separation", kWhere);
  check_non_negative(leaves, "leaves", kWhere);
  SensitivityProgramme dp(min_separation);
  // The first participation may be at leaf 0; after the last leaf nothing follows, which
  // the programme expresses as end = B (a "virtual" next participation B leaves later).
  std::int64_t p = max_participations;
  while (p > 0 && !dp.possible(p, 0, min_separation, leaves)) --p;
  std::int64_t best = 0;
  for (std::int64_t k = 1; k <= p; ++k) {
    best = std::max(best, dp.worst(k, 0, min_separation, leaves));
  }
  return best;
}

std::vector<double> tree_restart_rdp(double noise_multiplier,
                                     std::span<const std::int64_t> steps_per_tree,
                                     std::span<const double> orders) {
  check_sigma(noise_multiplier, "tree_restart_rdp");
  check_steps_list(steps_per_tree, "tree_restart_rdp");
  double sum = 0.0;
  for (std::int64_t s : steps_per_tree) sum += static_cast<double>(tree_depth(s));
  return gaussian_rdp_curve(noise_multiplier, sum, orders);
}

std::vector<double> tree_aggregation_rdp(double noise_multiplier,
                                         std::span<const std::int64_t> steps_per_tree,
                                         std::int64_t max_participations,
                                         std::int64_t min_separation,
                                         std::span<const double> orders) {
  check_sigma(noise_multiplier, "tree_aggregation_rdp");
  check_steps_list(steps_per_tree, "tree_aggregation_rdp");
  double sum = 0.0;
  for (std::int64_t s : steps_per_tree) {
    sum += static_cast<double>(tree_sensitivity_square_sum(max_participations, min_separation, s));
  }
  return gaussian_rdp_curve(noise_multiplier, sum, orders);
}

double single_tree_zcdp(double noise_multiplier, std::int64_t total_steps,
                        std::int64_t max_participations, std::int64_t min_separation) {
  check_sigma(noise_multiplier, "single_tree_zcdp");
  const auto sum = static_cast<double>(
      tree_sensitivity_square_sum(max_participations, min_separation, total_steps));
  if (sum == 0.0) return 0.0;
  if (noise_multiplier == 0.0) return std::numeric_limits<double>::infinity();
  return sum / (2.0 * noise_multiplier * noise_multiplier);
}

std::vector<std::int64_t> restart_schedule(std::int64_t total_steps, std::int64_t restart_every) {
  check_non_negative(total_steps, "total_steps", "restart_schedule");
  if (restart_every < 1) {
    throw InvalidPrivacyParameter("restart_schedule: restart_every " +
                                  std::to_string(restart_every) + " must be >= 1");
  }
  std::vector<std::int64_t> trees(static_cast<std::size_t>(total_steps / restart_every),
                                  restart_every);
  if (total_steps % restart_every != 0 || total_steps == 0) {
    trees.push_back(total_steps % restart_every);
  }
  return trees;
}

}  // namespace fedlora::privacy
