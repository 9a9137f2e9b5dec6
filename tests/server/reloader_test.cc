// The reloader's decision, driven one poll at a time: commits of every kind
// (the store, the sqlite3 shell, healthd's rows and heartbeats, SIGHUP) are
// interleaved with Reloader::poll() on the test thread, so no sleep decides
// an outcome. Each change must be served after the next poll, never lost,
// and a published snapshot must never pair a zone table with a steering
// table from another commit.

#include "server/reloader.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "server/dns_loop.h"
#include "tests/server/steering_fixture.h"

using namespace meridian;
using namespace meridian::test;
using Kind = server::Reloader::Kind;

namespace {

struct ReloadWorld : SteeringWorld {
  server::SnapshotGraveyard graveyard;
  std::shared_ptr<const server::Snapshot> published;
  int publications = 0;
  std::unique_ptr<server::Reloader> reloader;
  QueryRunner runner;
  // A second connection in autocommit mode, as the sqlite3 shell writes:
  // no store transaction, so the schema's triggers see its edits.
  zones::Database shell{db.path()};

  explicit ReloadWorld(const std::string& geodb = geoTestData("GeoIP2-City-Test.mmdb")) {
    server::ReloadSettings settings;
    settings.db_path = db.path();
    settings.geodb_path = geodb;
    settings.health = health_settings;
    reloader = std::make_unique<server::Reloader>(
        settings,
        [this](std::shared_ptr<const server::Snapshot> s) {
          published = std::move(s);
          ++publications;
        },
        graveyard);
    reloader->loadInitial();
  }

  /// TTL of static.gslb.example. A in the published snapshot.
  uint32_t staticTtl() {
    const Response r = runner.run(*published, makeQuery("static.gslb.example"));
    REQUIRE(r.answer.size() == 1);
    return static_cast<uint32_t>(std::stoul(r.answer[0].substr(r.answer[0].find(' ') + 1)));
  }

  /// The address a steered owner answers with, or "" for no answer.
  std::string steered(const std::string& owner) {
    const Response r = runner.run(*published, makeQuery(owner + ".gslb.example"));
    if (r.rcode != 0 || r.answer.empty()) return "";
    return r.answer[0].substr(r.answer[0].rfind(' ') + 1);
  }

  void shellSetStaticTtl(int ttl) {
    shell.exec("UPDATE records SET ttl = " + std::to_string(ttl) +
               " WHERE owner = 'static.gslb.example.' AND type = 1");
  }

  void heartbeat(const std::string& vantage, int64_t at_ms) {
    db.prepare("UPDATE vantages SET last_write = ?2 WHERE name = ?1")
        .bind(1, vantage)
        .bind(2, at_ms)
        .run();
  }
};

}  // namespace

TEST_CASE("decide: what moved picks the rebuild") {
  const zones::Generations seen{.config = 5, .zones = 3, .health = 7, .liveness = 9};
  auto with = [&](auto change) {
    zones::Generations g = seen;
    change(g);
    return g;
  };
  const auto zones = with([](auto& g) { g.zones++, g.config++; });
  const auto config = with([](auto& g) { g.config++; });
  const auto health = with([](auto& g) { g.health++; });
  const auto liveness = with([](auto& g) { g.liveness++; });
  const auto config_and_health = with([](auto& g) { g.config++, g.health++; });
  const auto health_and_liveness = with([](auto& g) { g.health++, g.liveness++; });

  CHECK(server::Reloader::decide(false, seen, zones, 3).kind == Kind::kFull);
  CHECK(server::Reloader::decide(false, seen, config, 3).kind == Kind::kSteering);
  CHECK(server::Reloader::decide(false, seen, config_and_health, 3).kind == Kind::kSteering);
  CHECK(server::Reloader::decide(false, seen, health, 3).kind == Kind::kHealth);
  CHECK(server::Reloader::decide(false, seen, health_and_liveness, 3).kind == Kind::kHealth);
  CHECK(server::Reloader::decide(false, seen, liveness, 3).kind == Kind::kNone);
  // A commit that moved no generation: something we cannot name changed.
  CHECK(server::Reloader::decide(false, seen, seen, 3).kind == Kind::kFull);
  // SIGHUP or an API request: everything, whatever moved.
  for (const auto& now : {seen, zones, config, health, liveness}) {
    CHECK(server::Reloader::decide(true, seen, now, 3).kind == Kind::kFull);
  }
  // The published zone table is older than the zones generation (a full
  // build failed): a steering rebuild would pair it with a newer steering
  // table, so build in full.
  CHECK(server::Reloader::decide(false, seen, config, 2).kind == Kind::kFull);
}

