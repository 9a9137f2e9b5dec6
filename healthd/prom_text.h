#pragma once
// A reader of the Prometheus text exposition format (version 0.0.4, which
// OpenMetrics text also satisfies for what is read here), for the `metrics`
// check: it sums the samples of a few named metrics whose labels include
// given label matchers. The body comes from the network and is treated as
// hostile: bounded in size and line length, every line checked, any
// malformed line refuses the whole body with an error naming the line, and
// nothing in it can crash or grow memory beyond the body itself.
//
// Pure functions; any thread.

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace meridian::healthd {

/// Bodies larger than this are refused (the probe stops reading there too).
inline constexpr size_t kMaxExpositionBytes = 4 * 1024 * 1024;
/// Lines longer than this are refused.
inline constexpr size_t kMaxExpositionLine = 64 * 1024;

/// Which samples to add up: metric name, and labels each sample must carry
/// with exactly these values (it may carry others).
struct PromSelector {
  std::string metric;
  std::map<std::string, std::string> labels;
};

struct PromSums {
  std::vector<double> sums;     // per selector, the sum of its matching samples
  std::vector<size_t> matched;  // per selector, how many samples matched
  std::string error;            // non-empty: the body was refused, sums are meaningless
};

/// Reads `body` once and sums each selector's samples. A sample value that
/// is NaN or infinite is an error when it matches a selector.
PromSums sumExposition(std::string_view body, const std::vector<PromSelector>& selectors);

/// True for a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) and label name
/// ([a-zA-Z_][a-zA-Z0-9_]*), for validating check specs.
bool isPromMetricName(std::string_view name) noexcept;
bool isPromLabelName(std::string_view name) noexcept;

}  // namespace meridian::healthd
