#pragma once
// Runs real probes on a private libuv loop inside a test: RateGate, CurlMulti
// and counters as in the daemon, results collected in order.

#include <uv.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "healthd/curl_multi.h"
#include "healthd/probe.h"
#include "healthd/resolver.h"
#include "zones/check_spec.h"

namespace meridian::test {

class ProbeHarness {
 public:
  /// `lookup` replaces getaddrinfo for host names in URLs when given.
  explicit ProbeHarness(double max_per_s = 0, healthd::Resolver::LookupFunction lookup = {});
  ~ProbeHarness();

  /// Parses `spec_json` (as the API would) and makes the probe for it.
  healthd::Probe& add(const std::string& spec_json, const std::string& address = "127.0.0.1");

  /// Runs the loop until `count` results arrived from probe `index`, or
  /// `deadline_ms` passed. Returns that probe's results so far.
  const std::vector<healthd::ProbeResult>& runUntil(size_t index, size_t count,
                                                    uint64_t deadline_ms);
  /// Runs the loop for `ms` milliseconds.
  void runFor(uint64_t ms);
  /// Destroys every probe now (as the daemon does when endpoints go away).
  void dropAll() { probes_.clear(); }
  size_t resultCount(size_t index) const { return results_[index].size(); }
  /// One probe, started now, its first result (or a failed dummy on deadline).
  healthd::ProbeResult once(const std::string& spec_json, const std::string& address = "127.0.0.1",
                            uint64_t deadline_ms = 5000);

  healthd::ProbeStats& stats() { return stats_; }
  healthd::Resolver& resolver() { return *resolver_; }
  uv_loop_t* loop() { return &loop_; }

 private:
  uv_loop_t loop_;
  healthd::Rng rng_{1};
  healthd::ProbeStats stats_;
  std::unique_ptr<healthd::RateGate> gate_;
  std::unique_ptr<healthd::CurlMulti> curl_;
  std::unique_ptr<healthd::Resolver> resolver_;
  healthd::ProbeEnv env_;
  std::vector<std::unique_ptr<healthd::Probe>> probes_;
  std::vector<std::vector<healthd::ProbeResult>> results_;
};

}  // namespace meridian::test
