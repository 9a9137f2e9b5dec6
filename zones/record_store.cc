#include "zones/record_store.h"

#include <set>

#include "wire/constants.h"
#include "wire/name.h"
#include "zones/json_fields.h"
#include "zones/steering_store.h"
#include "zones/validation.h"
#include "zones/zone_table.h"

namespace meridian::zones {

namespace {

constexpr uint32_t kMaxTtl = 2147483647;  // RFC 2181 section 8
constexpr size_t kSerialFromEnd = 20;     // SOA rdata ends SERIAL REFRESH RETRY EXPIRE MINIMUM

bool isMetaType(uint16_t type) {
  // OPT, TKEY, TSIG, IXFR, AXFR, MAILB, MAILA, ANY: never stored data (RFC 6895).
  return type == wire::type::OPT || (type >= 249 && type <= 255);
}

uint32_t soaSerial(std::string_view rdata) {
  if (rdata.size() < kSerialFromEnd) return 0;
  return wire::readU32(reinterpret_cast<const uint8_t*>(rdata.data() + rdata.size() - 20));
}

void setSoaSerial(std::string& rdata, uint32_t serial) {
  wire::writeU32(reinterpret_cast<uint8_t*>(rdata.data() + rdata.size() - kSerialFromEnd), serial);
}

// RFC 1982: `a` is newer than `b` when (a - b) mod 2^32 lies in 1..2^31-1.
// Example: a = 5, b = 4294967290 -> a - b = 11 (mod 2^32), so 5 is newer.
bool serialNewer(uint32_t a, uint32_t b) {
  const uint32_t diff = a - b;
  return diff != 0 && diff < 0x80000000u;
}

std::optional<std::string> storedSoa(Database& db, int64_t zone_id) {
  Statement s = db.prepare("SELECT rdata FROM records WHERE zone_id = ?1 AND type = 6");
  s.bind(1, zone_id);
  if (!s.step()) return std::nullopt;
  return std::string(s.columnBlob(0));
}

// Records at `owner` other than `type` (ignoring DNSSEC companions), for the
// CNAME exclusivity rule of RFC 1034 3.6.2.
std::vector<uint16_t> otherTypesAt(Database& db, int64_t zone_id, const std::string& owner,
                                   uint16_t type) {
  std::vector<uint16_t> out;
  Statement s = db.prepare(
      "SELECT DISTINCT type FROM records WHERE zone_id = ?1 AND owner = ?2 AND type != ?3 "
      "AND type NOT IN (46, 47) ORDER BY type");
  s.bind(1, zone_id).bind(2, owner).bind(3, static_cast<int64_t>(type));
  while (s.step()) out.push_back(static_cast<uint16_t>(s.columnInt(0)));
  return out;
}

// Static data that would shadow or contradict a steered name at `owner`
// (or below it, for a delegation).
void checkAgainstSteering(Database& db, int64_t zone_id, const std::string& zone,
                          const std::string& owner, uint16_t type) {
  Statement s = db.prepare("SELECT owner, type FROM steered_names WHERE zone_id = ?1");
  s.bind(1, zone_id);
  const std::string owner_wire = wire::nameToWire(owner);
  const bool delegation = type == wire::type::NS && owner != zone;
  while (s.step()) {
    const std::string steered = s.columnText(0);
    const auto steered_type = static_cast<uint16_t>(s.columnInt(1));
    if (steered == owner && type == wire::type::CNAME) {
      throw ConflictError(owner + " is a steered name and cannot also have a CNAME");
    }
    if (steered == owner && type == steered_type) {
      throw ConflictError(owner + " " + typeToText(type) +
                          " is a steered name; delete the steering before adding static records");
    }
    if (delegation && wire::isSubdomain(wire::nameToWire(steered), owner_wire)) {
      throw ConflictError("an NS RRset at " + owner + " would delegate away the steered name " +
                          steered);
    }
  }
}

void checkZoneAgainstSteering(Database& db, int64_t zone_id, const ParsedZone& zone) {
  std::set<std::pair<std::string, uint16_t>> seen;
  for (const ZoneRecord& r : zone.records) {
    if (seen.insert({r.owner, r.type}).second) {
      checkAgainstSteering(db, zone_id, zone.name, r.owner, r.type);
    }
  }
}

void insertRecords(Database& db, int64_t zone_id, const std::vector<ZoneRecord>& records) {
  Statement insert =
      db.prepare("INSERT INTO records(zone_id, owner, type, ttl, rdata) VALUES (?1,?2,?3,?4,?5)");
  for (const ZoneRecord& r : records) {
    insert.reset();
    insert.bind(1, zone_id)
        .bind(2, r.owner)
        .bind(3, static_cast<int64_t>(r.type))
        .bind(4, static_cast<int64_t>(r.ttl))
        .bindBlob(5, r.rdata.data(), r.rdata.size());
    insert.run();
  }
}

}  // namespace

nlohmann::json toJson(const RecordSet& rrset) {
  return {{"name", rrset.name},
          {"type", typeToText(rrset.type)},
          {"ttl", rrset.ttl},
          {"records", rrset.records}};
}

RecordSet parseRecordSet(const nlohmann::json& body, const std::string& zone,
                         const std::string& owner, uint16_t type) {
  ObjectReader in(body, "", {"name", "type", "ttl", "records"});
  if (isMetaType(type)) {
    throw ValidationError("type", typeToText(type) + " is a meta type and cannot be stored");
  }
  // "name" and "type" may repeat the URL (GET output sent back), nothing else.
  if (auto name = in.optionalString("name")) {
    if (ownerInZone(*name, zone) != owner) throw ValidationError("name", "does not match the URL");
  }
  if (auto t = in.optionalString("type")) {
    uint16_t given = 0;
    try {
      given = typeFromText(*t);
    } catch (const ZoneError& e) {
      throw ValidationError("type", e.what());
    }
    if (given != type) throw ValidationError("type", "does not match the URL");
  }
  if (owner.size() > kMaxOwnerText) {
    throw ValidationError("name", "is " + std::to_string(owner.size()) +
                                      " characters written out; a zone file holds at most 254 "
                                      "characters of an owner (each \\DDD escape counts 4)");
  }
  RecordSet rrset;
  rrset.name = owner;
  rrset.type = type;
  rrset.ttl = static_cast<uint32_t>(in.integer("ttl", 0, kMaxTtl));
  const std::vector<std::string> texts = in.strings("records");
  if (texts.empty()) {
    throw ValidationError("records", "must hold at least one record (use DELETE to remove)");
  }
  if (type == wire::type::SOA && owner != zone) {
    throw ValidationError("name", "the SOA belongs at the zone apex " + zone);
  }
  if ((type == wire::type::SOA || type == wire::type::CNAME) && texts.size() != 1) {
    throw ValidationError("records", typeToText(type) + " RRsets hold exactly one record");
  }
  std::set<std::string> wires;
  size_t bytes = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::string wire_rdata;
    try {
      wire_rdata = rdataFromText(type, texts[i], zone);
    } catch (const ZoneError& e) {
      throw ValidationError(indexPath("records", i), e.what());
    }
    if (!wires.insert(wire_rdata).second) {
      throw ValidationError(indexPath("records", i), "duplicate record \"" + texts[i] + "\"");
    }
    bytes += 12 + wire_rdata.size();  // compressed owner, type, class, TTL, length
    rrset.records.push_back(rdataToText(type, wire_rdata));
  }
  if (bytes > kMaxRRsetWire) {
    throw ValidationError("records", "the RRset is too large for a DNS message (" +
                                         std::to_string(bytes) + " octets)");
  }
  return rrset;
}

