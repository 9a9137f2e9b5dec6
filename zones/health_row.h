#pragma once
// One row of the `health` table as meridian-healthd computes and writes it:
// a plain struct, so healthd's pure state machine can produce rows without
// seeing the store (zones/health_store.h writes and reads them).

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace meridian::zones {

/// One row of the `health` table, without the vantage (the writer adds it).
struct HealthRow {
  int64_t endpoint_id = 0;
  bool healthy = false;
  std::optional<bool> liveness_ok;  // nullopt: the endpoint has no such check
  std::optional<bool> readiness_ok;
  int64_t since = 0;  // unix ms of the last change of `healthy`
  std::optional<std::string> last_error;
  std::optional<double> rtt_ms;
  int64_t transitions = 0;
  int64_t updated_at = 0;
  // The latest reading of a `metrics` check (load-aware policies), as of
  // updated_at; nullopt when the endpoint has none or the last one failed.
  std::optional<double> load;
  std::optional<double> error_rate;

  bool operator==(const HealthRow&) const = default;
};

/// endpoint id -> the row to store, or nullopt to delete the vantage's row.
using HealthRowChanges = std::map<int64_t, std::optional<HealthRow>>;

}  // namespace meridian::zones
