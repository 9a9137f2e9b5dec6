#include "zones/vantage_store.h"

namespace meridian::zones {

std::vector<VantageHeartbeat> readVantageHeartbeats(Database& db) {
  std::vector<VantageHeartbeat> out;
  Statement rows = db.prepare("SELECT name, last_write FROM vantages ORDER BY name");
  while (rows.step()) out.push_back({rows.columnText(0), rows.columnInt(1)});
  return out;
}

}  // namespace meridian::zones
