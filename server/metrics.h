#pragma once
// Prometheus text exposition of meridiand's DNS and snapshot metrics (the API
// server appends its own request counters). Control plane only.

#include <string>
#include <vector>

#include "server/counters.h"
#include "server/reloader.h"
#include "zones/health_store.h"

namespace meridian::server {

std::string prometheusText(const DnsTotals& dns, const ReloadStats& reload, int64_t now_ms);

/// Per endpoint and vantage, from the health table as meridian-healthd wrote
/// it: healthy (0/1), transitions (flaps), the RTT EWMA of the probes and the
/// age of each row at `now_ms`. `samples` are the rows the reload thread read
/// last (Reloader::healthSamples), so /metrics never reads the database.
std::string healthMetricsText(const std::vector<zones::EndpointHealthSample>& samples,
                              int64_t now_ms);

/// Per endpoint, from the published snapshot's health table (what answers
/// use): meridian_endpoint_load and meridian_endpoint_load_age_seconds, for
/// endpoints whose load is known (a fresh report, pushed or probed).
std::string loadMetricsText(const Snapshot& snapshot, int64_t now_ms);

/// A Prometheus label value with its backslashes, quotes and newlines
/// escaped (names are validated and cannot hold them, but the text must
/// stay well-formed regardless).
std::string prometheusLabel(const std::string& value);

/// One log line with the main counters, for --stats-interval and SIGUSR1.
std::string statsLine(const DnsTotals& dns, const ReloadStats& reload);

}  // namespace meridian::server
