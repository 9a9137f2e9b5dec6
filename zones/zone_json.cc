#include "zones/zone_json.h"

#include "zones/record_store.h"
#include "zones/steering_store.h"
#include "zones/validation.h"

namespace meridian::zones {

nlohmann::json toJson(const ZoneSummary& summary) {
  return {{"name", summary.name},
          {"serial", summary.serial},
          {"record_count", summary.records},
          {"updated_at", summary.updated_at}};
}

nlohmann::json zoneListJson(Database& db) {
  nlohmann::json out = nlohmann::json::array();
  for (const ZoneSummary& zone : listZones(db)) out.push_back(toJson(zone));
  return out;
}

nlohmann::json zoneJson(Database& db, const std::string& zone) {
  // Three queries, one view: the record count in the summary then matches
  // the rrsets listed after it.
  ReadTransaction view(db);
  const auto summary = findZone(db, zone);
  if (!summary) throw NotFoundError("zone " + zone + " does not exist");
  nlohmann::json doc = toJson(*summary);
  doc["rrsets"] = nlohmann::json::array();
  for (const RecordSet& rrset : listRecordSets(db, zone)) doc["rrsets"].push_back(toJson(rrset));
  doc["steering"] = nlohmann::json::array();
  for (const SteeredName& steered : listSteeredNames(db, zone)) {
    doc["steering"].push_back(toJson(steered));
  }
  return doc;
}

}  // namespace meridian::zones
