#include "client/data/dirichlet_partition.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

namespace fedlora::client::data {
namespace {

// SplitMix64 (Steele, Lea & Flood 2014): a portable stream, so a partition is the same on
// every standard library (std::gamma_distribution's algorithm is implementation-defined).
class Stream {
 public:
  Stream(std::uint64_t seed, std::uint64_t user, std::uint64_t tag) : s_(seed) {
    s_ = next() ^ (user * 0xD1B54A32D192ED03ull);
    s_ = next() ^ (tag * 0x8CB92BA72F3D8DD7ull);
  }
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform_open() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1.0p-53; }  // (0, 1)
  double normal() {  // Box–Muller, one of the pair
    return std::sqrt(-2.0 * std::log(uniform_open())) * std::cos(6.283185307179586 * uniform_open());
  }

 private:
  std::uint64_t s_;
};

// log of a Gamma(a, 1) variate (Marsaglia & Tsang 2000; a < 1 through Gamma(a+1)·U^(1/a)).
double log_gamma_variate(double a, Stream& rng) {
  if (a < 1.0) return log_gamma_variate(a + 1.0, rng) + std::log(rng.uniform_open()) / a;
  const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double x = rng.normal();
    const double v1 = 1.0 + c * x;
    if (v1 <= 0) continue;
    const double v = v1 * v1 * v1;
    if (std::log(rng.uniform_open()) < 0.5 * x * x + d - d * v + d * std::log(v)) return std::log(d * v);
  }
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == '\v'; }

void check_alpha(double alpha) {
  if (!(alpha > 0) || !std::isfinite(alpha))
    throw std::invalid_argument("dirichlet partition: alpha must be a finite number > 0, got " + std::to_string(alpha));
}

}  // namespace

std::vector<TextChunk> chunk_document(std::string_view text, std::uint32_t doc, std::size_t chunk_bytes) {
  if (chunk_bytes < 16) throw std::invalid_argument("chunk_document: chunk_bytes must be >= 16");
  if (text.size() > std::numeric_limits<std::uint32_t>::max())
    throw std::invalid_argument("chunk_document: document " + std::to_string(doc) + " is larger than 4 GiB");
  std::vector<TextChunk> out;
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = std::min(text.size(), begin + chunk_bytes);
    if (end < text.size()) {
      const std::size_t nl = text.rfind('\n', end - 1);
      if (nl != std::string_view::npos && nl >= begin + chunk_bytes / 2) {
        end = nl + 1;
      } else {
        while (end > begin + 1 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;  // code-point start
      }
    }
    const auto piece = text.substr(begin, end - begin);
    if (!std::all_of(piece.begin(), piece.end(), is_space))
      out.push_back({doc, static_cast<std::uint32_t>(begin), static_cast<std::uint32_t>(end - begin)});
    begin = end;
  }
  return out;
}

std::vector<double> partition_prior(std::span<const std::uint32_t> chunks_per_doc, PartitionPrior prior) {
  std::vector<double> p(chunks_per_doc.size(), 0.0);
  double total = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (chunks_per_doc[i] == 0) continue;
    p[i] = prior == PartitionPrior::size ? static_cast<double>(chunks_per_doc[i]) : 1.0;
    total += p[i];
  }
  if (total == 0) throw std::invalid_argument("dirichlet partition: no document has any text");
  for (auto& x : p) x /= total;
  return p;
}

std::vector<double> dirichlet_mix(std::span<const double> prior, double alpha, std::uint64_t seed, std::uint64_t user) {
  check_alpha(alpha);
  Stream rng(seed, user, 1);
  std::vector<double> logs(prior.size(), -std::numeric_limits<double>::infinity());
  double top = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < prior.size(); ++i) {
    if (prior[i] <= 0) continue;
    logs[i] = log_gamma_variate(alpha * prior[i], rng);
    top = std::max(top, logs[i]);
  }
  std::vector<double> q(prior.size(), 0.0);
  double sum = 0;
  for (std::size_t i = 0; i < q.size(); ++i) {
    if (prior[i] <= 0) continue;
    q[i] = std::exp(logs[i] - top);  // the largest is 1: the sum never underflows
    sum += q[i];
  }
  for (auto& x : q) x /= sum;
  return q;
}

DirichletPartition::DirichletPartition(std::span<const std::uint32_t> chunks_per_doc, const PartitionOptions& o)
    : users_(o.users), per_user_(o.examples_per_user) {
  if (o.users == 0) throw std::invalid_argument("dirichlet partition: users must be >= 1");
  check_alpha(o.alpha);
  if (o.examples_per_user < 2)
    throw std::invalid_argument("dirichlet partition: examples_per_user must be >= 2 (one train and one test example)");
  doc_begin_.assign(chunks_per_doc.size() + 1, 0);
  std::uint64_t total = 0;
  for (std::size_t d = 0; d < chunks_per_doc.size(); ++d) {
    total += chunks_per_doc[d];
    if (total > std::numeric_limits<std::uint32_t>::max())
      throw std::invalid_argument("dirichlet partition: more than 2^32 chunks");
    doc_begin_[d + 1] = static_cast<std::uint32_t>(total);
  }
  const auto prior = partition_prior(chunks_per_doc, o.prior);
  std::size_t last_doc = prior.size() - 1;
  while (prior[last_doc] <= 0) --last_doc;  // partition_prior guarantees one document with text
  chunks_.resize(users_ * per_user_);
  std::vector<double> cdf(prior.size());
  for (std::size_t u = 0; u < users_; ++u) {
    const auto q = dirichlet_mix(prior, o.alpha, o.seed, u);
    std::partial_sum(q.begin(), q.end(), cdf.begin());
    Stream rng(o.seed, u, 2);
    const std::span<std::uint32_t> mine(chunks_.data() + u * per_user_, per_user_);
    for (std::size_t k = 0; k < per_user_; ++k) {
      std::uint32_t chunk = 0;
      for (int attempt = 0; attempt < 16; ++attempt) {
        const double x = rng.uniform_open() * cdf.back();
        std::size_t d = static_cast<std::size_t>(std::upper_bound(cdf.begin(), cdf.end(), x) - cdf.begin());
        if (d >= cdf.size() || chunks_per_doc[d] == 0) d = last_doc;  // x rounded onto the top of the cdf
        chunk = doc_begin_[d] + static_cast<std::uint32_t>(rng.next() % chunks_per_doc[d]);
        if (std::find(mine.begin(), mine.begin() + static_cast<std::ptrdiff_t>(k), chunk) == mine.begin() + static_cast<std::ptrdiff_t>(k))
          break;
      }
      mine[k] = chunk;
    }
  }
}

std::span<const std::uint32_t> DirichletPartition::chunks_of(std::size_t u) const {
  if (u >= users_) throw std::out_of_range("DirichletPartition::chunks_of: user " + std::to_string(u) + " of " + std::to_string(users_));
  return {chunks_.data() + u * per_user_, per_user_};
}

std::uint32_t DirichletPartition::document_of(std::uint32_t chunk) const {
  const auto it = std::upper_bound(doc_begin_.begin(), doc_begin_.end(), chunk);
  if (it == doc_begin_.begin() || it == doc_begin_.end())
    throw std::out_of_range("DirichletPartition::document_of: chunk " + std::to_string(chunk) + " out of range");
  return static_cast<std::uint32_t>(it - doc_begin_.begin() - 1);
}

std::size_t DirichletPartition::resident_bytes() const noexcept {
  return sizeof(*this) + chunks_.capacity() * sizeof(std::uint32_t) + doc_begin_.capacity() * sizeof(std::uint32_t);
}

}  // namespace fedlora::client::data