TEST_CASE("a sqlite3-shell edit committed together with a health write is served") {
  ReloadWorld w;
  w.health("eu-west-1", true, 20);
  w.reloader->poll(false);
  REQUIRE(w.staticTtl() == 300);
  for (int round = 1; round <= 50; ++round) {
    // healthd writes a state change and the operator edits a record in the
    // same poll window: the old reloader saw "health moved" and rebuilt only
    // health, losing the edit until some later configuration write.
    w.health("eu-west-1", round % 2 == 0, 20 + round);
    w.shellSetStaticTtl(1000 + round);
    w.reloader->poll(false);
    CHECK(w.staticTtl() == static_cast<uint32_t>(1000 + round));
  }
}

TEST_CASE("a SIGHUP landing in the same window as a health write rebuilds everything") {
  ReloadWorld w;
  w.health("eu-west-1", true, 20);
  w.reloader->poll(false);
  // An edit that moves no generation at all: a table the triggers do not
  // watch (here meta itself, as a careless script might).
  w.shell.exec("INSERT INTO meta(key, value) VALUES ('operator_note', 1)");
  w.health("eu-west-1", false, 25);
  w.shellSetStaticTtl(77);
  w.reloader->poll(true);
  CHECK(w.staticTtl() == 77);
  CHECK(w.reloader->stats().reloads >= 2);
}

TEST_CASE("every kind of commit is served after the next poll") {
  ReloadWorld w;
  w.health("eu-west-1", true, 20);
  w.reloader->poll(false);
  const auto generation = [&] { return w.published->generation; };

  SUBCASE("store: a zone import") {
    auto before = generation();
    zones::storeZone(w.db, zones::parseZoneText(R"(
$ORIGIN gslb.example.
$TTL 300
@ SOA ns1 hostmaster 2 3600 600 604800 60
@ NS ns1
ns1 A 192.0.2.53
static 42 A 192.0.2.99
)",
                                                "test", "gslb.example."));
    w.reloader->poll(false);
    CHECK(generation() > before);
    CHECK(w.staticTtl() == 42);
  }
  SUBCASE("store: an endpoint drained (steering rebuild, zone table shared)") {
    const auto zones_before = w.published->zones;
    CHECK(w.steered("failover") == "198.51.100.10");
    zones::patchEndpoint(w.db, "us-east-1", {{"state", "drain"}});
    w.reloader->poll(false);
    CHECK(w.published->zones == zones_before);
    CHECK(w.steered("failover") == "192.0.2.10");
  }
  SUBCASE("shell: an endpoint's address") {
    w.shell.exec("UPDATE endpoints SET address = '198.51.100.99' WHERE name = 'us-east-1'");
    w.reloader->poll(false);
    CHECK(w.steered("failover") == "198.51.100.99");
  }
  SUBCASE("shell: a steered name deleted") {
    CHECK(w.steered("failover") != "");
    w.shell.exec("DELETE FROM steered_names WHERE owner = 'failover.gslb.example.'");
    w.reloader->poll(false);
    CHECK(w.steered("failover") == "");
  }
  SUBCASE("shell: a region moved") {
    w.shell.exec("UPDATE regions SET latitude = 12.5 WHERE name = 'us-east'");
    w.reloader->poll(false);
    bool found = false;
    for (const auto& region : w.published->steering->regions) {
      if (region.name == "us-east") found = region.latitude == 12.5;
    }
    CHECK(found);
  }
  SUBCASE("shell: a latency measurement") {
    const auto before = generation();
    w.shell.exec(
        "INSERT INTO latency_prefixes(prefix, region_id, rtt_ms) "
        "SELECT '81.2.69.0/24', id, 3 FROM regions WHERE name = 'us-west'");
    w.reloader->poll(false);
    CHECK(generation() > before);
    CHECK(w.reloader->stats().steering_reloads == 1);
  }
  SUBCASE("healthd: an endpoint goes down") {
    CHECK(w.steered("failover") == "198.51.100.10");
    w.health("us-east-1", false, 20);
    w.reloader->poll(false);
    CHECK(w.steered("failover") == "192.0.2.10");
  }
}

