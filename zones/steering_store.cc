#include "zones/steering_store.h"

#include <algorithm>
#include <set>

#include "wire/name.h"
#include "zones/json_fields.h"
#include "zones/record_store.h"

namespace meridian::zones {

namespace {

Region regionFromRow(const Statement& row) {
  Region r;
  r.name = row.columnText(0);
  r.latitude = row.columnDouble(1);
  r.longitude = row.columnDouble(2);
  r.continent = row.columnOptionalText(3);
  const nlohmann::json countries = nlohmann::json::parse(row.columnText(4), nullptr, false);
  if (countries.is_array()) {
    for (const auto& c : countries) {
      if (c.is_string()) r.countries.push_back(c.get<std::string>());
    }
  }
  r.min_healthy = minHealthyFromColumn(row.columnOptionalText(5));
  return r;
}

constexpr const char* kRegionColumns =
    "SELECT name, latitude, longitude, continent, countries, min_healthy FROM regions";

std::optional<CheckSpec> checkFromColumn(const std::optional<std::string>& text,
                                         const std::string& field) {
  if (!text) return std::nullopt;
  return parseCheckSpec(nlohmann::json::parse(*text), field);
}

std::optional<std::string> checkToColumn(const std::optional<CheckSpec>& check) {
  if (!check) return std::nullopt;
  return toJson(*check).dump();
}

Endpoint endpointFromRow(const Statement& row) {
  Endpoint e;
  e.name = row.columnText(0);
  e.region = row.columnText(1);
  e.address = row.columnText(2);
  e.weight = row.columnInt(3);
  e.capacity = row.columnOptionalInt(4);
  e.state = adminStateFromString(row.columnText(5), "state");
  e.check = checkFromColumn(row.columnOptionalText(6), "check");
  e.readiness = checkFromColumn(row.columnOptionalText(7), "readiness");
  e.vote = votePolicyFromColumn(row.columnOptionalText(8));
  return e;
}

constexpr const char* kEndpointColumns =
    "SELECT e.name, r.name, e.address, e.weight, e.capacity, e.state, e.check_spec, "
    "e.readiness_spec, e.vote_policy FROM endpoints e JOIN regions r ON r.id = e.region_id";

int64_t requireRegion(Database& db, const std::string& name, const std::string& field) {
  const auto id = regionId(db, name);
  if (!id) throw ValidationError(field, "region \"" + name + "\" does not exist");
  return *id;
}

// Binds the endpoint's columns as ?1..?9 (name, region id, address, weight,
// capacity, state, check, readiness, vote policy) for INSERT and UPDATE alike.
void bindEndpoint(Statement& s, const Endpoint& e, int64_t region_id) {
  s.bind(1, e.name)
      .bind(2, region_id)
      .bind(3, e.address)
      .bind(4, e.weight)
      .bind(5, e.capacity)
      .bind(6, toString(e.state))
      .bind(7, checkToColumn(e.check))
      .bind(8, checkToColumn(e.readiness))
      .bind(9, votePolicyToColumn(e.vote));
}

// Regions a stored steered-name spec mentions (in "regions" or "geo_map").
std::set<std::string> specRegions(const std::string& spec) {
  std::set<std::string> out;
  const nlohmann::json doc = nlohmann::json::parse(spec, nullptr, false);
  if (!doc.is_object()) return out;
  auto add = [&](const nlohmann::json& list) {
    if (!list.is_array()) return;
    for (const auto& r : list) {
      if (r.is_string()) out.insert(r.get<std::string>());
    }
  };
  if (doc.contains("regions")) add(doc["regions"]);
  if (doc.contains("geo_map") && doc["geo_map"].is_object()) {
    for (const auto& item : doc["geo_map"].items()) add(item.value());
  }
  return out;
}

std::string typeName(uint16_t type) {
  return type == 28 ? "AAAA" : "A";
}

// Steered names cannot sit where static data would answer instead: a CNAME at
// the owner, an RRset of the same type, or a zone cut at or above the owner
// (the delegation would hand the query to another server).
void checkSteeringCollisions(Database& db, int64_t zone_id, const SteeredName& s) {
  Statement same = db.prepare(
      "SELECT type FROM records WHERE zone_id = ?1 AND owner = ?2 AND type IN (5, ?3) LIMIT 1");
  same.bind(1, zone_id).bind(2, s.owner).bind(3, static_cast<int64_t>(s.type));
  if (same.step()) {
    if (same.columnInt(0) == 5) {
      throw ConflictError(s.owner + " has a CNAME record; a steered name cannot share its owner");
    }
    throw ConflictError(s.owner + " already has a static " + typeName(s.type) +
                        " RRset; delete it before steering the name");
  }
  const std::string apex = wire::nameToWire(s.zone);
  std::string name = wire::nameToWire(s.owner);
  Statement cut =
      db.prepare("SELECT 1 FROM records WHERE zone_id = ?1 AND owner = ?2 AND type = 2 LIMIT 1");
  while (name.size() > apex.size()) {
    const std::string text = wire::wireToText(name);
    cut.reset();
    cut.bind(1, zone_id).bind(2, text);
    if (cut.step()) {
      throw ConflictError(s.owner + " is at or below the delegation " + text +
                          "; the zone cut would hide the steered name");
    }
    name.erase(0, 1 + static_cast<uint8_t>(name[0]));
  }
}

std::optional<uint16_t> onlySteeredType(Database& db, int64_t zone_id, const std::string& owner,
                                        std::optional<uint16_t> type, const std::string& zone) {
  if (type) return type;
  Statement s = db.prepare("SELECT type FROM steered_names WHERE zone_id = ?1 AND owner = ?2");
  s.bind(1, zone_id).bind(2, owner);
  std::vector<uint16_t> types;
  while (s.step()) types.push_back(static_cast<uint16_t>(s.columnInt(0)));
  if (types.empty()) throw NotFoundError(owner + " is not a steered name in " + zone);
  if (types.size() > 1) {
    throw ValidationError("type", owner +
                                      " is steered for both A and AAAA; add ?type=A or "
                                      "?type=AAAA");
  }
  return types[0];
}

}  // namespace

std::optional<int64_t> regionId(Database& db, const std::string& name) {
  Statement s = db.prepare("SELECT id FROM regions WHERE name = ?1");
  s.bind(1, name);
  if (!s.step()) return std::nullopt;
  return s.columnInt(0);
}

int64_t zoneId(Database& db, const std::string& zone) {
  Statement s = db.prepare("SELECT id FROM zones WHERE name = ?1");
  s.bind(1, zone);
  if (!s.step()) throw NotFoundError("zone " + zone + " does not exist");
  return s.columnInt(0);
}

std::string zoneNameFromText(const std::string& text) {
  if (text.empty()) throw ValidationError("zone", "is empty");
  try {
    return wire::canonicalName(text.back() == '.' ? text : text + ".");
  } catch (const wire::NameError& e) {
    throw ValidationError("zone", e.what());
  }
}

std::string ownerInZone(const std::string& text, const std::string& zone) {
  if (text.empty()) throw ValidationError("name", "is empty");
  std::string owner;
  try {
    if (text == "@") {
      owner = zone;
    } else if (text.back() == '.') {
      owner = wire::canonicalName(text);
    } else {
      // "www.example.com" in zone "example.com." reads as absolute: people
      // type it that way far more often than they mean www.example.com.example.com.
      std::string lower = text;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      const std::string bare = zone == "." ? "" : zone.substr(0, zone.size() - 1);
      const bool absolute =
          !bare.empty() &&
          (lower == bare || (lower.size() > bare.size() + 1 && lower.ends_with("." + bare)));
      owner = wire::canonicalName(absolute || zone == "." ? text + "." : text + "." + zone);
    }
  } catch (const wire::NameError& e) {
    throw ValidationError("name", e.what());
  }
  if (!wire::isSubdomain(wire::nameToWire(owner), wire::nameToWire(zone))) {
    throw ValidationError("name", owner + " is not inside zone " + zone);
  }
  return owner;
}

// --- Regions -----------------------------------------------------------------

std::vector<Region> listRegions(Database& db) {
  std::vector<Region> out;
  Statement s = db.prepare(std::string(kRegionColumns) + " ORDER BY name");
  while (s.step()) out.push_back(regionFromRow(s));
  return out;
}

Region getRegion(Database& db, const std::string& name) {
  Statement s = db.prepare(std::string(kRegionColumns) + " WHERE name = ?1");
  s.bind(1, name);
  if (!s.step()) throw NotFoundError("region " + name + " does not exist");
  return regionFromRow(s);
}

Region createRegion(Database& db, const Region& region) {
  validateRegion(region);
  db.transaction([&] {
    if (regionId(db, region.name)) {
      throw ConflictError("region " + region.name + " already exists");
    }
    db.prepare(
          "INSERT INTO regions(name, latitude, longitude, continent, countries, min_healthy) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
        .bind(1, region.name)
        .bind(2, region.latitude)
        .bind(3, region.longitude)
        .bind(4, region.continent)
        .bind(5, nlohmann::json(region.countries).dump())
        .bind(6, minHealthyToColumn(region.min_healthy))
        .run();
    db.bumpConfigGeneration();
  });
  return region;
}

Region replaceRegion(Database& db, const Region& region) {
  validateRegion(region);
  db.transaction([&] {
    if (!regionId(db, region.name))
      throw NotFoundError("region " + region.name + " does not exist");
    db.prepare(
          "UPDATE regions SET latitude = ?2, longitude = ?3, continent = ?4, countries = ?5, "
          "min_healthy = ?6 WHERE name = ?1")
        .bind(1, region.name)
        .bind(2, region.latitude)
        .bind(3, region.longitude)
        .bind(4, region.continent)
        .bind(5, nlohmann::json(region.countries).dump())
        .bind(6, minHealthyToColumn(region.min_healthy))
        .run();
    db.bumpConfigGeneration();
  });
  return region;
}

void deleteRegion(Database& db, const std::string& name) {
  db.transaction([&] {
    const auto id = regionId(db, name);
    if (!id) throw NotFoundError("region " + name + " does not exist");
    Statement endpoints = db.prepare("SELECT name FROM endpoints WHERE region_id = ?1 LIMIT 1");
    endpoints.bind(1, *id);
    if (endpoints.step()) {
      throw ConflictError("region " + name + " is still used by endpoint " +
                          endpoints.columnText(0));
    }
    Statement steered = db.prepare("SELECT s.owner, s.spec FROM steered_names s ORDER BY s.owner");
    while (steered.step()) {
      if (specRegions(steered.columnText(1)).count(name) != 0) {
        throw ConflictError("region " + name + " is still used by steered name " +
                            steered.columnText(0));
      }
    }
    db.prepare("DELETE FROM regions WHERE id = ?1").bind(1, *id).run();
    db.bumpConfigGeneration();
  });
}

// --- Endpoints ---------------------------------------------------------------

std::vector<Endpoint> listEndpoints(Database& db) {
  std::vector<Endpoint> out;
  Statement s = db.prepare(std::string(kEndpointColumns) + " ORDER BY e.name");
  while (s.step()) out.push_back(endpointFromRow(s));
  return out;
}

Endpoint getEndpoint(Database& db, const std::string& name) {
  Statement s = db.prepare(std::string(kEndpointColumns) + " WHERE e.name = ?1");
  s.bind(1, name);
  if (!s.step()) throw NotFoundError("endpoint " + name + " does not exist");
  return endpointFromRow(s);
}

Endpoint createEndpoint(Database& db, const Endpoint& endpoint) {
  validateEndpoint(endpoint);
  db.transaction([&] {
    const int64_t region = requireRegion(db, endpoint.region, "region");
    Statement exists = db.prepare("SELECT 1 FROM endpoints WHERE name = ?1");
    exists.bind(1, endpoint.name);
    if (exists.step()) throw ConflictError("endpoint " + endpoint.name + " already exists");
    Statement insert = db.prepare(
        "INSERT INTO endpoints(name, region_id, address, weight, capacity, state, check_spec, "
        "readiness_spec, vote_policy) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
    bindEndpoint(insert, endpoint, region);
    insert.run();
    db.bumpConfigGeneration();
  });
  return endpoint;
}

Endpoint replaceEndpoint(Database& db, const Endpoint& endpoint) {
  validateEndpoint(endpoint);
  db.transaction([&] {
    const int64_t region = requireRegion(db, endpoint.region, "region");
    Statement update = db.prepare(
        "UPDATE endpoints SET region_id = ?2, address = ?3, weight = ?4, capacity = ?5, "
        "state = ?6, check_spec = ?7, readiness_spec = ?8, vote_policy = ?9 WHERE name = ?1");
    bindEndpoint(update, endpoint, region);
    update.run();
    if (db.changes() == 0) throw NotFoundError("endpoint " + endpoint.name + " does not exist");
    db.bumpConfigGeneration();
  });
  return endpoint;
}

Endpoint patchEndpoint(Database& db, const std::string& name, const nlohmann::json& patch) {
  if (!patch.is_object()) {
    throw ValidationError("", "a merge patch must be a JSON object, not " + jsonTypeName(patch));
  }
  Endpoint result;
  db.transaction([&] {
    // Read inside the transaction so a concurrent writer cannot slip between
    // the read and the write (BEGIN IMMEDIATE holds the write lock).
    nlohmann::json doc = toJson(getEndpoint(db, name));
    doc.merge_patch(patch);
    result = parseEndpoint(doc, name);
    const int64_t region = requireRegion(db, result.region, "region");
    Statement update = db.prepare(
        "UPDATE endpoints SET region_id = ?2, address = ?3, weight = ?4, capacity = ?5, "
        "state = ?6, check_spec = ?7, readiness_spec = ?8, vote_policy = ?9 WHERE name = ?1");
    bindEndpoint(update, result, region);
    update.run();
    db.bumpConfigGeneration();
  });
  return result;
}

void deleteEndpoint(Database& db, const std::string& name) {
  db.transaction([&] {
    db.prepare("DELETE FROM endpoints WHERE name = ?1").bind(1, name).run();
    if (db.changes() == 0) throw NotFoundError("endpoint " + name + " does not exist");
    db.bumpConfigGeneration();
  });
}

// --- Steered names -----------------------------------------------------------

std::vector<SteeredName> listSteeredNames(Database& db, const std::string& zone) {
  const int64_t id = zoneId(db, zone);
  std::vector<SteeredName> out;
  Statement s =
      db.prepare("SELECT owner, spec FROM steered_names WHERE zone_id = ?1 ORDER BY owner, type");
  s.bind(1, id);
  while (s.step()) out.push_back(steeredNameFromSpec(s.columnText(1), zone, s.columnText(0)));
  return out;
}

SteeredName getSteeredName(Database& db, const std::string& zone, const std::string& owner,
                           std::optional<uint16_t> type) {
  const int64_t id = zoneId(db, zone);
  type = onlySteeredType(db, id, owner, type, zone);
  Statement s =
      db.prepare("SELECT spec FROM steered_names WHERE zone_id = ?1 AND owner = ?2 AND type = ?3");
  s.bind(1, id).bind(2, owner).bind(3, static_cast<int64_t>(*type));
  if (!s.step()) {
    throw NotFoundError(owner + " " + typeName(*type) + " is not a steered name in " + zone);
  }
  return steeredNameFromSpec(s.columnText(0), zone, owner);
}

bool putSteeredName(Database& db, const SteeredName& steered) {
  validateSteeredName(steered);
  bool created = false;
  db.transaction([&] {
    const int64_t id = zoneId(db, steered.zone);
    for (size_t i = 0; i < steered.regions.size(); ++i) {
      requireRegion(db, steered.regions[i], indexPath("regions", i));
    }
    checkSteeringCollisions(db, id, steered);
    Statement exists =
        db.prepare("SELECT 1 FROM steered_names WHERE zone_id = ?1 AND owner = ?2 AND type = ?3");
    exists.bind(1, id).bind(2, steered.owner).bind(3, static_cast<int64_t>(steered.type));
    created = !exists.step();
    db.prepare(
          "INSERT INTO steered_names(zone_id, owner, type, spec) VALUES (?1, ?2, ?3, ?4) "
          "ON CONFLICT(zone_id, owner, type) DO UPDATE SET spec = excluded.spec")
        .bind(1, id)
        .bind(2, steered.owner)
        .bind(3, static_cast<int64_t>(steered.type))
        .bind(4, toSpecJson(steered).dump())
        .run();
    bumpZoneSerial(db, id);
    db.bumpZonesGeneration();
  });
  return created;
}

void deleteSteeredName(Database& db, const std::string& zone, const std::string& owner,
                       std::optional<uint16_t> type) {
  db.transaction([&] {
    const int64_t id = zoneId(db, zone);
    type = onlySteeredType(db, id, owner, type, zone);
    db.prepare("DELETE FROM steered_names WHERE zone_id = ?1 AND owner = ?2 AND type = ?3")
        .bind(1, id)
        .bind(2, owner)
        .bind(3, static_cast<int64_t>(*type))
        .run();
    if (db.changes() == 0) {
      throw NotFoundError(owner + " " + typeName(*type) + " is not a steered name in " + zone);
    }
    bumpZoneSerial(db, id);
    db.bumpZonesGeneration();
  });
}

// --- Latency -----------------------------------------------------------------

std::vector<LatencyEntry> listLatency(Database& db) {
  std::vector<LatencyEntry> out;
  Statement s = db.prepare(
      "SELECT l.prefix, r.name, l.rtt_ms FROM latency_prefixes l "
      "JOIN regions r ON r.id = l.region_id ORDER BY l.prefix, r.name");
  while (s.step()) out.push_back({s.columnText(0), s.columnText(1), s.columnDouble(2)});
  return out;
}

size_t replaceLatency(Database& db, const std::vector<LatencyEntry>& entries) {
  db.transaction([&] {
    db.exec("DELETE FROM latency_prefixes");
    Statement insert =
        db.prepare("INSERT INTO latency_prefixes(prefix, region_id, rtt_ms) VALUES (?1, ?2, ?3)");
    std::map<std::string, int64_t> regions;  // one lookup per distinct region
    for (size_t i = 0; i < entries.size(); ++i) {
      const LatencyEntry& e = entries[i];
      auto it = regions.find(e.region);
      if (it == regions.end()) {
        it = regions
                 .emplace(e.region,
                          requireRegion(db, e.region, fieldPath(indexPath("entries", i), "region")))
                 .first;
      }
      insert.reset();
      insert.bind(1, e.prefix).bind(2, it->second).bind(3, e.rtt_ms);
      insert.run();
    }
    db.bumpConfigGeneration();
  });
  return entries.size();
}

}  // namespace meridian::zones
