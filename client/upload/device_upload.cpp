#include "client/upload/device_upload.h"

#include <cmath>
#include <stdexcept>

#include "privacy/errors.h"
#include "privacy/user_dp/adaptive_clipping.h"

namespace fedlora::client {

Upload make_upload(std::vector<float> delta, int64_t num_examples, const UploadSpec& spec,
                   privacy::NoiseSource* noise) {
  if (num_examples < 1) throw std::invalid_argument("make_upload: a device with no examples cannot upload");
  Upload up;
  if (spec.user_dp) {
    if (noise == nullptr) throw std::invalid_argument("make_upload: user-level DP needs a noise source");
    const auto report = privacy::privatize_device_update(delta, *spec.user_dp, *noise);
    up.pre_clip_norm = report.pre_clip_norm;
    up.clipped = report.clipped;
    up.weight = 1.0;
  } else {
    double sq = 0;
    for (float v : delta) {
      if (!std::isfinite(v)) throw privacy::NonFiniteValueError("make_upload: the update holds NaN/Inf");
      sq += static_cast<double>(v) * v;
    }
    up.pre_clip_norm = std::sqrt(sq);
    up.weight = spec.weight_by_examples ? static_cast<double>(num_examples) : 1.0;
    if (up.weight != 1.0)
      for (float& v : delta) v = static_cast<float>(v * up.weight);
  }
  up.values = std::move(delta);
  if (spec.report_clip_indicator) {
    if (!spec.user_dp) throw std::invalid_argument("make_upload: clip indicators need user-level DP settings");
    double b = privacy::AdaptiveClipping::centred_clip_indicator(up.pre_clip_norm, spec.user_dp->l2_norm_clip);
    if (spec.clip_indicator_noise_stddev > 0) b += spec.clip_indicator_noise_stddev * noise->gaussian();
    up.values.push_back(static_cast<float>(b));
  }
  return up;
}

}  // namespace fedlora::client
