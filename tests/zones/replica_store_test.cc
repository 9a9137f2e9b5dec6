// The configuration replica's rows (zones/replica_store.h) against a real
// SQLite file: a value that is not a valid row is refused with an error that
// names its key and nothing of its revision is applied; a full reload makes
// the tables hold exactly what etcd holds, a name reused by a new id included.

#include "zones/replica_store.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tests/support/dns_test_util.h"
#include "zones/validation.h"

using namespace meridian;

namespace {

const char* kZone = R"({"id":1,"name":"example.com.","created_at":1,"updated_at":1})";
const char* kRecord =
    R"({"id":7,"zone_id":1,"owner":"www.example.com.","type":1,"ttl":300,"rdata":"c0000201"})";
const char* kRegion =
    R"({"id":1,"name":"eu","latitude":1.5,"longitude":2.5,"continent":null,"countries":"[]"})";

int64_t count(zones::Database& db, const std::string& sql) {
  zones::Statement s = db.prepare(sql);
  return s.step() ? s.columnInt(0) : -1;
}

// The error applyReplicaChanges throws for one bad put, "" when none.
std::string refusal(zones::Database& db, const std::string& key, const std::string& value) {
  try {
    zones::applyReplicaChanges(db, {{key, value}}, 99);
  } catch (const zones::ValidationError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE(
    "replica store: a bad value is refused naming its key, and nothing of its revision is "
    "applied") {
  test::TempDir dir;
  zones::Database db(dir.file("replica.db"));
  zones::replaceReplica(db, {{"zones/1", kZone}, {"records/7", kRecord}}, 5);
  REQUIRE(zones::replicaRevision(db) == 5);

  CHECK(refusal(db, "records/8", "not json") == "records/8: the value is not a JSON object");
  CHECK(
      refusal(
          db, "records/8",
          R"({"id":8,"zone_id":1,"owner":"a.example.com.","type":1,"ttl":"300","rdata":"c0000201"})") ==
      "records/8: ttl: not an integer");
  CHECK(refusal(db, "records/8",
                R"({"id":8,"zone_id":1,"owner":"a.example.com.","type":1,"ttl":300})") ==
        "records/8: rdata: missing");
  CHECK(
      refusal(
          db, "records/8",
          R"({"id":8,"zone_id":1,"owner":"a.example.com.","type":1,"ttl":300,"rdata":"c00002zz"})") ==
      "records/8: rdata: not hex: zz");
  CHECK(refusal(db, "records/8", kRecord) == "records/8: the row's id is 7");
  CHECK(refusal(db, "regions/x",
                R"({"id":1,"name":"eu","latitude":"north","longitude":2.5,"countries":"[]"})") ==
        "regions/x: latitude: not a number");

  // A good change and a bad one in one revision: neither is applied.
  const std::string good =
      R"({"id":7,"zone_id":1,"owner":"www.example.com.","type":1,"ttl":60,"rdata":"c0000201"})";
  CHECK_THROWS_AS(
      zones::applyReplicaChanges(db, {{"records/7", good}, {"records/9", std::string("[1]")}}, 6),
      zones::ValidationError);
  CHECK(count(db, "SELECT ttl FROM records WHERE id = 7") == 300);
  CHECK(zones::replicaRevision(db) == 5);

  // Keys of tables this build does not know are skipped, not refused.
  zones::applyReplicaChanges(db, {{"records/7", good}, {"newtable/1", std::string("{}")}}, 6);
  CHECK(count(db, "SELECT ttl FROM records WHERE id = 7") == 60);
  CHECK(zones::replicaRevision(db) == 6);
}

TEST_CASE(
    "replica store: a full reload holds exactly etcd's rows, a name reused by a new id included") {
  test::TempDir dir;
  zones::Database db(dir.file("replica.db"));
  zones::replaceReplica(db,
                        {{"zones/1", kZone},
                         {"records/7", kRecord},
                         {"regions/1", kRegion},
                         {"latency_prefixes/1/81.2.69.0/24",
                          R"({"prefix":"81.2.69.0/24","region_id":1,"rtt_ms":12.5})"}},
                        5);
  CHECK(count(db, "SELECT count(*) FROM latency_prefixes WHERE region_id = 1") == 1);

  // etcd now holds the zone under id 2 and the region "eu" under id 3; the
  // record and the latency prefix are gone.
  const std::vector<zones::ReplicaRow> now = {
      {"zones/2", R"({"id":2,"name":"example.com.","created_at":2,"updated_at":2})"},
      {"regions/3",
       R"({"id":3,"name":"eu","latitude":1.5,"longitude":2.5,"continent":"EU","countries":"[]"})"},
  };
  zones::replaceReplica(db, now, 9);
  CHECK(count(db, "SELECT id FROM zones WHERE name = 'example.com.'") == 2);
  CHECK(count(db, "SELECT count(*) FROM zones") == 1);
  CHECK(count(db, "SELECT id FROM regions WHERE name = 'eu'") == 3);
  CHECK(count(db, "SELECT count(*) FROM regions") == 1);
  CHECK(count(db, "SELECT count(*) FROM records") == 0);
  CHECK(count(db, "SELECT count(*) FROM latency_prefixes") == 0);
  CHECK(zones::replicaRevision(db) == 9);

  // What is dumped is what was loaded, key for key.
  const std::vector<zones::ReplicaRow> dumped = zones::dumpReplicaRows(db);
  REQUIRE(dumped.size() == 2);
  CHECK(dumped[0].key == "zones/2");
  CHECK(dumped[1].key == "regions/3");

  // A deletion through the watch removes the row.
  zones::applyReplicaChanges(db, {{"regions/3", std::nullopt}}, 10);
  CHECK(count(db, "SELECT count(*) FROM regions") == 0);
}

TEST_CASE(
    "config serial: equal on a replica that watched a change and one that loaded it later, "
    "whatever else moved etcd's revision") {
  test::TempDir dir;
  // A fresh single-node file: the config generation, moved by a region.
  zones::Database single(dir.file("single.db"));
  const int64_t before = zones::configSerial(single);
  CHECK(before > 0);
  zones::applyReplicaChanges(single, {{"regions/1", std::string(kRegion)}}, 3);
  // Once the file is a replica, its serial is the revision of its last
  // configuration change.
  CHECK(zones::configSerial(single) == 3);

  // Node A watched revision 7 change a region; node B loaded everything at
  // revision 12 (five node reports later), where the newest configuration
  // key is still from revision 7.
  zones::Database a(dir.file("a.db"));
  zones::replaceReplica(a, {{"zones/1", kZone}}, 4);
  zones::applyReplicaChanges(a, {{"regions/1", std::string(kRegion)}}, 7);
  zones::Database b(dir.file("b.db"));
  zones::replaceReplica(b, {{"zones/1", kZone}, {"regions/1", kRegion}}, 12, 7);
  CHECK(zones::replicaRevision(a) == 7);
  CHECK(zones::replicaRevision(b) == 12);
  CHECK(zones::configSerial(a) == 7);
  CHECK(zones::configSerial(b) == 7);
  // Without a serial of its own, a full load counts its revision.
  zones::replaceReplica(b, {{"zones/1", kZone}}, 13);
  CHECK(zones::configSerial(b) == 13);
}