std::vector<RecordSet> listRecordSets(Database& db, const std::string& zone) {
  std::vector<RecordSet> out;
  for (const ZoneRecord& r : zoneRecords(db, zoneId(db, zone))) {
    if (out.empty() || out.back().name != r.owner || out.back().type != r.type) {
      // An RRset's TTL is its first record's (RFC 2181 5.2 says they agree).
      out.push_back({r.owner, r.type, r.ttl, {}});
    }
    out.back().records.push_back(rdataToText(r.type, r.rdata));
  }
  return out;
}

bool putRecordSet(Database& db, const std::string& zone, const RecordSet& rrset) {
  // The same shape checks as parseRecordSet, for callers that build a RecordSet in code.
  if (isMetaType(rrset.type)) throw ValidationError("type", "meta types cannot be stored");
  if (rrset.records.empty()) throw ValidationError("records", "must hold at least one record");
  if (rrset.ttl > kMaxTtl) throw ValidationError("ttl", "is out of range (0..2147483647)");
  if (!wire::isSubdomain(wire::nameToWire(rrset.name), wire::nameToWire(zone))) {
    throw ValidationError("name", rrset.name + " is not inside zone " + zone);
  }
  if (rrset.type == wire::type::SOA && rrset.name != zone) {
    throw ValidationError("name", "the SOA belongs at the zone apex " + zone);
  }
  if ((rrset.type == wire::type::SOA || rrset.type == wire::type::CNAME) &&
      rrset.records.size() != 1) {
    throw ValidationError("records", typeToText(rrset.type) + " RRsets hold exactly one record");
  }
  std::vector<ZoneRecord> records;
  for (size_t i = 0; i < rrset.records.size(); ++i) {
    try {
      records.push_back(
          {rrset.name, rrset.type, rrset.ttl, rdataFromText(rrset.type, rrset.records[i], zone)});
    } catch (const ZoneError& e) {
      throw ValidationError(indexPath("records", i), e.what());
    }
  }
  bool created = false;
  db.transaction([&] {
    const int64_t id = zoneId(db, zone);
    if (rrset.type == wire::type::CNAME && !otherTypesAt(db, id, rrset.name, rrset.type).empty()) {
      throw ConflictError(rrset.name + " has other records; a CNAME must be alone at its name");
    }
    if (rrset.type != wire::type::CNAME && rrset.type != 46 && rrset.type != 47) {
      Statement cname = db.prepare(
          "SELECT 1 FROM records WHERE zone_id = ?1 AND owner = ?2 AND type = 5 LIMIT 1");
      cname.bind(1, id).bind(2, rrset.name);
      if (cname.step()) {
        throw ConflictError(rrset.name + " has a CNAME; no other data may share its name");
      }
    }
    checkAgainstSteering(db, id, zone, rrset.name, rrset.type);
    const auto old_soa = storedSoa(db, id);
    if (rrset.type == wire::type::SOA && old_soa &&
        !serialNewer(soaSerial(records[0].rdata), soaSerial(*old_soa))) {
      setSoaSerial(records[0].rdata, soaSerial(*old_soa) + 1);
    }
    db.prepare("DELETE FROM records WHERE zone_id = ?1 AND owner = ?2 AND type = ?3")
        .bind(1, id)
        .bind(2, rrset.name)
        .bind(3, static_cast<int64_t>(rrset.type))
        .run();
    created = db.changes() == 0;
    insertRecords(db, id, records);
    if (rrset.type == wire::type::SOA) {
      db.prepare("UPDATE zones SET updated_at = ?2 WHERE id = ?1")
          .bind(1, id)
          .bind(2, nowMillis())
          .run();
    } else {
      bumpZoneSerial(db, id);
    }
    db.bumpZonesGeneration();
  });
  return created;
}

