#include "privacy/accounting/pld.h"

#include <unsupported/Eigen/FFT>

#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <numbers>
#include <string>

#include "privacy/accounting/log_math.h"
#include "privacy/errors.h"

namespace fedlora::privacy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr std::int64_t kMaxGridPoints = 50'000'000;

// Q(z) = P[N(0,1) > z] and Φ(z) = P[N(0,1) ≤ z], accurate in both tails.
double upper_tail(double z) { return 0.5 * std::erfc(z / std::numbers::sqrt2); }
double lower_tail(double z) { return 0.5 * std::erfc(-z / std::numbers::sqrt2); }

// z with Q(z) = p for tiny p, by bisection on log Q (monotone).
double upper_quantile(double log_p) {
  double lo = 0.0, hi = 40.0;
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    const double log_q = std::log(0.5) + logmath::log_erfc(mid / std::numbers::sqrt2);
    (log_q > log_p ? lo : hi) = mid;
  }
  return hi;
}

// log((1−q) + q·e^t), the log-likelihood ratio of the mixture against N(0, σ²).
double log_mixture_ratio(double q, double t) {
  if (q == 1.0) return t;
  return logmath::log_add(std::log1p(-q), std::log(q) + t);
}

PldPmf identity_pmf(double h) { return PldPmf{h, 0, {1.0}, 0.0}; }

// Moves at most tail/2 of mass from each end: the left part onto the first kept bucket
// (its loss goes up), the right part to +∞.
void truncate_tails(PldPmf& p, double tail) {
  if (tail <= 0.0 || p.probs.size() < 2) return;
  const double half = tail / 2;
  std::size_t left = 0;
  double left_mass = 0.0;
  while (left + 1 < p.probs.size() && left_mass + p.probs[left] <= half) {
    left_mass += p.probs[left++];
  }
  std::size_t right = p.probs.size();
  double right_mass = 0.0;
  while (right - 1 > left && right_mass + p.probs[right - 1] <= half) {
    right_mass += p.probs[--right];
  }
  std::vector<double> kept(p.probs.begin() + static_cast<std::ptrdiff_t>(left),
                           p.probs.begin() + static_cast<std::ptrdiff_t>(right));
  kept.front() += left_mass;
  p.probs = std::move(kept);
  p.lower += static_cast<std::int64_t>(left);
  p.infinity_mass += right_mass;
}

std::vector<double> convolve(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t n = a.size() + b.size() - 1;
  std::vector<double> out(n, 0.0);
  if (static_cast<double>(a.size()) * static_cast<double>(b.size()) <= 4e6) {
    for (std::size_t i = 0; i < a.size(); ++i) {
      for (std::size_t j = 0; j < b.size(); ++j) out[i + j] += a[i] * b[j];
    }
    return out;
  }
  std::size_t size = 1;
  while (size < n) size <<= 1;
  std::vector<double> pa(size, 0.0), pb(size, 0.0), prod;
  std::copy(a.begin(), a.end(), pa.begin());
  std::copy(b.begin(), b.end(), pb.begin());
  Eigen::FFT<double> fft;
  std::vector<std::complex<double>> fa, fb;
  fft.fwd(fa, pa);
  fft.fwd(fb, pb);
  for (std::size_t i = 0; i < fa.size(); ++i) fa[i] *= fb[i];
  fft.inv(prod, fa);
  // FFT rounding leaves ±1e-18-sized values; negative ones are set to 0 (probabilities).
  for (std::size_t i = 0; i < n; ++i) out[i] = std::max(prod[i], 0.0);
  return out;
}

// log Σ_k p_k e^{λk}: the log moment generating function of the bucket index, from the
// precomputed log p_k (−∞ for empty buckets).
double log_mgf(const std::vector<double>& log_probs, double lambda) {
  double m = -kInf;
  for (std::size_t k = 0; k < log_probs.size(); ++k) {
    m = std::max(m, log_probs[k] + lambda * static_cast<double>(k));
  }
  if (m == -kInf) return m;
  double s = 0.0;
  for (std::size_t k = 0; k < log_probs.size(); ++k) {
    s += std::exp(log_probs[k] + lambda * static_cast<double>(k) - m);
  }
  return m + std::log(s);
}

}  // namespace

