// Dirichlet partition (Hsu et al. 2019): the users' mixes against the Dirichlet's own moments,
// chunking of documents, determinism and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <stdexcept>

#include "client/data/data_error.h"
#include "client/data/dirichlet_partition.h"
#include "client/data/source_documents.h"
#include "temp_dir.h"

namespace fedlora::client::data {
namespace {

struct Moments {
  double mean = 0, var = 0, m4 = 0;  // mean, sample variance, 4th central moment
};
Moments moments(const std::vector<double>& x) {
  Moments m;
  for (double v : x) m.mean += v;
  m.mean /= static_cast<double>(x.size());
  for (double v : x) {
    const double d = v - m.mean;
    m.var += d * d;
    m.m4 += d * d * d * d;
  }
  m.m4 /= static_cast<double>(x.size());
  m.var /= static_cast<double>(x.size() - 1);
  return m;
}

// Mean within 5 standard errors, and sample variance within 5 standard errors of the
// target (SE of s² ≈ sqrt((μ4 − σ⁴)/n)): fails with probability ~1e-6 if the sampler is right.
void expect_moments(const std::vector<double>& x, double mean, double var, const std::string& what) {
  const auto m = moments(x);
  const double n = static_cast<double>(x.size());
  EXPECT_NEAR(m.mean, mean, 5 * std::sqrt(var / n)) << what;
  EXPECT_NEAR(m.var, var, 5 * std::sqrt(std::max(m.m4 - m.var * m.var, 1e-30) / n)) << what;
}

const std::vector<std::uint32_t> kSizes{1000, 2000, 3000, 4000, 10000};  // chunks per document

TEST(DirichletPartition, MixHasTheDirichletMeanAndVariance) {
  const auto p = partition_prior(kSizes, PartitionPrior::size);
  ASSERT_NEAR(p[4], 0.5, 1e-12);
  for (double alpha : {0.1, 1.0, 10.0}) {
    std::vector<std::vector<double>> share(p.size());
    for (std::uint64_t u = 0; u < 20000; ++u) {
      const auto q = dirichlet_mix(p, alpha, 7, u);
      ASSERT_NEAR(std::accumulate(q.begin(), q.end(), 0.0), 1.0, 1e-12);
      for (std::size_t i = 0; i < q.size(); ++i) share[i].push_back(q[i]);
    }
    // Dir(α·p): E[q_i] = p_i, Var[q_i] = p_i (1 − p_i) / (α + 1).
    for (std::size_t i = 0; i < p.size(); ++i)
      expect_moments(share[i], p[i], p[i] * (1 - p[i]) / (alpha + 1),
                     "alpha " + std::to_string(alpha) + " document " + std::to_string(i));
  }
}

TEST(DirichletPartition, UsersChunkSharesFollowTheDirichletMultinomial) {
  const double alpha = 0.5;
  const std::size_t n = 8, users = 20000;
  PartitionOptions o{users, alpha, n, PartitionPrior::uniform, 11};
  DirichletPartition part(kSizes, o);
  std::vector<std::vector<double>> share(kSizes.size());
  for (std::size_t u = 0; u < users; ++u) {
    std::vector<double> c(kSizes.size(), 0.0);
    for (auto id : part.chunks_of(u)) c[part.document_of(id)] += 1.0 / static_cast<double>(n);
    for (std::size_t i = 0; i < c.size(); ++i) share[i].push_back(c[i]);
  }
  // Counts of n draws from q ~ Dir(α·p): Var[c_i / n] = p_i (1 − p_i) (n + α) / (n (1 + α)).
  const double p = 1.0 / static_cast<double>(kSizes.size());
  for (std::size_t i = 0; i < kSizes.size(); ++i)
    expect_moments(share[i], p, p * (1 - p) * (static_cast<double>(n) + alpha) / (static_cast<double>(n) * (1 + alpha)),
                   "document " + std::to_string(i));
}

double mean_max_share(double alpha) {
  const auto p = partition_prior(kSizes, PartitionPrior::uniform);
  double s = 0;
  for (std::uint64_t u = 0; u < 4000; ++u) {
    const auto q = dirichlet_mix(p, alpha, 3, u);
    s += *std::max_element(q.begin(), q.end());
  }
  return s / 4000;
}

TEST(DirichletPartition, ConcentrationFallsWithAlphaAndLargeAlphaIsIid) {
  const double a = mean_max_share(0.01), b = mean_max_share(0.3), c = mean_max_share(3), d = mean_max_share(100);
  EXPECT_GT(a, 0.95);  // α → 0: one document per user
  EXPECT_GT(a, b);
  EXPECT_GT(b, c);
  EXPECT_GT(c, d);
  // α → ∞: q → p; total variation E|q − p| / 2 shrinks like 1/√α.
  const auto p = partition_prior(kSizes, PartitionPrior::size);
  double tv = 0;
  for (std::uint64_t u = 0; u < 1000; ++u) {
    const auto q = dirichlet_mix(p, 1e6, 5, u);
    for (std::size_t i = 0; i < p.size(); ++i) tv += std::abs(q[i] - p[i]) / 2;
  }
  EXPECT_LT(tv / 1000, 2e-3);
}

TEST(DirichletPartition, TinyConcentrationsStayFinite) {
  const auto p = partition_prior(kSizes, PartitionPrior::uniform);
  for (std::uint64_t u = 0; u < 1000; ++u) {
    const auto q = dirichlet_mix(p, 1e-3, 1, u);  // shapes 2e-4: plain gamma variates underflow to 0
    double s = 0;
    for (double x : q) {
      ASSERT_TRUE(std::isfinite(x));
      s += x;
    }
    ASSERT_NEAR(s, 1.0, 1e-12);
  }
}

TEST(DirichletPartition, SameSeedSamePartitionAndEmptyDocumentsGetNothing) {
  const std::vector<std::uint32_t> sizes{50, 0, 70, 30};  // each document can fill a user alone
  PartitionOptions o{500, 0.3, 6, PartitionPrior::size, 42};
  DirichletPartition a(sizes, o), b(sizes, o);
  o.seed = 43;
  DirichletPartition c(sizes, o);
  bool differs = false;
  for (std::size_t u = 0; u < 500; ++u) {
    const auto x = a.chunks_of(u), y = b.chunks_of(u), z = c.chunks_of(u);
    ASSERT_TRUE(std::equal(x.begin(), x.end(), y.begin(), y.end()));
    differs |= !std::equal(x.begin(), x.end(), z.begin(), z.end());
    for (auto id : x) {
      ASSERT_LT(id, 150u);
      ASSERT_NE(a.document_of(id), 1u);
    }
    std::vector<std::uint32_t> s(x.begin(), x.end());
    std::sort(s.begin(), s.end());
    EXPECT_EQ(std::adjacent_find(s.begin(), s.end()), s.end()) << "user " << u << " holds a chunk twice";
  }
  EXPECT_TRUE(differs);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

TEST(DirichletPartition, BadOptionsNameTheField) {
  const std::vector<std::uint32_t> sizes{5, 5};
  EXPECT_NE(error_of([&] { DirichletPartition(sizes, {0, 1.0, 8}); }).find("users"), std::string::npos);
  EXPECT_NE(error_of([&] { DirichletPartition(sizes, {10, 0.0, 8}); }).find("alpha"), std::string::npos);
  EXPECT_NE(error_of([&] { DirichletPartition(sizes, {10, std::nan(""), 8}); }).find("alpha"), std::string::npos);
  EXPECT_NE(error_of([&] { DirichletPartition(sizes, {10, 1.0, 1}); }).find("examples_per_user"), std::string::npos);
  const std::vector<std::uint32_t> none{0, 0};
  EXPECT_NE(error_of([&] { DirichletPartition(none, {10, 1.0, 8}); }).find("no document"), std::string::npos);
}

TEST(ChunkDocument, ContiguousChunksOnLineAndCodePointBoundaries) {
  std::string text;
  for (int i = 0; i < 200; ++i) text += "line " + std::to_string(i) + " caf\xC3\xA9 \xE2\x82\xAC\n";
  const std::size_t lines_end = text.size();
  text += "\n   \n";                            // trailing whitespace: no chunk of its own
  text += std::string(300, 'x') + "\xC3\xA9";  // a long line: cut at a code point
  const auto chunks = chunk_document(text, 3, 64);
  ASSERT_GT(chunks.size(), 10u);
  std::size_t covered = 0;
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    EXPECT_EQ(c.doc, 3u);
    EXPECT_LE(c.length, 64u);
    EXPECT_GE(c.offset, covered);  // in order, never overlapping
    covered = c.offset + c.length;
    const auto piece = std::string_view(text).substr(c.offset, c.length);
    EXPECT_NE((static_cast<unsigned char>(piece.front()) & 0xC0), 0x80u) << "chunk " << i << " starts mid code point";
    if (c.offset + c.length < text.size())
      EXPECT_NE((static_cast<unsigned char>(text[c.offset + c.length]) & 0xC0), 0x80u) << "chunk " << i;
    if (c.offset + c.length <= lines_end) EXPECT_EQ(piece.back(), '\n') << "chunk " << i << " should end at a line end";
  }
  EXPECT_EQ(covered, text.size());
  EXPECT_THROW(chunk_document(text, 0, 8), std::invalid_argument);
}

TEST(SourceDocuments, DirectoryOfTxtFilesSortedAndJsonlRecords) {
  test::TempDir dir;
  std::ofstream(dir.path() / "b.txt") << "second";
  std::ofstream(dir.path() / "a.txt") << "first";
  std::ofstream(dir.path() / "notes.md") << "ignored";
  const auto docs = load_source_documents(dir.path());
  ASSERT_EQ(docs.texts.size(), 2u);
  EXPECT_EQ(docs.names[0], "a.txt");
  EXPECT_EQ(docs.texts[1], "second");
  std::ofstream(dir.path() / "c.jsonl") << "{\"text\": \"one\"}\n\n{\"text\": \"two\", \"user\": \"x\"}\n";
  EXPECT_EQ(load_source_documents(dir.path() / "c.jsonl").texts, (std::vector<std::string>{"one", "two"}));
  std::ofstream(dir.path() / "d.jsonl") << "{\"text\": \"one\"}\n{\"txt\": 1}\n";
  try {
    load_source_documents(dir.path() / "d.jsonl");
    FAIL() << "a record without text must be refused";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("d.jsonl:2"), std::string::npos) << e.what();
  }
  test::TempDir empty;
  EXPECT_THROW(load_source_documents(empty.path()), DataError);
}

}  // namespace
}  // namespace fedlora::client::data
