#pragma once
// Zone files in and out, through ldns: RFC 1035 master files to stored
// records, stored records back to text, and single RDATA text <-> wire for the
// API. Control plane only; errors are ZoneError exceptions naming the source,
// the line and the problem.

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "zones/database.h"

namespace meridian::zones {

class ZoneError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// A zone file uses a relative name where nothing says what it is relative
/// to (no $ORIGIN before it, no zone name given): callers can say how to give one.
class UnknownOriginError : public ZoneError {
 public:
  using ZoneError::ZoneError;
};

/// The longest owner name, written out as Meridian stores it (wire::wireToText),
/// that a zone file can hold: ldns reads at most 254 characters of an owner
/// (the longest name without escapes, 255 octets in wire form, is 254).
/// Only escapes make a name longer than that ("\\255" is one octet); such
/// owners are refused by parseZoneText and the API, since the zone could not
/// be exported and read back.
inline constexpr size_t kMaxOwnerText = 254;

/// One record, ready to store: canonical owner text, type code, TTL, wire rdata.
struct ZoneRecord {
  std::string owner;
  uint16_t type = 0;
  uint32_t ttl = 0;
  std::string rdata;
};

struct ParsedZone {
  std::string name;  // canonical zone name ("example.com.")
  std::vector<ZoneRecord> records;
  /// Problems that do not stop an import but that the user should hear
  /// about ("SOURCE:LINE: problem"), e.g. an in-zone nameserver without an address.
  std::vector<std::string> warnings;
};

/// Parses zone-file text. `source` names it in errors ("zones/x.zone", "request
/// body"). `zone_name` is the origin; without it, $ORIGIN must come before
/// any relative name (else UnknownOriginError: such a file is not silently
/// taken as the root zone) and the first SOA's owner names the zone.
/// Errors: class other than IN; no SOA, or one not at the apex, or two; no NS
/// RRset at the apex; an owner outside the zone; a CNAME beside other data; an
/// RRset too large for a DNS message. Warnings (in `warnings`): an NS target
/// inside the zone, at the apex or at a delegation, with no A or AAAA record
/// (missing glue), as kzonecheck and nsd-checkzone report it.
/// Throws ZoneError("SOURCE:LINE: problem").
ParsedZone parseZoneText(const std::string& text, const std::string& source,
                         const std::optional<std::string>& zone_name = std::nullopt);

/// Warnings for NS targets inside `zone` without an A or AAAA record there
/// (missing glue), one per NS owner and target; `where(i)` prefixes the
/// warning about record `i` (e.g. "SOURCE:LINE: ", or nothing).
std::vector<std::string> missingGlue(const ParsedZone& zone,
                                     const std::function<std::string(size_t)>& where);

/// Reads and parses a zone file from disk.
ParsedZone parseZoneFile(const std::string& path,
                         const std::optional<std::string>& zone_name = std::nullopt);

/// Stores `zone`, creating it or replacing its records: importZone(db, zone,
/// true) from zones/record_store.h, with every check that implies (steered
/// names, serial newer than the stored one). Nothing changes if it throws.
size_t storeZone(Database& db, const ParsedZone& zone);

struct ZoneSummary {
  std::string name;
  int64_t records = 0;
  uint32_t serial = 0;
  int64_t updated_at = 0;  // unix ms
};
std::vector<ZoneSummary> listZones(Database& db);
std::optional<ZoneSummary> findZone(Database& db, const std::string& name);

/// Deletes a zone and everything in it; false when it did not exist.
bool deleteZone(Database& db, const std::string& name);

/// The zone as RFC 1035 text in zoneRecords() order, re-parseable by
/// parseZoneText. Throws ZoneError if the zone does not exist.
std::string exportZone(Database& db, const std::string& name);

/// DNSSEC canonical order of names (RFC 4034 6.1): labels compared from the
/// rightmost, each as an octet string with ASCII letters lowercased, a label
/// that is a prefix of the other first; with all labels equal, fewer labels
/// first (so a zone's apex precedes every name in it). Takes uncompressed
/// wire names; returns <0, 0 or >0 as `a` sorts before, with or after `b`.
int canonicalCompare(std::string_view a, std::string_view b) noexcept;

/// Every record of zone `zone_id` in zone order, the one order `zone show`,
/// `zone export` and the API list records in: names in canonical order (the
/// apex first, its SOA leading), types ascending, records as stored.
std::vector<ZoneRecord> zoneRecords(Database& db, int64_t zone_id);

/// One record as presentation text ("www.example.com. 300 IN A 192.0.2.1").
std::string recordToText(const std::string& owner, uint16_t type, uint32_t ttl,
                         const std::string& rdata);

/// RDATA in presentation form ("10 mail.example.com.") to wire, for `type`.
/// Relative names are completed with `origin`. Throws ZoneError saying why.
std::string rdataFromText(uint16_t type, const std::string& text, const std::string& origin);
/// Wire RDATA to presentation text.
std::string rdataToText(uint16_t type, const std::string& rdata);

/// "A" -> 1, "TYPE65280" -> 65280; throws ZoneError for an unknown mnemonic.
uint16_t typeFromText(const std::string& text);
std::string typeToText(uint16_t type);

}  // namespace meridian::zones
