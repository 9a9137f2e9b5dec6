#include "zones/zone_io.h"

// ldns's common.h defines bool/true/false as macros in C++ unless
// <stdbool.h> came first; those macros break later standard headers.
#include <stdbool.h>

#include <ldns/ldns.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>
#include <set>
#include <sstream>

#include "wire/constants.h"
#include "wire/name.h"
#include "zones/record_store.h"
#include "zones/zone_table.h"

namespace meridian::zones {

namespace {

// RAII holders for the ldns and stdio objects used below.
struct RdfDeleter {
  void operator()(ldns_rdf* rdf) const { ldns_rdf_deep_free(rdf); }
};
using RdfPtr = std::unique_ptr<ldns_rdf, RdfDeleter>;
struct RrDeleter {
  void operator()(ldns_rr* rr) const { ldns_rr_free(rr); }
};
using RrPtr = std::unique_ptr<ldns_rr, RrDeleter>;
struct BufferDeleter {
  void operator()(ldns_buffer* b) const { ldns_buffer_free(b); }
};
using BufferPtr = std::unique_ptr<ldns_buffer, BufferDeleter>;
struct FileCloser {
  void operator()(FILE* f) const { std::fclose(f); }
};

std::string takeString(char* text) {
  std::string s = text ? text : "";
  free(text);
  return s;
}

constexpr uint32_t kMaxTtl = 2147483647;  // RFC 2181 section 8

// The origin while a file has given none; see parseZoneText.
constexpr const char* kUnknownOrigin = "origin-not-given.meridian.invalid.";

// A name of `rr` (owner or a name in its rdata) that was completed with
// `unknown`, as the file wrote it ("www", "@"), or "" when there is none.
std::string relativeName(const ldns_rr* rr, const ldns_rdf* unknown) {
  auto written = [&](const ldns_rdf* name) -> std::string {
    if (ldns_dname_compare(name, unknown) == 0) return "@";
    if (!ldns_dname_is_subdomain(name, unknown)) return {};
    std::string text = takeString(ldns_rdf2str(name));
    const std::string suffix = std::string(".") + kUnknownOrigin;
    if (text.size() > suffix.size()) text.resize(text.size() - suffix.size());
    return text;
  };
  std::string found = written(ldns_rr_owner(rr));
  for (size_t i = 0; found.empty() && i < ldns_rr_rd_count(rr); ++i) {
    const ldns_rdf* field = ldns_rr_rdf(rr, i);
    if (ldns_rdf_get_type(field) == LDNS_RDF_TYPE_DNAME) found = written(field);
  }
  return found;
}

// ldns reads "TYPEn" with atoi and keeps any n; a record type is 16 bits
// (RFC 3597 section 5), so a larger n would be stored as n mod 65536.
std::string typeRangeError(const std::string& text) {
  return "record type \"" + text + "\" is out of range: TYPEn takes n up to 65535";
}

// ldns accepts RFC 3597 generic rdata ("NS \\# 0", "MX \\# 2 000a") with
// fewer fields than the type has, e.g. an NS without its name; such a record
// would be stored and then fail every zone-table build. Unknown types carry
// opaque rdata and are not checked.
void checkFieldCount(const ldns_rr* rr, uint16_t type) {
  const ldns_rr_descriptor* descriptor = ldns_rr_descript(type);
  if (descriptor == nullptr || static_cast<uint32_t>(descriptor->_type) != type) return;
  const size_t needed = ldns_rr_descriptor_minimum(descriptor);
  if (ldns_rr_rd_count(rr) < needed) {
    throw ZoneError(typeToText(type) + " rdata needs at least " + std::to_string(needed) +
                    " fields, has " + std::to_string(ldns_rr_rd_count(rr)));
  }
}

std::string rdataWire(const ldns_rr* rr) {
  BufferPtr buffer(ldns_buffer_new(512));
  if (ldns_rr_rdata2buffer_wire(buffer.get(), rr) != LDNS_STATUS_OK) {
    throw ZoneError("cannot encode rdata");
  }
  return std::string(reinterpret_cast<const char*>(ldns_buffer_begin(buffer.get())),
                     ldns_buffer_position(buffer.get()));
}

// Meridian's canonical text (wire::wireToText), not ldns's: the two escape
// differently ('$' is bare in ldns's, "\\$" in ours), and every lookup by
// name (API, meridianctl) goes through wire::canonicalName.
std::string ownerText(const ldns_rr* rr) {
  RdfPtr owner(ldns_rdf_clone(ldns_rr_owner(rr)));
  ldns_dname2canonical(owner.get());
  return wire::wireToText(ldns_rdf_data(owner.get()), ldns_rdf_size(owner.get()));
}

// Line `number` (1-based) of `text`, trimmed, for error messages.
std::string lineOf(const std::string& text, int number) {
  size_t start = 0;
  for (int i = 1; i < number && start != std::string::npos; ++i) {
    start = text.find('\n', start);
    if (start != std::string::npos) ++start;
  }
  if (start == std::string::npos || start >= text.size()) return {};
  std::string line = text.substr(start, text.find('\n', start) - start);
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line.size() > 120 ? line.substr(0, 120) + "..." : line;
}

// `wire` with its letters lowercased (labels' length octets left alone).
std::string lowercaseWire(std::string wire) {
  for (size_t at = 0; at < wire.size() && wire[at] != 0; at += 1 + static_cast<uint8_t>(wire[at])) {
    for (size_t k = at + 1; k <= at + static_cast<uint8_t>(wire[at]) && k < wire.size(); ++k) {
      wire[k] = static_cast<char>(wire::asciiLower(static_cast<uint8_t>(wire[k])));
    }
  }
  return wire;
}

// Checks that need the whole zone: the SOA, owners inside the zone, CNAME
// exclusivity (RFC 1034 3.6.2, RFC 2181 10.1), RRset sizes, and nameservers.
void validateZone(ParsedZone& zone, const std::vector<int>& lines, const std::string& source) {
  auto where = [&](size_t i) { return source + ":" + std::to_string(lines[i]) + ": "; };
  const std::string apex = wire::nameToWire(zone.name);
  size_t soa_count = 0;
  for (size_t i = 0; i < zone.records.size(); ++i) {
    const ZoneRecord& r = zone.records[i];
    if (r.owner.size() > kMaxOwnerText) {
      throw ZoneError(where(i) + "owner " + r.owner.substr(0, 40) + "... is " +
                      std::to_string(r.owner.size()) +
                      " characters written out; a zone file holds at most 254 characters of an "
                      "owner (each \\DDD escape counts 4)");
    }
    const std::string owner = wire::nameToWire(r.owner);
    if (!wire::isSubdomain(owner, apex)) {
      throw ZoneError(where(i) + r.owner + " is outside zone " + zone.name);
    }
    if (r.type == wire::type::SOA) {
      if (owner != apex) throw ZoneError(where(i) + "SOA record at " + r.owner + ", not at the apex " + zone.name);
      if (++soa_count > 1) throw ZoneError(where(i) + "second SOA record for " + zone.name);
    }
  }
  if (soa_count == 0) throw ZoneError(source + ": zone " + zone.name + " has no SOA record");

  std::vector<size_t> order(zone.records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const ZoneRecord& x = zone.records[a];
    const ZoneRecord& y = zone.records[b];
    return x.owner != y.owner ? x.owner < y.owner : x.type < y.type;
  });
  size_t i = 0;
  while (i < order.size()) {
    const std::string& owner = zone.records[order[i]].owner;
    size_t end = i;
    int cnames = 0;
    size_t cname_at = 0;
    bool other_data = false;
    while (end < order.size() && zone.records[order[end]].owner == owner) {
      const uint16_t type = zone.records[order[end]].type;
      if (type == wire::type::CNAME) {
        ++cnames;
        cname_at = order[end];
      } else if (type != wire::type::RRSIG && type != 47 /* NSEC */) {
        other_data = true;
      }
      ++end;
    }
    if (cnames > 1) throw ZoneError(where(cname_at) + owner + " has more than one CNAME record");
    if (cnames == 1 && other_data) {
      throw ZoneError(where(cname_at) + owner + " has a CNAME and other data (RFC 1034 3.6.2)");
    }
    // RRset sizes, as encoded with a compressed owner.
    size_t j = i;
    while (j < end) {
      const uint16_t type = zone.records[order[j]].type;
      size_t bytes = 0;
      const size_t first = order[j];
      while (j < end && zone.records[order[j]].type == type) {
        bytes += 12 + zone.records[order[j]].rdata.size();
        ++j;
      }
      if (bytes > kMaxRRsetWire) {
        throw ZoneError(where(first) + "RRset " + owner + " " + typeToText(type) +
                        " is too large for a DNS message (" + std::to_string(bytes) + " octets)");
      }
    }
    i = end;
  }
  // The apex must have NS records (RFC 1034 4.2.1): without them the zone
  // cannot be delegated to, and resolvers that ask for them get nothing.
  const bool apex_ns =
      std::any_of(zone.records.begin(), zone.records.end(), [&](const ZoneRecord& r) {
        return r.type == wire::type::NS && wire::nameToWire(r.owner) == apex;
      });
  if (!apex_ns) throw ZoneError(source + ": zone " + zone.name + " has no NS records at its apex");
  zone.warnings = missingGlue(zone, where);
}

}  // namespace

