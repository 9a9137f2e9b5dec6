#pragma once
// The snapshot compiler: reads zone data from SQLite into an immutable
// ZoneTable. Runs on the reload thread, never on a query loop.

#include <memory>
#include <string>
#include <vector>

#include "zones/database.h"
#include "zones/zone_table.h"

namespace meridian::zones {

/// A steered name to place in the zone table: its RRset is answered per
/// query by steering entry `index`.
struct SteeredPlacement {
  int64_t zone_id = 0;
  std::string owner;  // canonical text
  uint16_t type = 0;
  uint32_t ttl = 0;
  int32_t index = 0;
};

/// Reads every zone and record (in one read transaction, or the caller's)
/// and compiles them, with `steered` names placed. Throws DatabaseError or
/// std::invalid_argument (naming the zone) on failure; the caller keeps
/// serving its previous table.
std::shared_ptr<const ZoneTable> compileZones(Database& db,
                                              const std::vector<SteeredPlacement>& steered = {});

}  // namespace meridian::zones