TEST_CASE("heartbeats and probe timestamps rebuild nothing") {
  ReloadWorld w;
  w.health("eu-west-1", true, 20);
  w.reloader->poll(false);
  const int publications = w.publications;
  const int64_t now = zones::nowMillis();
  for (int i = 1; i <= 20; ++i) {
    w.heartbeat("test", now + i);
    w.db.prepare("UPDATE health SET updated_at = ?1, last_error = 'x'").bind(1, now + i).run();
    w.reloader->poll(false);
  }
  CHECK(w.publications == publications);
  CHECK(w.reloader->stats().health_newest_write_ms == now + 20);
}

TEST_CASE("an RTT change within the hysteresis margin is not republished; a state change is") {
  ReloadWorld w;
  w.health("eu-west-1", true, 100);
  w.reloader->poll(false);
  const int publications = w.publications;
  w.health("eu-west-1", true, 104);  // 4% < 10%: the published median stands
  w.reloader->poll(false);
  CHECK(w.publications == publications);
  CHECK(w.reloader->stats().health_unchanged == 1);
  w.health("eu-west-1", true, 150);  // past the margin
  w.reloader->poll(false);
  CHECK(w.publications == publications + 1);
  w.health("eu-west-1", false, 150);
  w.reloader->poll(false);
  CHECK(w.publications == publications + 2);
}

TEST_CASE("a vantage that stops writing stops counting, by its heartbeat alone") {
  ReloadWorld w;
  // Two vantages disagree on us-east-1: one up vote against one down vote
  // leaves it up; once the "up" vantage is silent, the "down" one decides.
  w.health("us-east-1", false, 20, "frankfurt");
  w.health("us-east-1", true, 20, "tokyo");
  w.reloader->poll(false);
  CHECK(w.steered("failover") == "198.51.100.10");
  const int64_t now = zones::nowMillis();
  w.heartbeat("frankfurt", now);
  w.heartbeat("tokyo", now - w.health_settings.stale_after_ms - 1000);  // silent for long enough
  w.reloader->poll(false);
  CHECK(w.steered("failover") == "192.0.2.10");
  w.heartbeat("tokyo", zones::nowMillis());  // it writes again: its vote counts again
  w.reloader->poll(false);
  CHECK(w.steered("failover") == "198.51.100.10");
}

TEST_CASE(
    "a zone commit landing between the generations read and the build waits for the next poll") {
  ReloadWorld w;
  CHECK(w.steered("failover") == "198.51.100.10");
  CHECK(w.steered("sticky") != "");
  // A configuration write: this poll decides on a steering rebuild. Inside
  // its window a zone-data commit removes a steered name (which renumbers the
  // steering table the zone table points into).
  zones::patchEndpoint(w.db, "us-east-1", {{"state", "drain"}});
  bool injected = false;
  w.reloader->after_generations_read_for_test = [&] {
    if (injected) return;
    injected = true;
    zones::deleteSteeredName(w.db, "gslb.example.", "failover.gslb.example.", 1);
  };
  w.reloader->poll(false);
  REQUIRE(injected);
  // The snapshot describes one commit: the drain, with failover still there.
  CHECK(w.steered("failover") == "192.0.2.10");
  CHECK(w.steered("sticky") != "");
  CHECK(w.published->zones_generation == w.db.generations().zones - 1);
  w.reloader->poll(false);  // the deletion moved data_version: now it is served
  CHECK(w.steered("failover") == "");
  CHECK(w.steered("sticky") != "");
  CHECK(w.published->zones_generation == w.db.generations().zones);
}

