#pragma once
// Prometheus text exposition of meridiand's DNS and snapshot metrics (the API
// server appends its own request counters). Control plane only.

#include <string>

#include "server/counters.h"
#include "server/reloader.h"

namespace meridian::server {

std::string prometheusText(const DnsTotals& dns, const ReloadStats& reload, int64_t now_ms);

/// One log line with the main counters, for --stats-interval and SIGUSR1.
std::string statsLine(const DnsTotals& dns, const ReloadStats& reload);

}  // namespace meridian::server