PldPmf self_compose_pld(const PldPmf& p, std::int64_t times, double tail_mass_truncation) {
  if (times < 1) {
    throw InvalidPrivacyParameter("self_compose_pld: times " + std::to_string(times) +
                                  " must be >= 1");
  }
  if (times == 1) return p;
  const auto n = static_cast<std::int64_t>(p.probs.size());
  const double t = static_cast<double>(times);
  const std::int64_t full_hi = times * (n - 1);
  // Chernoff bounds on the index sum S of `times` draws: P[S ≥ u] ≤ e^{−λu} M(λ)^times.
  // The window [lo, hi] holds all but tail_mass_truncation of the mass.
  const double tail = tail_mass_truncation > 0.0 ? tail_mass_truncation : 1e-300;
  const double log_half_tail = std::log(tail / 2);
  std::vector<double> log_probs(p.probs.size());
  for (std::size_t k = 0; k < p.probs.size(); ++k) {
    log_probs[k] = p.probs[k] > 0.0 ? std::log(p.probs[k]) : -kInf;
  }
  std::int64_t hi = full_hi, lo = 0;
  for (int e = -36; e <= 4; ++e) {  // λ = ±10^{e/4}
    const double lambda = std::pow(10.0, e / 4.0);
    const double up = (t * log_mgf(log_probs, lambda) - log_half_tail) / lambda;
    if (std::isfinite(up) && up < static_cast<double>(hi)) hi = static_cast<std::int64_t>(std::ceil(up));
    const double down = (t * log_mgf(log_probs, -lambda) - log_half_tail) / -lambda;
    if (std::isfinite(down) && down > static_cast<double>(lo)) lo = static_cast<std::int64_t>(std::floor(down));
  }
  hi = std::clamp<std::int64_t>(hi, 0, full_hi);
  lo = std::clamp<std::int64_t>(lo, 0, hi);
  const std::int64_t window = hi - lo + 1;
  std::size_t size = 1;
  while (static_cast<std::int64_t>(size) < std::max(window, n)) size <<= 1;
  // Circular convolution power: mass outside the window (≤ tail) aliases into it, which
  // can only add mass; the same amount is also counted at +∞, as in dp_accounting.
  std::vector<double> padded(size, 0.0);
  for (std::int64_t k = 0; k < n; ++k) padded[static_cast<std::size_t>(k)] += p.probs[static_cast<std::size_t>(k)];
  Eigen::FFT<double> fft;
  std::vector<std::complex<double>> spectrum;
  fft.fwd(spectrum, padded);
  for (auto& c : spectrum) c = std::pow(c, static_cast<double>(times));
  std::vector<double> circular;
  fft.inv(circular, spectrum);
  PldPmf out;
  out.discretization = p.discretization;
  out.lower = p.lower * times + lo;
  out.probs.resize(static_cast<std::size_t>(window));
  for (std::int64_t i = 0; i < window; ++i) {
    const auto j = static_cast<std::size_t>((lo + i) % static_cast<std::int64_t>(size));
    out.probs[static_cast<std::size_t>(i)] = std::max(circular[j], 0.0);
  }
  out.infinity_mass =
      std::min(1.0, -std::expm1(t * std::log1p(-p.infinity_mass)) + tail_mass_truncation);
  return out;
}

double PldPmf::delta_for_epsilon(double epsilon) const {
  double delta = infinity_mass;
  for (std::size_t k = 0; k < probs.size(); ++k) {
    const double loss = static_cast<double>(lower + static_cast<std::int64_t>(k)) * discretization;
    if (loss > epsilon) delta += -std::expm1(epsilon - loss) * probs[k];
  }
  return std::min(delta, 1.0);
}

double PldPmf::epsilon_for_delta(double delta) const {
  if (infinity_mass > delta) return kInf;
  // Walk losses downwards keeping U = P[L ≥ ℓ] (incl. +∞) and W = Σ p e^{−ℓ}: on the
  // stretch below ℓ, δ(ε) = U − e^ε W, so ε = log((U − δ)/W) once that lands below ℓ.
  double mass_upper = infinity_mass, mass_lower = 0.0;
  for (std::size_t i = probs.size(); i-- > 0;) {
    const double loss = static_cast<double>(lower + static_cast<std::int64_t>(i)) * discretization;
    if (mass_upper > delta && mass_lower > 0.0 &&
        std::log((mass_upper - delta) / mass_lower) >= loss) {
      break;
    }
    mass_upper += probs[i];
    mass_lower += std::exp(-loss) * probs[i];
    if (mass_upper >= delta && mass_lower == 0.0) return std::max(0.0, loss);
  }
  if (mass_upper <= mass_lower + delta) return 0.0;
  return std::max(0.0, std::log((mass_upper - delta) / mass_lower));
}

