// L2 clipping: the bound ‖clip(v)‖ ≤ C must hold in float after rounding, for every scale.
#include "privacy/common/l2_clip.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "privacy/errors.h"
#include "privacy/noise/noise_source.h"

namespace fedlora::privacy {
namespace {

double norm_of(const std::vector<float>& v) {
  long double s = 0;
  for (float x : v) s += static_cast<long double>(x) * x;
  return static_cast<double>(std::sqrt(s));
}

TEST(L2Clip, ClippedNormsNeverExceedBoundAcrossScales) {
  NoiseSource rng = NoiseSource::from_seed(123, {});
  for (double clip : {1e-3, 0.1, 1.0, 7.5, 1e4}) {
    for (double scale : {1e-4, 0.5, 1.0, 3.0, 1e3, 1e8}) {
      for (int size : {1, 3, 1000, 100003}) {
        std::vector<float> v(size);
        rng.fill_gaussian(std::span<float>(v), scale);
        const double before = norm_of(v);
        const std::vector<float> original = v;
        const double reported = clip_l2(v, clip);
        EXPECT_NEAR(reported, before, before * 1e-12);
        const double after = norm_of(v);
        ASSERT_LE(after, clip) << "clip=" << clip << " scale=" << scale << " size=" << size;
        if (before <= clip) {
          EXPECT_EQ(v, original);  // within the bound: untouched
        } else {
          EXPECT_NEAR(after, clip, clip * 2e-6);  // scaled onto the sphere, direction kept
          EXPECT_NEAR(v[0] / original[0], after / before, 1e-5 * after / before);
        }
      }
    }
  }
}

TEST(L2Clip, ClipFactorHandComputed) {
  EXPECT_EQ(clip_factor(0.0, 1.0), 1.0);
  EXPECT_EQ(clip_factor(1.0, 1.0), 1.0);
  EXPECT_DOUBLE_EQ(clip_factor(4.0, 1.0), 0.25 * (1 - kClipMargin));
  EXPECT_THROW(clip_factor(1.0, 0.0), InvalidPrivacyParameter);
  EXPECT_THROW(clip_factor(1.0, INFINITY), InvalidPrivacyParameter);
  EXPECT_THROW(clip_factor(std::nan(""), 1.0), NonFiniteValueError);
  EXPECT_THROW(clip_factor(INFINITY, 1.0), NonFiniteValueError);
}

TEST(L2Clip, RejectsNonFiniteBeforeTouchingTheVector) {
  std::vector<float> v = {3.0f, 4.0f, INFINITY};
  EXPECT_THROW(clip_l2(v, 1.0), NonFiniteValueError);
  EXPECT_EQ(v[0], 3.0f);
  v = {30.0f, std::nanf(""), 1.0f};
  EXPECT_THROW(clip_l2(v, 1.0), NonFiniteValueError);
  EXPECT_EQ(v[0], 30.0f);
}

TEST(L2Clip, ReturnsPreClipNorm) {
  std::vector<float> v = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(clip_l2(v, 1.0), 5.0);
  EXPECT_NEAR(v[0], 0.6f, 1e-6);
  EXPECT_NEAR(v[1], 0.8f, 1e-6);
}

}  // namespace
}  // namespace fedlora::privacy
