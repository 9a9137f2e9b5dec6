#pragma once
// The API's own counters: requests by method and status code, and time spent,
// in Prometheus text format. Thread-safe (a mutex; the API is not a hot path).

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace meridian::api {

class ApiMetrics {
 public:
  /// `method` is folded into GET/HEAD/POST/PUT/PATCH/DELETE/OTHER.
  void record(const std::string& method, int status, double seconds);
  /// meridian_api_requests_total{method,code} and
  /// meridian_api_request_duration_seconds_{sum,count}{method}.
  std::string prometheusText() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
  std::map<std::string, std::pair<double, uint64_t>> durations_;
};

}  // namespace meridian::api