// An NS target inside the zone needs an address in it: at a delegation it
// is the glue a resolver cannot get elsewhere, at the apex the parent's glue
// should match it. A warning, not an error, as kzonecheck and nsd-checkzone
// report it: the address may be added next.
std::vector<std::string> missingGlue(const ParsedZone& zone,
                                     const std::function<std::string(size_t)>& where) {
  const std::string apex = wire::nameToWire(zone.name);
  std::set<std::string> with_address;
  for (const ZoneRecord& r : zone.records) {
    if (r.type == wire::type::A || r.type == wire::type::AAAA) {
      with_address.insert(wire::nameToWire(r.owner));
    }
  }
  std::vector<std::string> warnings;
  std::set<std::pair<std::string, std::string>> reported;
  for (size_t i = 0; i < zone.records.size(); ++i) {
    const ZoneRecord& r = zone.records[i];
    if (r.type != wire::type::NS) continue;
    const std::string target = lowercaseWire(r.rdata);
    if (!wire::isSubdomain(target, apex) || with_address.count(target)) continue;
    const std::string text = wire::wireToText(target);
    if (!reported.insert({r.owner, text}).second) continue;
    warnings.push_back(where(i) + "nameserver " + text + " of " + r.owner +
                       " is inside the zone but has no A or AAAA record (missing glue)");
  }
  return warnings;
}

