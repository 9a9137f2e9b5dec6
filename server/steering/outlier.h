#pragma once
// Outlier ejection, Envoy's passive health check for steered names: an
// endpoint whose reported error_rate stays above a name's threshold is left
// out of that name's answers for a while, like an unhealthy one, but never
// more than a set share of the name's endpoints at once.
//
// Configuration and state are per steered name: a name with
// `outlier_error_rate` set watches each endpoint of its address family in
// its regions, and the same endpoint may be ejected for one name and not for
// another with a stricter or looser threshold. Everything time-based happens
// in computeOutliers(), on the reload thread, each time buildHealth() builds
// a health table; steer() only reads the result (outlierEjected()).
//
// The rules, per (name, endpoint):
//  - A run starts at the first build that sees error_rate above the
//    threshold (strictly; unknown, -1, never counts) and ends at the first
//    build that sees it at or below, or unknown. Only a run that has lasted
//    outlier_interval_ms makes the endpoint due: "stays above", not one bad
//    report. The reloader rebuilds health at the moment a run comes due
//    (HealthTable::outlier_next_change_ms), so it needs no new report.
//  - A due endpoint is ejected for base x n (capped at outlier_max_ejection_ms),
//    n its number of ejections in a row: n restarts at 1 when its previous
//    ejection ended more than outlier_max_ejection_ms ago. With base 30 s and
//    max 300 s: 30 s, then 60 s, 90 s, ... 300 s while it keeps failing.
//  - The cap is applied here, at build time: at most
//    max(1, floor(outlier_max_ejected x N)) of the name's N watched
//    endpoints are ejected at once; with 0.1 and 25 endpoints, 2. A due
//    endpoint over the cap waits (`pending`, the longest-running run first)
//    until an ejection ends, when the reloader rebuilds again.
//  - An ejection always runs its time (good reports do not end it early);
//    afterwards the endpoint is back, and a new run must last a whole
//    interval before it is ejected again.
// steer() also never lets ejection empty an answer: when every otherwise
// usable endpoint of a name is ejected, it answers as if none were.

#include <cstdint>

#include "server/steering/health_table.h"
#include "server/steering/steering_table.h"

namespace meridian::steering {

/// Fills health.outliers, outlier_ejections_total and outlier_next_change_ms
/// from health.endpoints[].error_rate (already filled) and the state in
/// `previous` (built for `previous_table`; both may be null), at `now_ms`.
/// Reload thread; allocates.
void computeOutliers(const SteeringTable& table, HealthTable& health, const HealthTable* previous,
                     const SteeringTable* previous_table, int64_t now_ms);

/// The state of (name, endpoint), or null when the name has no outlier
/// detection or the endpoint is not watched by it. Query path: a binary
/// search, no allocation, no locks.
const OutlierState* outlierState(const HealthTable& health, uint32_t name,
                                 uint32_t endpoint) noexcept;

/// Whether `endpoint` is ejected from name `name`'s answers at `now_ms`.
inline bool outlierEjected(const HealthTable& health, uint32_t name, uint32_t endpoint,
                           int64_t now_ms) noexcept {
  const OutlierState* state = outlierState(health, name, endpoint);
  return state != nullptr && now_ms < state->ejected_until_ms;
}

/// (name, endpoint) pairs ejected at `now_ms`, over every name (/metrics).
uint32_t outlierEjectedCount(const HealthTable& health, int64_t now_ms) noexcept;

}  // namespace meridian::steering
