// tools/smoke against the real server: it passes on a correct deployment and
// fails (naming the record) when the server's data differs from the zone file.

#include <doctest/doctest.h>

#include <cstdlib>

#include "tests/support/dns_test_util.h"
#include "tests/support/example_zone.h"
#include "tests/support/process.h"
#include "zones/database.h"
#include "zones/zone_io.h"

using namespace meridian;
using namespace meridian::test;

TEST_CASE("tools/smoke passes against meridiand serving the zone file, and fails on a difference") {
  TempDir dir;
  const std::string zonefile = dir.file("example.com.zone");
  writeFile(zonefile, kExampleZone);
  {
    zones::Database db(dir.file("meridian.db"));
    zones::storeZone(db, zones::parseZoneFile(zonefile, "example.com."));
  }
  MeridiandProcess meridiand(dir.file("meridian.db"), dir.path());
  const std::string smoke = std::string(std::getenv("MERIDIAN_SOURCE_DIR")) + "/tools/smoke";
  const std::string base = smoke + " --server 127.0.0.1:" + std::to_string(meridiand.dnsPort()) +
                           " --zone example.com.";
  int status = -1;
  const std::string out = runCommand(base + " --zonefile " + zonefile, &status);
  INFO(out);
  CHECK(status == 0);
  CHECK(out.find("PASS  soa") != std::string::npos);
  CHECK(out.find("PASS  tcp") != std::string::npos);
  CHECK(out.find("PASS  edns") != std::string::npos);
  CHECK(out.find("PASS  records") != std::string::npos);
  CHECK(out.find("FAIL") == std::string::npos);

  std::string different = kExampleZone;
  different.replace(different.find("192.0.2.25"), 10, "192.0.2.26");
  writeFile(zonefile, different);
  const std::string bad = runCommand(base + " --zonefile " + zonefile, &status);
  CHECK(status == 1);
  CHECK(bad.find("FAIL  record       mail.example.com. A") != std::string::npos);
}