uint16_t typeFromText(const std::string& text) {
  const uint32_t type = static_cast<uint32_t>(ldns_get_rr_type_by_name(text.c_str()));
  if (type == 0) throw ZoneError("unknown record type \"" + text + "\"");
  if (type > 0xFFFF) throw ZoneError(typeRangeError(text));
  return static_cast<uint16_t>(type);
}

std::string typeToText(uint16_t type) {
  return takeString(ldns_rr_type2str(static_cast<ldns_rr_type>(type)));
}

ParsedZone parseZoneText(const std::string& text, const std::string& source,
                         const std::optional<std::string>& zone_name) {
  ParsedZone zone;
  std::vector<int> lines;
  if (text.empty()) throw ZoneError(source + ": zone file is empty");
  // ldns reads through C strings and drops what follows a NUL in a token:
  // "ab<NUL>cd" became "abcd". A zero byte in data is written \000.
  if (const size_t nul = text.find('\0'); nul != std::string::npos) {
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(nul), '\n');
    throw ZoneError(source + ":" + std::to_string(line) +
                    ": contains a NUL byte; write a zero byte in data as \\000");
  }
  ldns_rdf* origin = nullptr;
  if (zone_name) {
    try {
      zone.name = wire::canonicalName(*zone_name);
    } catch (const wire::NameError& e) {
      throw ZoneError(std::string("zone name: ") + e.what());
    }
    origin = ldns_dname_new_frm_str(zone.name.c_str());
  } else {
    // Without an origin ldns completes relative names with the root, and a
    // file written for NSD or Knot (origin in their configuration, not in the
    // file) would become the root zone. Complete them with a name that cannot
    // be real (RFC 6761 .invalid) and refuse any name that ends up below it.
    origin = ldns_dname_new_frm_str(kUnknownOrigin);
  }
  const RdfPtr unknown_origin(ldns_dname_new_frm_str(kUnknownOrigin));
  ldns_rdf* previous = nullptr;
  // ldns replaces *origin and *previous as it reads ($ORIGIN, owners); free
  // whatever they hold last, on every way out.
  struct Release {
    ldns_rdf*& origin;
    ldns_rdf*& previous;
    ~Release() {
      ldns_rdf_deep_free(origin);
      ldns_rdf_deep_free(previous);
    }
  } release{origin, previous};
  std::unique_ptr<FILE, FileCloser> fp(
      fmemopen(const_cast<char*>(text.data()), text.size(), "r"));
  if (!fp) throw ZoneError(source + ": cannot read");

  uint32_t default_ttl = 3600;
  int line = 1;
  ldns_status status = LDNS_STATUS_OK;
  std::string error;
  while (!std::feof(fp.get())) {
    ldns_rr* raw = nullptr;
    // ldns reads one entry per call and counts the lines it consumed, so the
    // entry (record or error) starts on the line counted before the call.
    const int entry_line = line;
    status = ldns_rr_new_frm_fp_l(&raw, fp.get(), &default_ttl, &origin, &previous, &line);
    if (status == LDNS_STATUS_SYNTAX_EMPTY || status == LDNS_STATUS_SYNTAX_TTL ||
        status == LDNS_STATUS_SYNTAX_ORIGIN) {
      continue;
    }
    const std::string where = source + ":" + std::to_string(entry_line) + ": ";
    if (status == LDNS_STATUS_SYNTAX_INCLUDE) {
      error = where + "$INCLUDE is not supported";
      break;
    }
    if (status != LDNS_STATUS_OK) {
      error = where + ldns_get_errorstr_by_id(status) + " in \"" + lineOf(text, entry_line) + "\"";
      break;
    }
    RrPtr rr(raw);
    if (const std::string relative = zone_name ? "" : relativeName(rr.get(), unknown_origin.get());
        !relative.empty()) {
      throw UnknownOriginError(where + "relative name \"" + relative +
                               "\" but no origin to complete it: no $ORIGIN before it and no "
                               "zone name given");
    }
    if (ldns_rr_get_class(rr.get()) != LDNS_RR_CLASS_IN) {
      error = where + "only class IN is served";
      break;
    }
    if (ldns_rr_ttl(rr.get()) > kMaxTtl) {
      error = where + "TTL above 2147483647";
      break;
    }
    // Read as an integer straight away: ldns stores "TYPE123456789" as is,
    // which is outside both the enum's range and the 16 bits a type has.
    const uint32_t type = static_cast<uint32_t>(ldns_rr_get_type(rr.get()));
    if (type > 0xFFFF) {
      error = where + typeRangeError("TYPE" + std::to_string(type));
      break;
    }
    ZoneRecord record;
    record.owner = ownerText(rr.get());
    record.type = static_cast<uint16_t>(type);
    record.ttl = ldns_rr_ttl(rr.get());
    try {
      checkFieldCount(rr.get(), record.type);
      record.rdata = rdataWire(rr.get());
    } catch (const ZoneError& e) {
      error = where + e.what();
      break;
    }
    if (zone.name.empty() && record.type == wire::type::SOA) zone.name = record.owner;
    zone.records.push_back(std::move(record));
    lines.push_back(entry_line);
  }
  if (!error.empty()) throw ZoneError(error);
  if (zone.name.empty()) throw ZoneError(source + ": no zone name given and no SOA record found");
  validateZone(zone, lines, source);
  return zone;
}

