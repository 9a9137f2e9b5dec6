#pragma once
// Reads of the vantages table that need no snapshot rebuild: when each
// meridian-healthd last wrote (its heartbeat). Any thread with its own
// Database.

#include <cstdint>
#include <string>
#include <vector>

#include "zones/database.h"

namespace meridian::zones {

struct VantageHeartbeat {
  std::string name;
  int64_t last_write_ms = 0;
};

/// Every vantage's last write, ordered by name (the order the health table
/// lists them in).
std::vector<VantageHeartbeat> readVantageHeartbeats(Database& db);

}  // namespace meridian::zones
