#include "coordinator/strategy/fedbuff_buffer.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace fedlora::coordinator {

double staleness_weight(std::int64_t staleness) {
  if (staleness < 0) throw std::invalid_argument("staleness_weight: staleness must be >= 0");
  return 1.0 / std::sqrt(1.0 + static_cast<double>(staleness));
}

FedBuffBuffer::FedBuffBuffer(Eigen::VectorXf theta0, int buffer_size, std::unique_ptr<ServerOptimizer> optimizer)
    : theta_(std::move(theta0)), buffer_size_(buffer_size), optimizer_(std::move(optimizer)) {
  if (buffer_size_ < 1) throw std::invalid_argument("FedBuff: buffer size K must be >= 1");
  if (!optimizer_ || optimizer_->dimension() != theta_.size())
    throw std::invalid_argument("FedBuff: the server optimizer must be built for d = " + std::to_string(theta_.size()));
  sum_ = Eigen::VectorXd::Zero(theta_.size());
}

std::optional<FedBuffStep> FedBuffBuffer::receive(std::span<const float> delta, std::int64_t base_version) {
  if (static_cast<Eigen::Index>(delta.size()) != theta_.size())
    throw std::invalid_argument("FedBuff: update has " + std::to_string(delta.size()) + " values, expected " +
                                std::to_string(theta_.size()));
  if (base_version < 0 || base_version > version_)
    throw std::invalid_argument("FedBuff: update from version " + std::to_string(base_version) +
                                ", the server is at version " + std::to_string(version_));
  for (std::size_t i = 0; i < delta.size(); ++i)
    if (!std::isfinite(delta[i])) throw std::invalid_argument("FedBuff: update value " + std::to_string(i) + " is not finite");
  const std::int64_t s = version_ - base_version;
  const double w = staleness_weight(s);
  for (std::size_t i = 0; i < delta.size(); ++i) sum_[static_cast<Eigen::Index>(i)] += w * delta[i];
  ++count_;
  staleness_sum_ += static_cast<double>(s);
  staleness_max_ = std::max(staleness_max_, static_cast<double>(s));
  if (count_ < buffer_size_) return std::nullopt;
  const Eigen::VectorXd mean = sum_ / static_cast<double>(buffer_size_);
  optimizer_->apply(theta_, mean);
  FedBuffStep step{++version_, staleness_sum_ / count_, staleness_max_, mean.norm()};
  sum_.setZero();
  count_ = 0;
  staleness_sum_ = staleness_max_ = 0;
  return step;
}

}  // namespace fedlora::coordinator
