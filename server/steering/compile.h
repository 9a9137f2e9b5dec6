#pragma once
// Builds the steering half of a snapshot from SQLite, on the reload thread:
// the configuration (regions, endpoints, steered names, imported latency) and
// the health table (endpoint health, vantages, RTT per region).

#include <cstdint>
#include <memory>
#include <vector>

#include "server/steering/health_table.h"
#include "server/steering/steering_table.h"
#include "zones/compiler.h"
#include "zones/database.h"
#include "zones/health_vote.h"
#include "zones/load_store.h"

namespace meridian::steering {

struct CompiledSteering {
  std::shared_ptr<const SteeringTable> table;
  std::vector<zones::SteeredPlacement> placements;  // for the zone table
};

/// Reads regions, endpoints, steered names and latency prefixes. Throws with
/// the offending name if a stored document cannot be used.
CompiledSteering compileSteering(zones::Database& db);

struct HealthSettings {
  int64_t stale_after_ms = zones::kDefaultStaleAfterMs;  // no healthd write this long: stale
  int64_t grace_ms = 30000;        // stale this much longer: fail open
  double rtt_hysteresis = 0.10;    // RTT changes below 10% are not published
  int64_t load_max_age_ms = zones::kDefaultLoadMaxAgeMs;  // older load reports: unknown
};

/// Reads health rows and vantages for `table`. `previous` (may be null) with
/// `previous_table` carries the published RTTs across, so that a change below
/// the hysteresis margin does not flip answers.
std::shared_ptr<const HealthTable> buildHealth(zones::Database& db, const SteeringTable& table,
                                               const HealthTable* previous,
                                               const SteeringTable* previous_table,
                                               const HealthSettings& settings, int64_t now_ms);

/// The mode a health table built from data whose newest write was at
/// `newest_write_ms` has at `now_ms` (staleness moves with the clock alone).
HealthMode healthModeAt(int64_t newest_write_ms, bool any_vantage, const HealthSettings& settings,
                        int64_t now_ms);

}  // namespace meridian::steering
