#include "zones/compiler.h"

#include <unordered_map>

#include "wire/name.h"

namespace meridian::zones {

namespace {
// Owner (wire) plus rdata of a typical record: a 20-octet name and an
// address; the bigzone bench's million records average 30.
constexpr size_t kTypicalRecordOctets = 32;
}  // namespace

std::shared_ptr<const ZoneTable> compileZones(Database& db,
                                              const std::vector<SteeredPlacement>& steered) {
  ZoneTableBuilder builder;
  // One read transaction: the zones and records we see are from one commit.
  ReadTransaction view(db);
  {
    std::unordered_map<int64_t, uint32_t> zone_index;
    {
      Statement zones = db.prepare("SELECT id, name FROM zones ORDER BY id");
      while (zones.step()) {
        zone_index[zones.columnInt(0)] = builder.addZone(wire::nameToWire(zones.columnText(1)));
      }
    }
    {
      // The count comes from an index, in a few ms for a million rows; the
      // octets are estimated (summing them would scan the rows twice). perf
      // of meridiand's start put a tenth of a million-record build in the
      // growth; tools/bench bigzone saw the memory fall, not the CPU time.
      Statement count = db.prepare("SELECT count(*) FROM records");
      if (count.step()) {
        const size_t n = static_cast<size_t>(count.columnInt(0));
        builder.reserve(n, n * kTypicalRecordOctets);
      }
    }
    Statement records = db.prepare(
        "SELECT zone_id, owner, type, ttl, rdata FROM records ORDER BY zone_id, owner, type, id");
    std::string last_owner_text;
    std::string owner_wire;
    while (records.step()) {
      const auto zone = zone_index.find(records.columnInt(0));
      if (zone == zone_index.end()) continue;
      std::string owner_text = records.columnText(1);
      // Records arrive grouped by owner; convert each owner name only once.
      if (owner_text != last_owner_text) {
        owner_wire = wire::nameToWire(owner_text);
        last_owner_text = std::move(owner_text);
      }
      builder.addRecord(zone->second, owner_wire, static_cast<uint16_t>(records.columnInt(2)),
                        static_cast<uint32_t>(records.columnInt(3)), records.columnBlob(4));
    }
    for (const SteeredPlacement& s : steered) {
      const auto zone = zone_index.find(s.zone_id);
      if (zone == zone_index.end()) continue;
      builder.addSteered(zone->second, wire::nameToWire(s.owner), s.type, s.ttl, s.index);
    }
  }
  return builder.build();
}

}  // namespace meridian::zones
