#pragma once
// The zone documents of the API (GET /api/v1/zones, GET /api/v1/zones/{zone})
// built in one place, so the API and meridianctl's offline mode (--db) print
// the same thing:
//   summary: {"name":"example.com.","serial":101,"record_count":6,"updated_at":1764237000000}
//   zone:    the summary plus "rrsets" (toJson(RecordSet), SOA first) and
//            "steering" (toJson(SteeredName)).
//
// Threads: any thread, with its own Database.

#include <nlohmann/json.hpp>
#include <string>

#include "zones/database.h"
#include "zones/zone_io.h"

namespace meridian::zones {

/// One entry of the zone list.
nlohmann::json toJson(const ZoneSummary& summary);

/// Every zone's summary, ordered by name.
nlohmann::json zoneListJson(Database& db);

/// The whole zone document for canonical `zone`, read in one read
/// transaction (a concurrent write shows entirely or not at all). Throws
/// NotFoundError("zone X does not exist").
nlohmann::json zoneJson(Database& db, const std::string& zone);

}  // namespace meridian::zones
