#pragma once
// Prometheus text exposition of meridiand's DNS and snapshot metrics (the API
// server appends its own request counters). Control plane only.

#include <string>

#include "server/counters.h"
#include "server/reloader.h"
#include "zones/database.h"

namespace meridian::server {

std::string prometheusText(const DnsTotals& dns, const ReloadStats& reload, int64_t now_ms);

/// Per endpoint and vantage, from the health table as meridian-healthd wrote
/// it: healthy (0/1), transitions (flaps) and the RTT EWMA of the probes.
/// Reads through `db` (the caller's connection; API threads).
std::string healthMetricsText(zones::Database& db);

/// One log line with the main counters, for --stats-interval and SIGUSR1.
std::string statsLine(const DnsTotals& dns, const ReloadStats& reload);

}  // namespace meridian::server