PldPmf compose_pld(const PldPmf& a, const PldPmf& b, double tail_mass_truncation) {
  if (a.discretization != b.discretization) {
    throw InvalidPrivacyParameter("compose_pld: discretization intervals differ (" +
                                  std::to_string(a.discretization) + " vs " +
                                  std::to_string(b.discretization) + ")");
  }
  PldPmf out;
  out.discretization = a.discretization;
  out.lower = a.lower + b.lower;
  out.probs = convolve(a.probs, b.probs);
  out.infinity_mass = a.infinity_mass + b.infinity_mass - a.infinity_mass * b.infinity_mass;
  truncate_tails(out, tail_mass_truncation);
  return out;
}

double subsampled_gaussian_delta(double q, double sigma, bool remove_direction, double epsilon) {
  if (remove_direction) {
    if (q < 1.0 && epsilon <= std::log1p(-q)) return -std::expm1(epsilon);
    const double c = std::expm1(epsilon) + q;  // e^ε − (1 − q) > 0
    const double x = sigma * sigma * std::log(c / q) + 0.5;
    const double d = q * upper_tail((x - 1.0) / sigma) - c * upper_tail(x / sigma);
    return std::clamp(d, 0.0, 1.0);
  }
  if (q < 1.0 && epsilon >= -std::log1p(-q)) return 0.0;
  const double c = std::expm1(-epsilon) + q;  // e^{−ε} − (1 − q) > 0
  const double x = sigma * sigma * std::log(c / q) + 0.5;
  const double d = lower_tail(x / sigma) -
                   std::exp(epsilon) * ((1.0 - q) * lower_tail(x / sigma) +
                                        q * lower_tail((x - 1.0) / sigma));
  return std::clamp(d, 0.0, 1.0);
}

PldPmf subsampled_gaussian_pld(double q, double sigma, bool remove_direction,
                               const PldOptions& options) {
  const double h = options.value_discretization_interval;
  // x-range holding all but e^{bound} of the upper distribution's mass.
  const double z = upper_quantile(options.log_mass_truncation_bound - std::log(2.0));
  const double inv_2s2 = 1.0 / (2.0 * sigma * sigma);
  double eps_lo, eps_hi;
  if (remove_direction) {  // loss increasing in x; μ_U has components at 0 and 1
    eps_lo = log_mixture_ratio(q, (2.0 * (-sigma * z) - 1.0) * inv_2s2);
    eps_hi = log_mixture_ratio(q, (2.0 * (1.0 + sigma * z) - 1.0) * inv_2s2);
  } else {  // loss decreasing in x; μ_U = N(0, σ²)
    eps_hi = -log_mixture_ratio(q, (2.0 * (-sigma * z) - 1.0) * inv_2s2);
    eps_lo = -log_mixture_ratio(q, (2.0 * (sigma * z) - 1.0) * inv_2s2);
  }
  const auto k_lo = static_cast<std::int64_t>(std::floor(eps_lo / h));
  const auto k_hi = static_cast<std::int64_t>(std::ceil(eps_hi / h));
  if (k_hi - k_lo + 1 > kMaxGridPoints) {
    throw InvalidPrivacyParameter(
        "PLD accountant: the privacy-loss range [" + std::to_string(eps_lo) + ", " +
        std::to_string(eps_hi) + "] needs more than " + std::to_string(kMaxGridPoints) +
        " grid points at interval " + std::to_string(h) +
        "; raise value_discretization_interval or use the RDP accountant");
  }
  const std::size_t n = static_cast<std::size_t>(k_hi - k_lo + 1);
  std::vector<double> deltas(n);
  for (std::size_t i = 0; i < n; ++i) {
    const double eps = static_cast<double>(k_lo + static_cast<std::int64_t>(i)) * h;
    deltas[i] = subsampled_gaussian_delta(q, sigma, remove_direction, eps);
    if (i > 0) deltas[i] = std::min(deltas[i], deltas[i - 1]);  // δ(ε) is non-increasing
  }
  PldPmf pmf;
  pmf.discretization = h;
  pmf.lower = k_lo;
  pmf.infinity_mass = deltas.back();
  if (n == 1) {
    pmf.probs = {1.0 - deltas[0]};
    return pmf;
  }
  // Doroshenko et al. 2022, Algorithm 1 with a fixed gap h.
  pmf.probs.assign(n, 0.0);
  const double em1 = std::expm1(h), e = std::exp(h);
  pmf.probs[0] = 1.0 - deltas[0] + (deltas[1] - deltas[0]) / em1;
  for (std::size_t i = 1; i + 1 < n; ++i) {
    pmf.probs[i] = ((deltas[i + 1] - deltas[i]) - e * (deltas[i] - deltas[i - 1])) / em1;
  }
  pmf.probs[n - 1] = (deltas[n - 1] - deltas[n - 2]) / std::expm1(-h);
  for (double& p : pmf.probs) p = std::max(p, 0.0);
  return pmf;
}