ParsedZone parseZoneFile(const std::string& path, const std::optional<std::string>& zone_name) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ZoneError(path + ": cannot open");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return parseZoneText(buffer.str(), path, zone_name);
}

size_t storeZone(Database& db, const ParsedZone& zone) { return importZone(db, zone, true); }

namespace {

ZoneSummary summaryFrom(Database& db, Statement& row) {
  ZoneSummary s;
  s.name = row.columnText(1);
  s.updated_at = row.columnInt(2);
  Statement count = db.prepare("SELECT count(*) FROM records WHERE zone_id = ?1");
  count.bind(1, row.columnInt(0));
  count.step();
  s.records = count.columnInt(0);
  Statement soa = db.prepare("SELECT rdata FROM records WHERE zone_id = ?1 AND type = 6");
  soa.bind(1, row.columnInt(0));
  if (soa.step()) {
    const std::string_view rdata = soa.columnBlob(0);
    if (rdata.size() >= 20) {
      s.serial = wire::readU32(reinterpret_cast<const uint8_t*>(rdata.data() + rdata.size() - 20));
    }
  }
  return s;
}

}  // namespace

std::vector<ZoneSummary> listZones(Database& db) {
  std::vector<ZoneSummary> zones;
  Statement rows = db.prepare("SELECT id, name, updated_at FROM zones ORDER BY name");
  while (rows.step()) zones.push_back(summaryFrom(db, rows));
  return zones;
}

