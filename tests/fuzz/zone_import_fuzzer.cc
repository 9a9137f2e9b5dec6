// libFuzzer target: any bytes as a zone file, imported the way
// `meridianctl zone import` and the API do it. parseZoneText runs twice, as
// the user may call it: without a zone name (the SOA names the zone) and with
// the demo zone's name (`--zone`, or the URL of PUT /api/v1/zones/{zone}).
// Whatever parses is stored with storeZone into a real SQLite file that holds
// the demo zone and its steered names, so a file for that zone reaches the
// replace path: the steered-name conflicts and the serial rule.
//
// Beyond crashes, what is stored must be servable and must survive export:
//  - buildSnapshot (what meridiand's reload runs) compiles the database;
//  - exportZone's text parses back (its documented contract) to exactly the
//    stored records.
// An exception other than the documented refusals escapes and aborts.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "server/demo.h"
#include "server/snapshot.h"
#include "tests/fuzz/fuzz_db.h"
#include "zones/steering_store.h"
#include "zones/validation.h"
#include "zones/zone_io.h"

using namespace meridian;

namespace {

using RecordKey = std::tuple<std::string, uint16_t, uint32_t, std::string>;

std::vector<RecordKey> keys(const std::vector<zones::ZoneRecord>& records) {
  std::vector<RecordKey> out;
  for (const auto& r : records) out.emplace_back(r.owner, r.type, r.ttl, r.rdata);
  std::sort(out.begin(), out.end());
  return out;
}

std::string describe(const RecordKey& k) {
  return std::get<0>(k) + " " + zones::typeToText(std::get<1>(k)) + " " +
         std::to_string(std::get<2>(k)) + " " + zones::rdataToText(std::get<1>(k), std::get<3>(k));
}

void checkStored(zones::Database& db, const std::string& zone) {
  server::buildSnapshot(db, nullptr, nullptr, {}, zones::nowMillis());
  const std::string text = zones::exportZone(db, zone);
  const zones::ParsedZone again = zones::parseZoneText(text, "export", zone);
  const std::vector<RecordKey> stored = keys(zones::zoneRecords(db, zones::zoneId(db, zone)));
  const std::vector<RecordKey> read = keys(again.records);
  if (read != stored) {
    std::string what = "exported zone " + zone + " parses back to other records:\n" + text;
    for (const auto& k : stored) {
      if (!std::binary_search(read.begin(), read.end(), k)) {
        what += "lost: " + describe(k) + "\n";
      }
    }
    for (const auto& k : read) {
      if (!std::binary_search(stored.begin(), stored.end(), k)) {
        what += "new: " + describe(k) + "\n";
      }
    }
    fuzz::defect(what);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::FuzzDatabase database([](zones::Database& db) { server::seedDemo(db); });
  static zones::Database db(database.path());
  // MERIDIAN_FUZZ_VERBOSE=1: what each input got, to check what seeds reach.
  static const bool verbose = std::getenv("MERIDIAN_FUZZ_VERBOSE") != nullptr;
  auto say = [](const std::string& what) { std::fprintf(stderr, "%s\n", what.c_str()); };
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const std::optional<std::string>& zone_name :
       {std::optional<std::string>(), std::optional<std::string>(server::kDemoZoneName)}) {
    database.resetIfChanged();
    zones::ParsedZone parsed;
    try {
      parsed = zones::parseZoneText(text, "fuzz", zone_name);
    } catch (const zones::ZoneError& e) {
      if (verbose) say(std::string("refused: ") + e.what());
      continue;  // refused with a message: what the user sees
    }
    try {
      zones::storeZone(db, parsed);
    } catch (const zones::ValidationError& e) {
      if (verbose) say(std::string("not stored: ") + e.what());
      continue;
    } catch (const zones::ConflictError& e) {
      if (verbose) say(std::string("not stored: ") + e.what());
      continue;
    }
    checkStored(db, parsed.name);
    if (verbose)
      say("stored " + parsed.name + ": " + std::to_string(parsed.records.size()) + " records");
  }
  return 0;
}