PldAccountant::PldAccountant(PldOptions options)
    : options_(options),
      remove_(identity_pmf(options.value_discretization_interval)),
      add_(identity_pmf(options.value_discretization_interval)) {
  if (!(options.value_discretization_interval > 0.0) ||
      std::isinf(options.value_discretization_interval)) {
    throw InvalidPrivacyParameter("PldAccountant: value_discretization_interval must be > 0");
  }
  if (!(options.tail_mass_truncation >= 0.0 && options.tail_mass_truncation < 1e-3)) {
    throw InvalidPrivacyParameter("PldAccountant: tail_mass_truncation must be in [0, 1e-3)");
  }
  if (!(options.log_mass_truncation_bound < -5.0)) {
    throw InvalidPrivacyParameter("PldAccountant: log_mass_truncation_bound must be < -5");
  }
}

void PldAccountant::compose_poisson_gaussian(double q, double sigma, std::int64_t steps) {
  if (!(q >= 0.0 && q <= 1.0)) {
    throw InvalidPrivacyParameter("PldAccountant: sampling rate " + std::to_string(q) +
                                  " is outside [0, 1]");
  }
  if (!(sigma >= 0.0) || std::isinf(sigma)) {
    throw InvalidPrivacyParameter("PldAccountant: noise multiplier " + std::to_string(sigma) +
                                  " must be finite and >= 0");
  }
  if (steps < 0) {
    throw InvalidPrivacyParameter("PldAccountant: steps " + std::to_string(steps) +
                                  " is negative");
  }
  if (q == 0.0 || steps == 0) return;
  if (sigma == 0.0) {  // no noise: the loss is infinite with probability 1
    remove_ = add_ = PldPmf{options_.value_discretization_interval, 0, {0.0}, 1.0};
    return;
  }
  const double tail = options_.tail_mass_truncation;
  auto power = [&](const PldPmf& base) { return self_compose_pld(base, steps, tail); };
  const PldPmf remove_steps = power(subsampled_gaussian_pld(q, sigma, true, options_));
  remove_ = compose_pld(remove_, remove_steps, tail);
  if (q == 1.0) {  // the Gaussian's PLD is symmetric
    add_ = compose_pld(add_, remove_steps, tail);
  } else {
    add_ = compose_pld(add_, power(subsampled_gaussian_pld(q, sigma, false, options_)), tail);
  }
}

double PldAccountant::epsilon(double delta) const {
  if (!(delta > 0.0 && delta < 1.0)) {
    throw InvalidPrivacyParameter("PldAccountant: delta " + std::to_string(delta) +
                                  " must be in (0, 1)");
  }
  return std::max(remove_.epsilon_for_delta(delta), add_.epsilon_for_delta(delta));
}

double PldAccountant::delta(double epsilon) const {
  if (!(epsilon >= 0.0)) {
    throw InvalidPrivacyParameter("PldAccountant: epsilon " + std::to_string(epsilon) +
                                  " must be >= 0");
  }
  return std::max(remove_.delta_for_epsilon(epsilon), add_.delta_for_epsilon(epsilon));
}

}  // namespace fedlora::privacy
