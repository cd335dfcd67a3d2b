#include "client/upload/device_upload.h"

#include <cmath>
#include <stdexcept>

#include "privacy/errors.h"
#include "privacy/user_dp/adaptive_clipping.h"

namespace fedlora::client {

protocol::PlainUpload make_upload(std::vector<float> delta, double weight,
                                  const std::optional<protocol::UserDpInstructions>& user_dp,
                                  privacy::NoiseSource* noise, UploadStats* stats) {
  if (!std::isfinite(weight) || weight < 0) throw std::invalid_argument("make_upload: weight must be finite and >= 0");
  UploadStats st;
  if (user_dp) {
    if (noise == nullptr) throw std::invalid_argument("make_upload: user-level DP needs a noise source");
    const auto report = privacy::privatize_device_update(delta, user_dp->update, *noise);
    st.pre_clip_norm = report.pre_clip_norm;
    st.clipped = report.clipped;
  } else {
    double sq = 0;
    for (float v : delta) {
      if (!std::isfinite(v)) throw privacy::NonFiniteValueError("make_upload: the update holds NaN/Inf");
      sq += static_cast<double>(v) * v;
    }
    st.pre_clip_norm = std::sqrt(sq);
  }
  if (weight != 1.0)
    for (float& v : delta) v = static_cast<float>(v * weight);
  protocol::PlainUpload up;
  up.values = std::move(delta);
  up.weight = weight;
  if (user_dp && user_dp->report_clip_indicator) {
    double b = privacy::AdaptiveClipping::centred_clip_indicator(st.pre_clip_norm, user_dp->update.l2_norm_clip);
    if (user_dp->clip_indicator_noise_stddev > 0) b += user_dp->clip_indicator_noise_stddev * noise->gaussian();
    up.values.push_back(static_cast<float>(b));
  }
  if (stats) *stats = st;
  return up;
}

}  // namespace fedlora::client
