#pragma once
// Endpoint load reports, the input of the load-aware policies (least_loaded,
// p2c): load pushed through the API (PUT /api/v1/endpoints/{name}/load, the
// endpoint_load table) and load read by healthd's `metrics` probe (the
// vantage's health row, zones/health_store.h). Only this file's .cc knows
// their SQL.
//
// A report is fresh for `max_age_ms` after it was written; an older one is
// unknown load (-1 in the snapshot), never zero: unknown load must not make
// an endpoint look idle. The freshest fresh report wins.
//
// Threads: any thread, with its own Database. Throws DatabaseError.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "zones/database.h"

namespace meridian::zones {

/// Pushed load counts as unknown this long after it was written, by default
/// (meridiand's --load-max-age).
inline constexpr int64_t kDefaultLoadMaxAgeMs = 60000;

/// A pushed load report as the API accepts it: {"load": 42, "error_rate": 0.01}.
struct LoadReport {
  double load = 0;                   // >= 0 and finite, in the endpoint's own unit
  std::optional<double> error_rate;  // 0..1
};

/// Strict: an object with "load" (a number >= 0) and optionally
/// "error_rate" (a number 0..1); ValidationError naming the field otherwise.
LoadReport parseLoadReport(const nlohmann::json& body);

/// Stores `report` for the endpoint called `name` as of `now_ms`, in one
/// Database::transaction (in cluster mode: one etcd write). NotFoundError when
/// the endpoint does not exist.
void putEndpointLoad(Database& db, const std::string& name, const LoadReport& report,
                     int64_t now_ms);

/// One stored report for one endpoint.
struct LoadRow {
  int64_t endpoint_id = 0;
  std::string source;  // "api", or "probe:VANTAGE" for a metrics probe's reading
  double load = 0;
  std::optional<double> error_rate;
  int64_t updated_at = 0;  // unix ms
};

/// Every stored report (pushed and probed), in no particular order; for the
/// snapshot compiler (inside its ReadTransaction).
std::vector<LoadRow> readLoadRows(Database& db);

/// The reports of the endpoint called `name` (NotFoundError when it does
/// not exist), freshest first.
std::vector<LoadRow> endpointLoadRows(Database& db, const std::string& name);

/// GET /api/v1/endpoints/{name}/load: the current value (the freshest report
/// younger than `max_age_ms`, else "load": null), its age and source, and
/// every report with its age.
nlohmann::json endpointLoadJson(Database& db, const std::string& name, int64_t max_age_ms,
                                int64_t now_ms);

}  // namespace meridian::zones
