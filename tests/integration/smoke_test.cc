// tools/smoke against the real server: it passes on a correct deployment and
// fails (naming the record) when the server's data differs from the zone file
// or the database; it finds meridianctl for --db, or says clearly why not.

#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>

#include "tests/support/dns_test_util.h"
#include "tests/support/example_zone.h"
#include "tests/support/process.h"
#include "zones/database.h"
#include "zones/model.h"
#include "zones/record_store.h"
#include "zones/steering_store.h"
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

namespace {

// A database holding the example zone and one steered name, lb.example.com.
// (failover to a single region, so every client gets 198.51.100.7).
void seedSteered(const std::string& db_path, const std::string& zone_text) {
  zones::Database db(db_path);
  zones::storeZone(db, zones::parseZoneText(zone_text, "example.com.zone", "example.com."));
  zones::Region region;
  region.name = "eu-west";
  region.latitude = 53.35;
  region.longitude = -6.26;
  zones::createRegion(db, region);
  zones::Endpoint endpoint;
  endpoint.name = "eu-west-1";
  endpoint.region = "eu-west";
  endpoint.address = "198.51.100.7";
  zones::createEndpoint(db, endpoint);
  zones::SteeredName steered;
  steered.zone = "example.com.";
  steered.owner = "lb.example.com.";
  steered.type = 1;
  steered.policy = zones::Policy::kFailover;
  steered.regions = {"eu-west"};
  zones::putSteeredName(db, steered);
}

bool has(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("tools/smoke --db with --expect checks the records and the steering both") {
  TempDir dir;
  const std::string db = dir.file("meridian.db");
  seedSteered(db, kExampleZone);
  MeridiandProcess meridiand(db, dir.path(), {"--no-geodb"});
  const std::string smoke = std::string(std::getenv("MERIDIAN_SOURCE_DIR")) + "/tools/smoke";
  const std::string base = smoke + " --server 127.0.0.1:" + std::to_string(meridiand.dnsPort()) +
                           " --zone example.com. --meridianctl " +
                           buildPath("tools/meridianctl/meridianctl") + " --db " + db +
                           " --name lb.example.com. --expect 192.0.2.0/24=eu-west";
  int status = -1;
  std::string out = runCommand(base + " 2>&1", &status);
  INFO(out);
  CHECK(status == 0);
  CHECK(has(out, "PASS  records"));
  CHECK(has(out, "PASS  steering     192.0.2.0/24         -> 198.51.100.7 (eu-west)"));

  // A record that differs from what is served fails the run even with
  // --expect: smoke reads a second database whose mail A differs.
  const std::string stale = dir.file("stale.db");
  std::string different = kExampleZone;
  different.replace(different.find("192.0.2.25"), 10, "192.0.2.26");
  seedSteered(stale, different);
  std::string stale_base = base;
  stale_base.replace(stale_base.find(" --db " + db), 6 + db.size(), " --db " + stale);
  out = runCommand(stale_base + " 2>&1", &status);
  CHECK(status == 1);
  CHECK(has(out, "FAIL  record       mail.example.com. A"));
  CHECK(has(out, "PASS  steering"));
}

TEST_CASE("tools/smoke finds meridianctl next to itself, and says so clearly when it cannot") {
  TempDir dir;
  const std::string db = dir.file("meridian.db");
  seedSteered(db, kExampleZone);
  MeridiandProcess meridiand(db, dir.path(), {"--no-geodb"});
  // A copy of the repository's layout: tools/smoke and build/tools/meridianctl.
  const std::string repo = dir.file("repo");
  std::filesystem::create_directories(repo + "/tools");
  std::filesystem::create_directories(repo + "/build/tools/meridianctl");
  std::filesystem::copy_file(std::string(std::getenv("MERIDIAN_SOURCE_DIR")) + "/tools/smoke",
                             repo + "/tools/smoke");
  const std::string args = " --server 127.0.0.1:" + std::to_string(meridiand.dnsPort()) +
                           " --zone example.com. --db " + db + " 2>&1";
  // PATH without any meridianctl: only the layout can supply it.
  const std::string env = "env PATH=/usr/bin:/bin ";
  int status = -1;
  std::string out = runCommand(env + repo + "/tools/smoke" + args, &status);
  INFO(out);
  CHECK(status == 2);
  CHECK(has(out, "smoke: --db needs meridianctl to export the zone, and it is neither at " + repo +
                     "/build/tools/meridianctl/meridianctl nor on PATH"));
  CHECK_FALSE(has(out, "Traceback"));

  std::filesystem::create_symlink(buildPath("tools/meridianctl/meridianctl"),
                                  repo + "/build/tools/meridianctl/meridianctl");
  out = runCommand(env + repo + "/tools/smoke" + args, &status);
  CHECK(status == 0);
  CHECK(has(out, "PASS  records"));

  // A wrong --meridianctl, and a zone the database does not hold: clear, no traceback.
  out = runCommand(env + repo + "/tools/smoke --meridianctl " + dir.file("nope") + args, &status);
  CHECK(status == 2);
  CHECK(has(out, "smoke: --meridianctl " + dir.file("nope") + ": not an executable file"));
  CHECK_FALSE(has(out, "Traceback"));
  std::string other_zone = args;
  other_zone.replace(other_zone.find("example.com."), 12, "example.org.");
  out = runCommand(env + repo + "/tools/smoke" + other_zone, &status);
  CHECK(status == 2);
  CHECK(has(out, "smoke: cannot export example.org. from " + db +
                     ": meridianctl: zone example.org. does not exist"));
  CHECK_FALSE(has(out, "Traceback"));
}