std::optional<ZoneSummary> findZone(Database& db, const std::string& name) {
  Statement rows = db.prepare("SELECT id, name, updated_at FROM zones WHERE name = ?1");
  rows.bind(1, wire::canonicalName(name));
  if (!rows.step()) return std::nullopt;
  return summaryFrom(db, rows);
}

bool deleteZone(Database& db, const std::string& name) {
  bool deleted = false;
  const std::string canonical = wire::canonicalName(name);
  db.transaction([&] {
    db.prepare("DELETE FROM zones WHERE name = ?1").bind(1, canonical).run();
    deleted = db.changes() > 0;
    if (deleted) db.bumpZonesGeneration();
  });
  return deleted;
}

std::string recordToText(const std::string& owner, uint16_t type, uint32_t ttl,
                         const std::string& rdata) {
  std::string message = wire::nameToWire(owner, {}, false);
  const size_t owner_length = message.size();
  message.resize(owner_length + 10);
  auto* p = reinterpret_cast<uint8_t*>(message.data() + owner_length);
  wire::writeU16(p, type);
  wire::writeU16(p + 2, wire::qclass::IN);
  wire::writeU32(p + 4, ttl);
  wire::writeU16(p + 8, static_cast<uint16_t>(rdata.size()));
  message += rdata;
  ldns_rr* raw = nullptr;
  size_t pos = 0;
  if (ldns_wire2rr(&raw, reinterpret_cast<const uint8_t*>(message.data()), message.size(), &pos,
                   LDNS_SECTION_ANSWER) != LDNS_STATUS_OK) {
    throw ZoneError("stored record for " + owner + " cannot be decoded");
  }
  RrPtr rr(raw);
  // ldns_rr2str's layout ("owner<TAB>ttl<TAB>IN<TAB>type<TAB>rdata", fields
  // of the rdata separated by spaces), but names in Meridian's text: ldns
  // prints '"', '$' and '@' in names bare, and its own parser then reads an
  // owner `a".example.` as the start of a quoted string, so a '(' in a TXT
  // after it opens a group that swallows the next records. Nor does it add
  // ldns's " ;{id = N}" comment to DNSKEY rdata, which the API refuses.
  auto nameText = [](const ldns_rdf* name) {
    return wire::wireToText(ldns_rdf_data(name), ldns_rdf_size(name));
  };
  std::string text = nameText(ldns_rr_owner(rr.get())) + "\t" + std::to_string(ttl) + "\tIN\t" +
                     typeToText(type) + "\t";
  if (ldns_rr_rd_count(rr.get()) == 0) text += "\\# 0";
  for (size_t i = 0; i < ldns_rr_rd_count(rr.get()); ++i) {
    const ldns_rdf* field = ldns_rr_rdf(rr.get(), i);
    if (i > 0) text += ' ';
    text += ldns_rdf_get_type(field) == LDNS_RDF_TYPE_DNAME ? nameText(field)
                                                            : takeString(ldns_rdf2str(field));
  }
  return text;
}

std::string rdataToText(uint16_t type, const std::string& rdata) {
  // recordToText prints "owner<TAB>ttl<TAB>class<TAB>type<TAB>rdata"; keep the rdata.
  const std::string text = recordToText(".", type, 0, rdata);
  size_t pos = 0;
  for (int field = 0; field < 4; ++field) {
    pos = text.find('\t', pos);
    if (pos == std::string::npos) return {};
    ++pos;
  }
  return text.substr(pos);
}

