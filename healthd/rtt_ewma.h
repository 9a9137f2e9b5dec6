#pragma once
// Round-trip time smoothed as an exponentially weighted moving average, one
// per (vantage, endpoint). Pure arithmetic; any thread may use an instance it
// owns.

#include <optional>

namespace meridian::healthd {

class RttEwma {
 public:
  /// Weight of each new sample. 0.3 follows a real change within a handful
  /// of probes while one slow outlier moves the average by less than a third.
  static constexpr double kAlpha = 0.3;

  /// Adds one sample in milliseconds and returns the new average.
  ///
  /// avg' = avg + alpha * (sample - avg). Worked example with alpha 0.3:
  /// avg 20 ms, sample 40 ms -> 20 + 0.3 * 20 = 26 ms; three more 40 ms
  /// samples give 30.2, 33.14, 35.2 ms. The first sample is taken as is, so a
  /// new endpoint does not start at 0 ms and look closer than it is.
  double add(double sample_ms) noexcept {
    value_ = value_ ? *value_ + kAlpha * (sample_ms - *value_) : sample_ms;
    return *value_;
  }

  void seed(std::optional<double> value_ms) noexcept { value_ = value_ms; }
  void reset() noexcept { value_.reset(); }
  std::optional<double> value() const noexcept { return value_; }

 private:
  std::optional<double> value_;
};

}  // namespace meridian::healthd
