#pragma once
// Zone contents through the API and meridianctl: create a zone from a
// nameserver list, import a parsed zone file, and read, replace or delete one
// RRset. Each write is one Database::transaction, bumps the zones generation
// (and with it the configuration generation), and bumps the zone's SOA serial
// (RFC 1982 arithmetic) so secondaries see the change.
//
// Collisions with steered names are ConflictErrors (API 409): a CNAME or a
// delegation at a steered owner, or a static A/AAAA RRset of the steered type.
//
// Threads: any thread, with its own Database.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "zones/database.h"
#include "zones/zone_io.h"

namespace meridian::zones {

/// One RRset in presentation form.
struct RecordSet {
  std::string name;  // canonical owner
  uint16_t type = 0;
  uint32_t ttl = 0;                  // 0..2147483647
  std::vector<std::string> records;  // rdata in presentation format
};

/// {"name":"www.example.com.","type":"A","ttl":300,"records":["192.0.2.1"]}
nlohmann::json toJson(const RecordSet& rrset);

/// Parses a PUT body {"ttl":300,"records":["192.0.2.1"]} for `owner`/`type`
/// in `zone`. Each record's rdata goes through ldns (rdataFromText); relative
/// names in rdata are completed with the zone name. Checks meta types, SOA and
/// CNAME shape, duplicates and the RRset's encoded size.
RecordSet parseRecordSet(const nlohmann::json& body, const std::string& zone,
                         const std::string& owner, uint16_t type);

/// Every RRset of the zone in zoneRecords() order: canonical name order
/// (RFC 4034 6.1), the apex and its SOA first, then by type.
std::vector<RecordSet> listRecordSets(Database& db, const std::string& zone);

/// Creates or replaces the RRset; returns true when created. A new SOA keeps
/// its serial only when it is newer than the stored one (else stored + 1).
bool putRecordSet(Database& db, const std::string& zone, const RecordSet& rrset);
/// NotFoundError when absent; ConflictError for the SOA.
void deleteRecordSet(Database& db, const std::string& zone, const std::string& owner,
                     uint16_t type);

/// New zone with a generated SOA (MNAME = first nameserver, RNAME =
/// hostmaster.<zone>, serial 1) and the NS RRset. ConflictError when it exists.
/// Nameserver names are absolute (a trailing dot is added when missing).
/// Returns warnings: nameservers inside the zone, which have no address yet
/// (missing glue; add their A/AAAA records next).
std::vector<std::string> createZone(Database& db, const std::string& zone,
                                    const std::vector<std::string>& nameservers);

/// Stores a parsed zone file. An existing zone is a ConflictError unless
/// `replace`; a replaced zone keeps a serial newer than before. Returns the
/// number of records stored.
size_t importZone(Database& db, const ParsedZone& zone, bool replace);

/// Inside a transaction: SOA serial + 1 and updated_at = now.
void bumpZoneSerial(Database& db, int64_t zone_id);

}  // namespace meridian::zones
