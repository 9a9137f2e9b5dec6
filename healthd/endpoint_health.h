#pragma once
// The health of one endpoint as seen from this vantage: a liveness and an
// optional readiness check (each a Hysteresis), the time of the last change,
// the number of changes, the last error and the RTT average. Pure: no I/O, no
// clock (callers pass unix ms), so tests script whole histories.
//
// Used on the healthd loop thread only.

#include <cstdint>
#include <optional>
#include <string>

#include "healthd/hysteresis.h"
#include "healthd/rtt_ewma.h"
#include "zones/health_row.h"

namespace meridian::healthd {

enum class CheckKind : uint8_t { kLiveness, kReadiness };
const char* checkKindName(CheckKind kind) noexcept;

/// What one probe found. `rtt_ms` is set only when a complete, passing
/// response arrived (a 500 or a timeout says nothing useful about latency).
struct ProbeResult {
  bool ok = false;
  std::string error;  // empty when ok
  std::optional<double> rtt_ms;
  // A `metrics` check's reading: the gauge's sum, and the error ratio when
  // the check has one and two readings to compare.
  std::optional<double> load;
  std::optional<double> error_rate;
  bool from_metrics = false;  // a metrics check's result, reading or not
};

/// One row of the `health` table (without the vantage, which the writer adds).
using HealthRow = zones::HealthRow;

struct Thresholds {
  int rise = 2;
  int fall = 3;
};

class EndpointHealth {
 public:
  explicit EndpointHealth(int64_t endpoint_id) : endpoint_id_(endpoint_id) {}

  /// Declares which checks exist (nullopt: none of that kind) and their
  /// thresholds. A check that stays keeps its state; a new one starts unknown.
  void configure(std::optional<Thresholds> liveness, std::optional<Thresholds> readiness,
                 int64_t now_ms);

  /// Continues from a stored row (healthd restarted): states, since,
  /// transitions, last error and RTT. The seeded row counts as written
  /// unless `written` is false (cluster mode: the row came from the replica,
  /// but etcd lost it with the old lease, so the next result must go out).
  void seed(const HealthRow& stored, bool written = true);

  /// The stored check specs cannot be used: the endpoint is reported
  /// unhealthy with `error` until a valid spec arrives (nullopt clears it).
  void setConfigError(std::optional<std::string> error, int64_t now_ms);

  /// Applies one probe result of `kind` at `now_ms`.
  void record(CheckKind kind, const ProbeResult& result, int64_t now_ms);

  /// The endpoint's address changed: the old RTT says nothing about the new one.
  void resetRtt() { rtt_.reset(); }

  /// The row as it should be stored, or nullopt while some configured check
  /// has not reported yet (no half-known rows reach meridiand).
  std::optional<HealthRow> row(int64_t now_ms) const;

  /// Returns the row when it differs from the last one returned in a way
  /// meridiand cares about (state, error, transitions, RTT moved by >= 2 %),
  /// and remembers it as written. Small RTT jitter is not worth a write.
  std::optional<HealthRow> takeChangedRow(int64_t now_ms);

  std::optional<bool> healthy() const { return healthy_; }
  CheckState state(CheckKind kind) const;

 private:
  void updateHealthy(int64_t now_ms);
  Hysteresis* check(CheckKind kind);

  int64_t endpoint_id_;
  std::optional<Hysteresis> liveness_;
  std::optional<Hysteresis> readiness_;
  std::optional<std::string> config_error_;
  std::optional<bool> healthy_;
  int64_t since_ = 0;
  int64_t transitions_ = 0;
  std::optional<std::string> last_error_;
  RttEwma rtt_;
  std::optional<HealthRow> written_;
  std::optional<double> load_, error_rate_;  // the latest metrics reading
  bool load_read_ = false;  // a metrics reading arrived since the last row was taken
};

}  // namespace meridian::healthd
