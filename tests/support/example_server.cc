#include "tests/support/example_server.h"

#include "tests/support/example_zone.h"
#include "zones/database.h"
#include "zones/zone_io.h"

namespace meridian::test {

ExampleZoneServer::ExampleZoneServer(const std::vector<std::string>& extra) {
  {
    zones::Database database(db);
    zones::storeZone(database, zones::parseZoneText(kExampleZone, "test", "example.com."));
  }
  meridiand = std::make_unique<MeridiandProcess>(db, dir.path(), extra);
}

std::map<std::string, double> ExampleZoneServer::metrics() const {
  // meridiand writes its generated API token next to the database.
  const std::string text =
      runCommand("curl -s -H \"Authorization: Bearer $(cat " + db +
                 ".token)\" http://127.0.0.1:" + std::to_string(meridiand->apiPort()) + "/metrics");
  std::map<std::string, double> out;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(at, end - at);
    at = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    if (space == std::string::npos) continue;
    out[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return out;
}

double ExampleZoneServer::metric(const std::string& sample) const {
  const auto all = metrics();
  const auto it = all.find(sample);
  return it == all.end() ? -1 : it->second;
}

}  // namespace meridian::test
