#pragma once
// The snapshot compiler: reads zone data from SQLite into an immutable
// ZoneTable. Runs on the reload thread, never on a query loop.

#include <memory>

#include "zones/database.h"
#include "zones/zone_table.h"

namespace meridian::zones {

/// Reads every zone and record in one read transaction and compiles them.
/// Throws DatabaseError or std::invalid_argument (naming the zone) on failure;
/// the caller keeps serving its previous table.
std::shared_ptr<const ZoneTable> compileZones(Database& db);

}  // namespace meridian::zones
