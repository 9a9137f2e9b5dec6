// Cluster mode's write path below etcd (zones::Database::redirectWrites,
// zones::ReplicaCapture) against real SQLite files. A "cluster" here is a
// second connection to the replica file that applies what the redirect is
// handed, as the replica sync applies what etcd delivers: every store write
// then leaves the replica exactly as the same write leaves a plain
// single-node database, while the redirected connection commits nothing of
// its own.

#include <doctest/doctest.h>

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "tests/support/dns_test_util.h"
#include "zones/record_store.h"
#include "zones/replica_store.h"
#include "zones/steering_store.h"
#include "zones/validation.h"
#include "zones/zone_io.h"

using namespace meridian;

namespace {

// Applies each commit to the replica file at the next revision, as the
// replica sync would once etcd committed it. `before_commit` runs first,
// e.g. to let another node win the race.
class ApplyingRedirect : public zones::WriteRedirect {
 public:
  explicit ApplyingRedirect(const std::string& path) : cluster_(path) {}

  void commit(const std::vector<zones::ReplicaChange>& changes, int64_t base) override {
    ++commits;
    last = changes;
    // Nothing was committed locally: the replica still holds `base`.
    CHECK(zones::replicaRevision(cluster_) == base);
    if (before_commit) {
      auto once = std::move(before_commit);
      before_commit = nullptr;
      if (once(cluster_)) throw zones::WriteRaced("another writer came first");
    }
    zones::applyReplicaChanges(cluster_, changes, zones::replicaRevision(cluster_) + 1);
  }

  zones::Database cluster_;
  int commits = 0;
  std::vector<zones::ReplicaChange> last;
  // Returns true when it wrote (the commit then loses the race).
  std::function<bool(zones::Database&)> before_commit;
};

zones::Endpoint endpoint(const std::string& name, const std::string& region,
                         const std::string& address) {
  zones::Endpoint e;
  e.name = name;
  e.region = region;
  e.address = address;
  return e;
}

zones::Region region(const std::string& name) {
  zones::Region r;
  r.name = name;
  r.latitude = 50;
  r.longitude = 8;
  return r;
}

const char* kZoneText =
    "$ORIGIN example.com.\n@ 3600 SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
    "@ 3600 NS ns1\nns1 3600 A 192.0.2.53\nwww 300 A 192.0.2.80\n";

// The same sequence of API-level writes, on any database.
std::vector<std::function<void(zones::Database&)>> writes() {
  return {
      [](zones::Database& db) { zones::importZone(db, zones::parseZoneText(kZoneText, "z"), false); },
      [](zones::Database& db) { zones::createRegion(db, region("eu-west")); },
      [](zones::Database& db) { zones::createRegion(db, region("us-east")); },
      [](zones::Database& db) {
        zones::createEndpoint(db, endpoint("eu-1", "eu-west", "192.0.2.1"));
      },
      [](zones::Database& db) {
        zones::createEndpoint(db, endpoint("us-1", "us-east", "192.0.2.2"));
      },
      [](zones::Database& db) {
        zones::patchEndpoint(db, "eu-1", nlohmann::json::parse(R"({"state":"drain"})"));
      },
      [](zones::Database& db) {
        zones::SteeredName s;
        s.zone = "example.com.";
        s.owner = "lb.example.com.";
        s.regions = {"eu-west", "us-east"};
        zones::putSteeredName(db, s);
      },
      [](zones::Database& db) {
        zones::replaceLatency(db, {{"81.2.69.0/24", "eu-west", 12.5}});
      },
      [](zones::Database& db) {
        zones::RecordSet rrset = zones::parseRecordSet(
            nlohmann::json::parse(R"({"ttl":60,"records":["192.0.2.81","192.0.2.82"]})"),
            "example.com.", "api.example.com.", 1);
        zones::putRecordSet(db, "example.com.", rrset);
      },
      [](zones::Database& db) { zones::deleteRecordSet(db, "example.com.", "www.example.com.", 1); },
      [](zones::Database& db) { zones::deleteEndpoint(db, "us-1"); },
      [](zones::Database& db) {
        zones::SteeredName s;
        s.zone = "example.com.";
        s.owner = "lb.example.com.";
        s.regions = {"eu-west"};
        zones::putSteeredName(db, s);
      },
      [](zones::Database& db) { zones::deleteRegion(db, "us-east"); },
      // Cascades: the zone's records and steered names go with it.
      [](zones::Database& db) { zones::deleteZone(db, "example.com."); },
  };
}

std::vector<std::pair<std::string, std::string>> rows(zones::Database& db) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : zones::dumpReplicaRows(db)) out.emplace_back(r.key, r.value);
  return out;
}

}  // namespace