void deleteRecordSet(Database& db, const std::string& zone, const std::string& owner,
                     uint16_t type) {
  if (type == wire::type::SOA) {
    throw ConflictError("the SOA record cannot be deleted (delete the zone instead)");
  }
  db.transaction([&] {
    const int64_t id = zoneId(db, zone);
    db.prepare("DELETE FROM records WHERE zone_id = ?1 AND owner = ?2 AND type = ?3")
        .bind(1, id)
        .bind(2, owner)
        .bind(3, static_cast<int64_t>(type))
        .run();
    if (db.changes() == 0) {
      throw NotFoundError("no " + typeToText(type) + " RRset at " + owner + " in " + zone);
    }
    bumpZoneSerial(db, id);
    db.bumpZonesGeneration();
  });
}

void bumpZoneSerial(Database& db, int64_t zone_id) {
  auto soa = storedSoa(db, zone_id);
  if (soa && soa->size() >= kSerialFromEnd) {
    // Unsigned wrap is the RFC 1982 increment: 4294967295 + 1 = 0, still newer.
    setSoaSerial(*soa, soaSerial(*soa) + 1);
    db.prepare("UPDATE records SET rdata = ?2 WHERE zone_id = ?1 AND type = 6")
        .bind(1, zone_id)
        .bindBlob(2, soa->data(), soa->size())
        .run();
  }
  db.prepare("UPDATE zones SET updated_at = ?2 WHERE id = ?1")
      .bind(1, zone_id)
      .bind(2, nowMillis())
      .run();
}

