// libFuzzer target: any bytes as a Prometheus text exposition (what a
// `metrics` check reads from the network). The reader must never crash, read
// out of bounds or hang, and must either refuse the body with an error or
// return finite sums.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "healthd/prom_text.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using meridian::healthd::PromSelector;
  static const std::vector<PromSelector> kSelectors = {
      {"haproxy_backend_current_sessions", {{"proxy", "web"}}},
      {"http_requests_total", {{"code", "5xx"}}},
      {"http_requests_total", {}},
      {"up", {}},
  };
  const meridian::healthd::PromSums sums = meridian::healthd::sumExposition(
      std::string_view(reinterpret_cast<const char*>(data), size), kSelectors);
  if (sums.error.empty()) {
    for (const double s : sums.sums) {
      if (!std::isfinite(s)) __builtin_trap();  // the reader refuses NaN, Inf and overflow
    }
  }
  return 0;
}
