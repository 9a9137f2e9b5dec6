#pragma once
// CRUD for the steering model: regions, endpoints, steered names, imported
// latency. Every write validates first (zones/model.h for the document, then
// the checks that need the database), runs as one Database::transaction and
// bumps the configuration generation; a write that throws changes nothing.
//
// Errors: ValidationError (bad input, names the field), NotFoundError (the
// named object does not exist), ConflictError (duplicate name, object still in
// use, collision with zone data). DatabaseError for SQLite failures.
//
// Threads: any thread, with its own Database (a Database is single-threaded).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "zones/database.h"
#include "zones/model.h"

namespace meridian::zones {

// --- Regions -----------------------------------------------------------------
std::vector<Region> listRegions(Database& db);
Region getRegion(Database& db, const std::string& name);
/// ConflictError when the name is taken.
Region createRegion(Database& db, const Region& region);
/// NotFoundError when absent. The name cannot change.
Region replaceRegion(Database& db, const Region& region);
/// ConflictError while an endpoint, steered name or geo_map still uses it.
/// Imported latency rows for the region go with it.
void deleteRegion(Database& db, const std::string& name);

// --- Endpoints ---------------------------------------------------------------
std::vector<Endpoint> listEndpoints(Database& db);
Endpoint getEndpoint(Database& db, const std::string& name);
/// ValidationError("region") when the region does not exist; ConflictError
/// when the name is taken.
Endpoint createEndpoint(Database& db, const Endpoint& endpoint);
Endpoint replaceEndpoint(Database& db, const Endpoint& endpoint);
/// JSON merge patch (RFC 7396) of the stored endpoint's JSON: fields present
/// replace, null resets an optional field. "name" may only repeat the name.
Endpoint patchEndpoint(Database& db, const std::string& name, const nlohmann::json& patch);
void deleteEndpoint(Database& db, const std::string& name);

// --- Steered names -----------------------------------------------------------
/// Owner text as given in a URL, made canonical inside `zone`: "@" is the apex,
/// "www" is relative, "www.example.com." is absolute, and "www.example.com"
/// (ending in the zone's name) is taken as absolute too. ValidationError
/// (field "name") when invalid or outside the zone.
std::string ownerInZone(const std::string& text, const std::string& zone);
/// Zone name from a URL: trailing dot optional; ValidationError("zone").
std::string zoneNameFromText(const std::string& text);

std::vector<SteeredName> listSteeredNames(Database& db, const std::string& zone);
/// Without `type`: the only steered type at the owner; ValidationError("type")
/// when both A and AAAA are steered there. NotFoundError when none.
SteeredName getSteeredName(Database& db, const std::string& zone, const std::string& owner,
                           std::optional<uint16_t> type = std::nullopt);
/// Creates or replaces; returns true when created. ValidationError for an
/// unknown region, ConflictError for a CNAME, a static RRset of the same type
/// or a delegation at the owner, NotFoundError for an unknown zone. Bumps the
/// zone's SOA serial.
bool putSteeredName(Database& db, const SteeredName& steered);
void deleteSteeredName(Database& db, const std::string& zone, const std::string& owner,
                       std::optional<uint16_t> type = std::nullopt);

// --- Latency -----------------------------------------------------------------
std::vector<LatencyEntry> listLatency(Database& db);
/// Replaces the whole table; ValidationError("entries[i].region") for an
/// unknown region. Returns the number of rows stored.
size_t replaceLatency(Database& db, const std::vector<LatencyEntry>& entries);

// --- Shared helpers for other stores -----------------------------------------
/// Zone id by canonical name, or NotFoundError. Call inside a transaction when
/// the id is used for a write.
int64_t zoneId(Database& db, const std::string& zone);
/// Region id by name, or nullopt.
std::optional<int64_t> regionId(Database& db, const std::string& name);

}  // namespace meridian::zones