std::string rdataFromText(uint16_t type, const std::string& text, const std::string& origin) {
  if (text.find_first_of("\n\r;") != std::string::npos) {
    throw ZoneError("rdata \"" + text + "\" may not contain newlines or comments");
  }
  if (text.find_first_not_of(" \t") == std::string::npos) throw ZoneError("rdata is empty");
  const std::string line = origin + " 0 IN " + typeToText(type) + " " + text;
  RdfPtr origin_rdf(ldns_dname_new_frm_str(origin.c_str()));
  ldns_rr* raw = nullptr;
  const ldns_status status = ldns_rr_new_frm_str(&raw, line.c_str(), 0, origin_rdf.get(), nullptr);
  if (status != LDNS_STATUS_OK) {
    throw ZoneError("invalid " + typeToText(type) + " rdata \"" + text + "\": " +
                    ldns_get_errorstr_by_id(status));
  }
  RrPtr rr(raw);
  if (ldns_rr_rd_count(rr.get()) == 0) {
    throw ZoneError("invalid " + typeToText(type) + " rdata \"" + text + "\"");
  }
  try {
    checkFieldCount(rr.get(), type);
  } catch (const ZoneError& e) {
    throw ZoneError("invalid " + typeToText(type) + " rdata \"" + text + "\": " + e.what());
  }
  return rdataWire(rr.get());
}

int canonicalCompare(std::string_view a, std::string_view b) noexcept {
  // Where each label starts; a wire name has at most 127 labels.
  uint8_t a_at[wire::kMaxLabels];
  uint8_t b_at[wire::kMaxLabels];
  auto labels = [](std::string_view name, uint8_t* at) {
    size_t count = 0;
    for (size_t pos = 0; pos < name.size() && name[pos] != 0 && count < wire::kMaxLabels;
         pos += 1 + static_cast<uint8_t>(name[pos])) {
      at[count++] = static_cast<uint8_t>(pos);
    }
    return count;
  };
  size_t i = labels(a, a_at);
  size_t j = labels(b, b_at);
  // Example: "z.example." vs "\001.z.example.": "example" = "example",
  // "z" = "z", then a has no label left and sorts first.
  while (i > 0 && j > 0) {
    --i;
    --j;
    const auto* x = reinterpret_cast<const uint8_t*>(a.data() + a_at[i]);
    const auto* y = reinterpret_cast<const uint8_t*>(b.data() + b_at[j]);
    const size_t common = std::min(x[0], y[0]);
    for (size_t k = 1; k <= common; ++k) {
      const uint8_t cx = wire::asciiLower(x[k]);
      const uint8_t cy = wire::asciiLower(y[k]);
      if (cx != cy) return cx < cy ? -1 : 1;
    }
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
  }
  if (i != j) return i < j ? -1 : 1;
  return 0;
}

std::vector<ZoneRecord> zoneRecords(Database& db, int64_t zone_id) {
  std::vector<ZoneRecord> records;
  Statement rows =
      db.prepare("SELECT owner, type, ttl, rdata FROM records WHERE zone_id = ?1 ORDER BY id");
  rows.bind(1, zone_id);
  while (rows.step()) {
    records.push_back({rows.columnText(0), static_cast<uint16_t>(rows.columnInt(1)),
                       static_cast<uint32_t>(rows.columnInt(2)), std::string(rows.columnBlob(3))});
  }
  // Sort keys once, not per comparison.
  std::vector<std::string> keys(records.size());
  for (size_t i = 0; i < records.size(); ++i) keys[i] = wire::nameToWire(records[i].owner);
  std::vector<size_t> order(records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    if (const int c = canonicalCompare(keys[x], keys[y]); c != 0) return c < 0;
    const uint16_t tx = records[x].type, ty = records[y].type;
    // The SOA leads (RFC 1035 5.2 expects it first in a zone file).
    if ((tx == wire::type::SOA) != (ty == wire::type::SOA)) return tx == wire::type::SOA;
    return tx < ty;
  });
  std::vector<ZoneRecord> sorted;
  sorted.reserve(records.size());
  for (size_t i : order) sorted.push_back(std::move(records[i]));
  return sorted;
}

std::string exportZone(Database& db, const std::string& name) {
  const std::string canonical = wire::canonicalName(name);
  Statement zone = db.prepare("SELECT id FROM zones WHERE name = ?1");
  zone.bind(1, canonical);
  if (!zone.step()) throw ZoneError("zone " + canonical + " does not exist");
  const int64_t zone_id = zone.columnInt(0);
  std::string out = "; zone " + canonical + " exported by meridianctl\n$ORIGIN " + canonical + "\n";
  for (const ZoneRecord& r : zoneRecords(db, zone_id)) {
    out += recordToText(r.owner, r.type, r.ttl, r.rdata);
    out += '\n';
  }
  return out;
}

}  // namespace meridian::zones