std::vector<std::string> createZone(Database& db, const std::string& zone,
                                    const std::vector<std::string>& nameservers) {
  if (nameservers.empty()) {
    throw ValidationError("nameservers", "must list at least one nameserver");
  }
  if (zone.size() > kMaxOwnerText) {
    throw ValidationError("name", "is " + std::to_string(zone.size()) +
                                      " characters written out; a zone file holds at most 254 "
                                      "characters of an owner (each \\DDD escape counts 4)");
  }
  // NS and SOA rdata are built in wire form, not as text for ldns, which
  // reads an escaped ';' in a name ("ns1.a\\;b.") as a comment.
  ParsedZone parsed;
  parsed.name = zone;
  std::set<std::string> seen;
  std::string first;
  for (size_t i = 0; i < nameservers.size(); ++i) {
    const std::string& text = nameservers[i];
    std::string ns;
    try {
      ns = wire::canonicalName(!text.empty() && text.back() == '.' ? text : text + ".");
    } catch (const wire::NameError& e) {
      throw ValidationError(indexPath("nameservers", i), e.what());
    }
    if (!seen.insert(ns).second) {
      throw ValidationError(indexPath("nameservers", i), ns + " is listed twice");
    }
    if (first.empty()) first = ns;
    parsed.records.push_back({zone, wire::type::NS, 3600, wire::nameToWire(ns)});
  }
  // MNAME RNAME SERIAL REFRESH RETRY EXPIRE MINIMUM: a day's retries, two
  // weeks to expire, 5 minutes of negative caching (RFC 1912 2.2 ranges).
  std::string soa = wire::nameToWire(first);
  try {
    soa += wire::nameToWire("hostmaster." + (zone == "." ? "" : zone));
  } catch (const wire::NameError& e) {
    throw ValidationError("name", std::string("the SOA's RNAME hostmaster.<zone>: ") + e.what());
  }
  for (const uint32_t value : {1u, 10800u, 3600u, 1209600u, 300u}) {
    uint8_t field[4];
    wire::writeU32(field, value);
    soa.append(reinterpret_cast<const char*>(field), sizeof field);
  }
  parsed.records.insert(parsed.records.begin(), {zone, wire::type::SOA, 3600, soa});
  importZone(db, parsed, false);
  return missingGlue(parsed, [](size_t) { return std::string(); });
}

size_t importZone(Database& db, const ParsedZone& zone, bool replace) {
  db.transaction([&] {
    const int64_t now = nowMillis();
    int64_t id = 0;
    Statement existing = db.prepare("SELECT id FROM zones WHERE name = ?1");
    existing.bind(1, zone.name);
    std::optional<std::string> old_soa;
    if (existing.step()) {
      if (!replace) throw ConflictError("zone " + zone.name + " already exists");
      id = existing.columnInt(0);
      old_soa = storedSoa(db, id);
      checkZoneAgainstSteering(db, id, zone);
      db.prepare("DELETE FROM records WHERE zone_id = ?1").bind(1, id).run();
      db.prepare("UPDATE zones SET updated_at = ?2 WHERE id = ?1").bind(1, id).bind(2, now).run();
    } else {
      db.prepare("INSERT INTO zones(name, created_at, updated_at) VALUES (?1, ?2, ?2)")
          .bind(1, zone.name)
          .bind(2, now)
          .run();
      id = db.lastInsertId();
    }
    std::vector<ZoneRecord> records = zone.records;
    // A re-imported zone must look newer to secondaries even when the file
    // kept its old serial.
    for (ZoneRecord& r : records) {
      if (r.type == wire::type::SOA && old_soa &&
          !serialNewer(soaSerial(r.rdata), soaSerial(*old_soa))) {
        setSoaSerial(r.rdata, soaSerial(*old_soa) + 1);
      }
    }
    insertRecords(db, id, records);
    db.bumpZonesGeneration();
  });
  return zone.records.size();
}

}  // namespace meridian::zones
