#pragma once
// The dynamic half of the snapshot: endpoint health and measured latency,
// rebuilt alone when only meridian-healthd has written (a cheap rebuild).
// Indexed like the SteeringTable it was built for.

#include <cstdint>
#include <string>
#include <vector>

namespace meridian::steering {

/// How far to trust the health data as a whole.
enum class HealthMode : uint8_t {
  kFresh,     // a healthd has written recently
  kStale,     // none has for `stale_after`: last known states kept (grace period)
  kFailOpen,  // none has for `stale_after + grace`: every endpoint counts as healthy
  kNoData,    // no healthd has ever written: endpoints count as healthy
};

const char* healthModeName(HealthMode mode);

struct EndpointHealth {
  bool healthy = true;
  bool reported = false;        // some vantage has a row for it
  int64_t recovered_at_ms = 0;  // when it last became healthy after being down (slow start)
  float rtt_ms = -1;            // median over vantages of healthd's RTT EWMA; -1 unknown
  float load = -1;        // latest load report, -1 unknown (or older than a few intervals)
  float error_rate = -1;  // 0..1 from the latest load report, -1 unknown
};

/// Outlier ejection state of one endpoint for one steered name with
/// outlier detection (server/steering/outlier.h). Built off the query path.
struct OutlierState {
  uint32_t name = 0;              // index into SteeringTable::names
  uint32_t endpoint = 0;          // index into SteeringTable::endpoints
  int64_t above_since_ms = 0;     // start of the current run above the threshold, 0 none
  int64_t ejected_until_ms = 0;   // ejected while now < this (0: never ejected)
  uint32_t ejections = 0;         // the multiplier: ejections in a row (see outlier.h)
  bool pending = false;           // due for ejection but held back by outlier_max_ejected
};

struct Vantage {
  std::string name;
  bool has_location = false;
  double latitude = 0, longitude = 0;
  int64_t last_write_ms = 0;  // as of the build; the reloader tracks newer heartbeats
  bool fresh = false;         // counted in the vote when the table was built
};

/// One vantage's row for one endpoint, as the vote saw it (for explain).
enum class VantageSay : uint8_t { kNoRow, kUp, kDown, kUpNotCounted, kDownNotCounted };

struct HealthTable {
  HealthMode mode = HealthMode::kNoData;
  int64_t newest_write_ms = 0;
  std::vector<EndpointHealth> endpoints;  // per SteeringTable endpoint
  std::vector<Vantage> vantages;
  // Median RTT per (vantage, region), after hysteresis: region_rtt[v * regions + r],
  // -1 when that vantage measured nothing in that region.
  std::vector<float> region_rtt;
  size_t region_count = 0;
  // What each vantage said of each endpoint: says[e * vantages.size() + v].
  std::vector<VantageSay> says;

  VantageSay say(size_t endpoint, size_t vantage) const noexcept {
    const size_t i = endpoint * vantages.size() + vantage;
    return i < says.size() ? says[i] : VantageSay::kNoRow;
  }

  // Load reports (zones/load_store.h), per SteeringTable endpoint alongside
  // `endpoints[e].load`: when the report in use was written (unix ms, 0 when
  // the load is unknown) and where it came from ("api", "probe:VANTAGE").
  std::vector<int64_t> load_updated_ms;
  std::vector<std::string> load_source;
  // When the first known load turns unknown by age (0: none will): the
  // reloader rebuilds health then, with no commit to prompt it.
  int64_t load_expires_ms = 0;

  /// True when `other` answers every query exactly as this table does: the
  /// same mode, votes, slow-start times, RTTs, loads and vantages.
  /// Timestamps of writes are left out: a heartbeat alone changes no answer,
  /// so the reloader does not republish for it. A load report's timestamp is
  /// kept in: a refreshed report moves when the load turns stale.
  bool answersLike(const HealthTable& other) const;

  // Outlier ejection (server/steering/outlier.h), per (name, endpoint) of
  // every steered name with outlier detection, sorted by (name, endpoint).
  std::vector<OutlierState> outliers;
  uint64_t outlier_ejections_total = 0;  // ejections so far, carried from build to build
  int64_t outlier_next_change_ms = 0;    // when the reloader must rebuild for them; 0 never
};

/// Whether DNS answers treat endpoint `e` as healthy now: without
/// trustworthy data (no healthd yet, or silent past the grace period) every
/// endpoint counts as healthy (fail open); otherwise the health vote's
/// verdict (zones/health_vote.h), healthy when nothing was reported.
/// Query path: no allocation, no locks.
inline bool countsAsHealthy(const HealthTable& health, uint32_t e) noexcept {
  if (health.mode == HealthMode::kNoData || health.mode == HealthMode::kFailOpen) return true;
  return e >= health.endpoints.size() || health.endpoints[e].healthy;
}

}  // namespace meridian::steering