TEST_CASE("after a failed full build, a configuration write still builds in full") {
  ReloadWorld w;
  // Commit zone data the compiler refuses (no SOA): the build fails and the
  // old snapshot keeps serving.
  w.shell.exec("DELETE FROM records WHERE type = 6");
  w.reloader->poll(false);
  CHECK(w.reloader->stats().failures == 1);
  CHECK(w.staticTtl() == 300);
  // Then an endpoint write: pairing the published (older) zone table with a
  // steering table from this commit is what the check in decide() prevents.
  zones::patchEndpoint(w.db, "us-east-1", {{"state", "drain"}});
  w.reloader->poll(false);
  CHECK(w.reloader->stats().failures == 2);  // tried in full, and still refused
  CHECK(w.reloader->stats().steering_reloads == 0);
  CHECK(w.steered("failover") == "198.51.100.10");  // the last good snapshot
}

namespace {

// What `cp from path` does to an existing file: truncate and rewrite the same
// inode, so a reader sees it empty, then partly written.
void copyInPlace(const std::string& from, const std::string& path) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << in.rdbuf();
}

}  // namespace

TEST_CASE("geo: a file written in place is loaded once it has settled; a broken one never") {
  TempDir geo_dir;
  const std::string path = geo_dir.file("geo.mmdb");
  std::filesystem::copy_file(geoTestData("GeoIP2-City-Test.mmdb"), path);
  ReloadWorld w(path);
  const auto city = w.published->geo;
  REQUIRE(city);
  REQUIRE(city->info().type == "GeoIP2-City");
  const uint64_t inode = city->info().stamp.inode;

  // A good file copied in place: seen, but not loaded until it stays still.
  copyInPlace(geoTestData("GeoIP2-Country-Test.mmdb"), path);
  REQUIRE(geo::stampFile(path)->inode == inode);
  w.reloader->poll(false);
  w.reloader->poll(false);
  CHECK(w.published->geo == city);
  std::this_thread::sleep_for(server::Reloader::kGeoSettle + std::chrono::milliseconds(100));
  w.reloader->poll(false);
  REQUIRE(w.published->geo != city);
  CHECK(w.published->geo->info().type == "GeoIP2-Country");
  CHECK(w.reloader->stats().geo_reloads == 1);
  const auto country = w.published->geo;

  // Truncated, then a broken file in place: refused once settled, the
  // Country database keeps serving, and a refused file is not retried.
  std::filesystem::resize_file(path, 0);
  w.reloader->poll(false);
  copyInPlace(geoTestData("MaxMind-DB-test-broken-pointers-24.mmdb"), path);
  w.reloader->poll(false);
  std::this_thread::sleep_for(server::Reloader::kGeoSettle + std::chrono::milliseconds(100));
  w.reloader->poll(false);
  CHECK(w.published->geo == country);
  CHECK(w.reloader->stats().geo_failures == 1);
  std::this_thread::sleep_for(server::Reloader::kGeoSettle + std::chrono::milliseconds(100));
  w.reloader->poll(false);
  CHECK(w.reloader->stats().geo_failures == 1);

  // The safe way: a new file renamed over it.
  std::filesystem::copy_file(geoTestData("GeoIP2-City-Test.mmdb"), path + ".new");
  std::filesystem::rename(path + ".new", path);
  w.reloader->poll(false);
  std::this_thread::sleep_for(server::Reloader::kGeoSettle + std::chrono::milliseconds(100));
  w.reloader->poll(false);
  CHECK(w.published->geo->info().type == "GeoIP2-City");
  CHECK(w.reloader->stats().geo_reloads == 2);
}
