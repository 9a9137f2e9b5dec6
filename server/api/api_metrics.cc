#include "server/api/api_metrics.h"

#include <cstdio>

namespace meridian::api {

namespace {

std::string methodClass(const std::string& method) {
  for (const char* known : {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}) {
    if (method == known) return known;
  }
  return "OTHER";
}

}  // namespace

void ApiMetrics::record(const std::string& method, int status, double seconds) {
  const std::string m = methodClass(method);
  std::lock_guard<std::mutex> lock(mutex_);
  ++requests_[{m, status}];
  auto& d = durations_[m];
  d.first += seconds;
  ++d.second;
}

std::string ApiMetrics::prometheusText() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out =
      "# HELP meridian_api_requests_total API requests by HTTP method and status code.\n"
      "# TYPE meridian_api_requests_total counter\n";
  for (const auto& [key, count] : requests_) {
    out += "meridian_api_requests_total{method=\"" + key.first + "\",code=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
  }
  out +=
      "# HELP meridian_api_request_duration_seconds Time from request headers to response.\n"
      "# TYPE meridian_api_request_duration_seconds summary\n";
  for (const auto& [method, d] : durations_) {
    char sum[64];
    std::snprintf(sum, sizeof sum, "%.6f", d.first);
    out += "meridian_api_request_duration_seconds_sum{method=\"" + method + "\"} " + sum + "\n";
    out += "meridian_api_request_duration_seconds_count{method=\"" + method + "\"} " +
           std::to_string(d.second) + "\n";
  }
  return out;
}

}  // namespace meridian::api