TEST_CASE("cluster writes: each store write reaches the replica as it changes a plain database") {
  test::TempDir dir;
  zones::Database plain(dir.file("plain.db"));
  zones::Database replica(dir.file("replica.db"));
  zones::replaceReplica(replica, {}, 1);
  auto redirect = std::make_shared<ApplyingRedirect>(dir.file("replica.db"));
  replica.redirectWrites(redirect);
  int step = 0;
  for (const auto& write : writes()) {
    CAPTURE(step);
    write(plain);
    write(replica);
    CHECK(redirect->commits == step + 1);
    // Ids, timestamps and serials included: the replica holds what the
    // plain file holds, row for row.
    const auto expected = rows(plain), got = rows(replica);
    CHECK(got.size() == expected.size());
    for (size_t i = 0; i < std::min(got.size(), expected.size()); ++i) {
      CAPTURE(expected[i].first);
      CHECK(got[i].first == expected[i].first);
      if (expected[i].first.rfind("zones/", 0) == 0) continue;  // created_at/updated_at are clocks
      CHECK(got[i].second == expected[i].second);
    }
    ++step;
  }
  // The zone deletion was handed over with its cascades: the zone, the
  // chunk of its records (left empty) and its steered name, each as a
  // deletion.
  std::set<std::string> deleted;
  size_t deletions = 0;
  for (const auto& c : redirect->last) {
    if (c.value) continue;
    ++deletions;
    deleted.insert(c.key.substr(0, c.key.find('/')));
  }
  CHECK(deletions == redirect->last.size());
  CHECK(deleted == std::set<std::string>{"zones", "record_chunks", "steered_names"});
}

TEST_CASE("cluster writes: a write that changes nothing is not sent") {
  test::TempDir dir;
  zones::Database replica(dir.file("replica.db"));
  zones::replaceReplica(replica, {}, 1);
  auto redirect = std::make_shared<ApplyingRedirect>(dir.file("replica.db"));
  replica.redirectWrites(redirect);
  zones::replaceLatency(replica, {});
  CHECK(redirect->commits == 0);
}

TEST_CASE("cluster writes: a refused write sends nothing and changes nothing") {
  test::TempDir dir;
  zones::Database replica(dir.file("replica.db"));
  zones::replaceReplica(replica, {}, 1);
  auto redirect = std::make_shared<ApplyingRedirect>(dir.file("replica.db"));
  replica.redirectWrites(redirect);
  zones::createRegion(replica, region("eu-west"));
  CHECK_THROWS_AS(zones::createRegion(replica, region("eu-west")), zones::ConflictError);
  CHECK_THROWS_AS(zones::createEndpoint(replica, endpoint("x", "nowhere", "192.0.2.9")),
                  zones::ValidationError);
  CHECK(redirect->commits == 1);
  CHECK(zones::listRegions(replica).size() == 1);
}

TEST_CASE("cluster writes: a lost race runs the write again on the newer replica") {
  test::TempDir dir;
  zones::Database replica(dir.file("replica.db"));
  zones::replaceReplica(replica, {}, 1);
  auto redirect = std::make_shared<ApplyingRedirect>(dir.file("replica.db"));
  replica.redirectWrites(redirect);

  SUBCASE("different rows: both land, with different ids") {
    // Another node creates us-east first; the id our first attempt chose
    // for eu-west is taken then, so the retry must choose again.
    redirect->before_commit = [](zones::Database& cluster) {
      zones::applyReplicaChanges(
          cluster,
          {{"regions/1",
            R"({"id":1,"name":"us-east","latitude":1.0,"longitude":2.0,"continent":null,"countries":"[]"})"}},
          zones::replicaRevision(cluster) + 1);
      return true;
    };
    zones::createRegion(replica, region("eu-west"));
    CHECK(redirect->commits == 2);
    const auto regions = zones::listRegions(replica);
    REQUIRE(regions.size() == 2);
    CHECK(*zones::regionId(replica, "us-east") == 1);
    CHECK(*zones::regionId(replica, "eu-west") == 2);
  }
  SUBCASE("the same name: the retry sees the winner and refuses") {
    redirect->before_commit = [](zones::Database& cluster) {
      zones::applyReplicaChanges(
          cluster,
          {{"regions/1",
            R"({"id":1,"name":"eu-west","latitude":1.0,"longitude":2.0,"continent":null,"countries":"[]"})"}},
          zones::replicaRevision(cluster) + 1);
      return true;
    };
    CHECK_THROWS_AS(zones::createRegion(replica, region("eu-west")), zones::ConflictError);
    CHECK(zones::getRegion(replica, "eu-west").latitude == 1.0);  // the winner's
  }
}

TEST_CASE("cluster writes: losing every race is a conflict the client is told to retry") {
  test::TempDir dir;
  zones::Database replica(dir.file("replica.db"));
  zones::replaceReplica(replica, {}, 1);
  struct AlwaysRaced : zones::WriteRedirect {
    int commits = 0;
    void commit(const std::vector<zones::ReplicaChange>&, int64_t) override {
      ++commits;
      throw zones::WriteRaced("another writer came first");
    }
  };
  auto redirect = std::make_shared<AlwaysRaced>();
  replica.redirectWrites(redirect);
  CHECK_THROWS_WITH_AS(zones::createRegion(replica, region("eu-west")),
                       doctest::Contains("retry"), zones::ConflictError);
  CHECK(redirect->commits == 5);
  CHECK(zones::listRegions(replica).empty());
}
