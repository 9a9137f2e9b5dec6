// The configuration replica's rows (zones/replica_store.h) against a real
// SQLite file: a value that is not a valid row is refused with an error that
// names its key and nothing of its revision is applied; a full reload makes
// the tables hold exactly what etcd holds, a name reused by a new id included;
// and any change between two valid states applies, full load or revision
// (names swapped or reused, children moved off a deleted parent), checked on
// targeted cases and on random pairs of states.

#include "zones/replica_store.h"

#include <doctest/doctest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "tests/support/dns_test_util.h"
#include "zones/steering_store.h"
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

// A record row of zone 1: an A record of `owner`.
std::string record(int64_t id, const std::string& owner) {
  return nlohmann::json{{"id", id},  {"zone_id", 1}, {"owner", owner},
                        {"type", 1}, {"ttl", 300},   {"rdata", "c0000201"}}
      .dump();
}

// A chunk value holding `records` (row objects, ids in one chunk, in order).
std::string chunk(const std::vector<std::string>& records) {
  nlohmann::json rows = nlohmann::json::array();
  for (const std::string& r : records) {
    const nlohmann::json row = nlohmann::json::parse(r);
    rows.push_back({row["id"], row["zone_id"], row["owner"], row["type"], row["ttl"], row["rdata"]});
  }
  return nlohmann::json{{"records", rows}}.dump();
}

}  // namespace

TEST_CASE(
    "replica store: a bad value is refused naming its key, and nothing of its revision is "
    "applied") {
  test::TempDir dir;
  zones::Database db(dir.file("replica.db"));
  zones::replaceReplica(db, {{"zones/1", kZone}, {"record_chunks/0", chunk({kRecord})}}, 5);
  REQUIRE(zones::replicaRevision(db) == 5);
  REQUIRE(count(db, "SELECT ttl FROM records WHERE id = 7") == 300);

  CHECK(refusal(db, "record_chunks/0", "not json") ==
        "record_chunks/0: the value is not a JSON object with a \"records\" array");
  CHECK(refusal(db, "record_chunks/0", R"({"records":[[8,1,"a.example.com.",1,"300","c0000201"]]})") ==
        "record_chunks/0: row 0: ttl: not an integer");
  CHECK(refusal(db, "record_chunks/0", R"({"records":[[8,1,"a.example.com.",1,300]]})") ==
        "record_chunks/0: row 0: not an array of 6 columns");
  CHECK(refusal(db, "record_chunks/0",
                R"({"records":[[7,1,"www.example.com.",1,300,"c0000201"],[8,1,"a.example.com.",1,300,"c00002zz"]]})") ==
        "record_chunks/0: row 1: rdata: not hex: zz");
  CHECK(refusal(db, "record_chunks/1", chunk({kRecord})) ==
        "record_chunks/1: row 0: id 7 is not in this chunk");
  CHECK(refusal(db, "record_chunks/0", R"({"records":[[8,1,"a.",1,300,""],[8,1,"b.",1,300,""]]})") ==
        "record_chunks/0: row 1: id 8 is not after the row before it");
  CHECK(refusal(db, "record_chunks/x", chunk({})) == "record_chunks/x: not a chunk number");
  // One chunk has one key: "+0", "00" or " 0" would be a second key for chunk 0.
  CHECK(refusal(db, "record_chunks/00", chunk({})) == "record_chunks/00: not a chunk number");
  CHECK(refusal(db, "record_chunks/+0", chunk({})) == "record_chunks/+0: not a chunk number");
  CHECK(refusal(db, "records/7", kRecord) ==
        "records/7: a record in the layout before record chunks; push the configuration again "
        "with meridianctl cluster init");
  CHECK(refusal(db, "regions/x",
                R"({"id":1,"name":"eu","latitude":"north","longitude":2.5,"countries":"[]"})") ==
        "regions/x: latitude: not a number");

  // A good change and a bad one in one revision: neither is applied.
  const std::string good = chunk(
      {R"({"id":7,"zone_id":1,"owner":"www.example.com.","type":1,"ttl":60,"rdata":"c0000201"})"});
  CHECK_THROWS_AS(zones::applyReplicaChanges(
                      db, {{"record_chunks/0", good}, {"regions/9", std::string("[1]")}}, 6),
                  zones::ValidationError);
  CHECK(count(db, "SELECT ttl FROM records WHERE id = 7") == 300);
  CHECK(zones::replicaRevision(db) == 5);

  // Keys of tables this build does not know are skipped, not refused.
  zones::applyReplicaChanges(db, {{"record_chunks/0", good}, {"newtable/1", std::string("{}")}},
                             6);
  CHECK(count(db, "SELECT ttl FROM records WHERE id = 7") == 60);
  CHECK(zones::replicaRevision(db) == 6);
}

TEST_CASE(
    "replica store: records travel in chunks of 64 ids: a chunk's value is all its records, a "
    "chunk left empty is deleted") {
  test::TempDir dir;
  zones::Database db(dir.file("replica.db"));
  // Ids 63 and 64 are the two sides of a chunk boundary; -1 is chunk -1.
  zones::replaceReplica(db,
                        {{"zones/1", kZone},
                         {"record_chunks/-1", chunk({record(-1, "n.example.com.")})},
                         {"record_chunks/0", chunk({record(1, "a.example.com."),
                                                    record(63, "b.example.com.")})},
                         {"record_chunks/1", chunk({record(64, "c.example.com.")})}},
                        5);
  CHECK(count(db, "SELECT count(*) FROM records") == 4);
  const std::vector<zones::ReplicaRow> dumped = zones::dumpReplicaRows(db);
  REQUIRE(dumped.size() == 4);
  CHECK(dumped[1].key == "record_chunks/-1");
  CHECK(dumped[2].key == "record_chunks/0");
  CHECK(dumped[2].value ==
        R"({"records":[[1,1,"a.example.com.",1,300,"c0000201"],[63,1,"b.example.com.",1,300,"c0000201"]]})");
  CHECK(dumped[3].key == "record_chunks/1");

  // Chunk 0 now holds only id 1 (63 is deleted) plus a new id 2; chunk 1 is
  // deleted; chunk -1 is not mentioned and stays.
  zones::applyReplicaChanges(db,
                             {{"record_chunks/0", chunk({record(1, "a.example.com."),
                                                         record(2, "d.example.com.")})},
                              {"record_chunks/1", std::nullopt}},
                             6);
  zones::Statement ids = db.prepare("SELECT group_concat(id, ',') FROM (SELECT id FROM records ORDER BY id)");
  REQUIRE(ids.step());
  CHECK(ids.columnText(0) == "-1,1,2");

  // The extreme ids have chunks whose bounds do not overflow.
  const int64_t lowest = INT64_MIN, highest = INT64_MAX;
  zones::replaceReplica(db,
                        {{"zones/1", kZone},
                         {"record_chunks/-144115188075855872", chunk({record(lowest, "l.")})},
                         {"record_chunks/144115188075855871", chunk({record(highest, "h.")})}},
                        7);
  const std::vector<zones::ReplicaRow> extremes = zones::dumpReplicaRows(db);
  REQUIRE(extremes.size() == 3);
  CHECK(extremes[1].key == "record_chunks/-144115188075855872");
  CHECK(extremes[2].key == "record_chunks/144115188075855871");
  CHECK(refusal(db, "record_chunks/144115188075855872", chunk({})) ==
        "record_chunks/144115188075855872: chunk number out of range");
  zones::applyReplicaChanges(db, {{"record_chunks/144115188075855871", std::nullopt}}, 8);
  CHECK(count(db, "SELECT count(*) FROM records") == 1);
}

TEST_CASE(
    "replica store: a full load in pages: records may come before their zone; a page that "
    "fails rolls the whole load back") {
  test::TempDir dir;
  zones::Database db(dir.file("replica.db"));
  // etcd's key order: record_chunks/ comes before zones/, so the records
  // arrive one page before the zone they name.
  std::vector<zones::ReplicaPage> pages(3);
  pages[0].rows = {{"record_chunks/0", chunk({record(1, "r1."), record(2, "r2.")})}};
  pages[1].rows = {{"record_chunks/1", chunk({record(64, "r64.")})}};
  pages[2].rows = {{"zones/1", kZone}};
  pages[2].last = true;
  pages[2].revision = 12;
  size_t served = 0;
  zones::loadReplica(db, [&] { return pages[served++]; });
  CHECK(served == 3);
  CHECK(count(db, "SELECT count(*) FROM records") == 3);
  CHECK(zones::replicaRevision(db) == 12);

  // The next load fails on its second page (etcd gone, say): nothing of the
  // first page is kept.
  served = 0;
  CHECK_THROWS_WITH(zones::loadReplica(db,
                                       [&] {
                                         if (served++ == 1) throw std::runtime_error("etcd gone");
                                         zones::ReplicaPage p;
                                         p.rows = {{"record_chunks/0", chunk({record(1, "r1.")})}};
                                         return p;
                                       }),
                    "etcd gone");
  CHECK(count(db, "SELECT count(*) FROM records") == 3);
  CHECK(zones::replicaRevision(db) == 12);

  // A load whose records name a zone that never comes is refused at the end
  // (the foreign key, checked at COMMIT).
  nlohmann::json orphan = nlohmann::json::parse(record(3, "r3."));
  orphan["zone_id"] = 2;
  pages[0].rows = {{"record_chunks/0", chunk({orphan.dump()})}};
  served = 0;
  CHECK_THROWS(zones::loadReplica(db, [&] { return pages[served++]; }));
  CHECK(count(db, "SELECT count(*) FROM zones") == 1);
  CHECK(count(db, "SELECT count(*) FROM records") == 3);
}

namespace {

// The CREATE statements of the records table's indexes, by name.
std::map<std::string, std::string> recordIndexes(zones::Database& db) {
  std::map<std::string, std::string> out;
  zones::Statement s = db.prepare(
      "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records'");
  while (s.step()) out[s.columnText(0)] = s.columnText(1);
  return out;
}

}  // namespace

TEST_CASE(
    "replica store: a full load into an empty file sets the records index aside and builds it "
    "again; a failed load leaves the file as it was") {
  test::TempDir dir;
  zones::Database db(dir.file("replica.db"));
  const std::map<std::string, std::string> schema = recordIndexes(db);
  REQUIRE(schema.count("records_by_owner") == 1);

  // A load that fails after its records were written: the index is there,
  // the records are not.
  size_t served = 0;
  CHECK_THROWS_WITH(zones::loadReplica(db,
                                       [&] {
                                         if (served++ == 1) throw std::runtime_error("etcd gone");
                                         zones::ReplicaPage p;
                                         p.rows = {{"record_chunks/0", chunk({record(1, "r1.")})}};
                                         return p;
                                       }),
                    "etcd gone");
  CHECK(recordIndexes(db) == schema);
  CHECK(count(db, "SELECT count(*) FROM records") == 0);
  CHECK(zones::replicaRevision(db) == 0);

  // A load that succeeds: the same index, holding every record (the query
  // planner uses it, and SQLite finds it consistent with the table).
  std::vector<zones::ReplicaPage> pages(2);
  pages[0].rows = {{"record_chunks/0", chunk({record(1, "b."), record(2, "a.")})},
                   {"record_chunks/1", chunk({record(64, "a.")})}};
  pages[1].rows = {{"zones/1", kZone}};
  pages[1].last = true;
  pages[1].revision = 3;
  served = 0;
  zones::loadReplica(db, [&] { return pages[served++]; });
  CHECK(recordIndexes(db) == schema);
  CHECK(count(db, "SELECT count(*) FROM records INDEXED BY records_by_owner "
                  "WHERE zone_id = 1 AND owner = 'a.'") == 2);
  zones::Statement check = db.prepare("PRAGMA integrity_check");
  REQUIRE(check.step());
  CHECK(check.columnText(0) == "ok");

  // A reload into a file that holds records keeps the index throughout.
  served = 0;
  pages[0].rows = {{"record_chunks/0", chunk({record(1, "c.")})}};
  zones::loadReplica(db, [&] { return pages[served++]; });
  CHECK(recordIndexes(db) == schema);
  CHECK(count(db, "SELECT count(*) FROM records") == 1);
}

TEST_CASE(
    "replica store: a chunk in the compact form and the same chunk with whitespace and escapes "
    "(read by the JSON parser) store the same rows") {
  test::TempDir dir;
  const std::string compact =
      R"({"records":[[1,1,"a.example.com.",1,300,"c0000201"],[2,1,"b.example.com.",16,60,""]]})";
  const std::string spaced =
      "{ \"records\" : [ [1, 1, \"a.exampl\\u0065.com.\", 1, 300, \"C0000201\"],\n"
      "  [2,1,\"b.example.com.\",16,60,\"\"] ] }";
  const auto rows = [&](const std::string& value) {
    zones::Database db(dir.file("replica-" + std::to_string(value.size()) + ".db"));
    zones::replaceReplica(db, {{"zones/1", kZone}, {"record_chunks/0", value}}, 2);
    std::vector<std::tuple<int64_t, std::string, int64_t, int64_t, std::string>> out;
    zones::Statement s = db.prepare("SELECT id, owner, type, ttl, hex(rdata) FROM records ORDER BY id");
    while (s.step())
      out.emplace_back(s.columnInt(0), s.columnText(1), s.columnInt(2), s.columnInt(3),
                       s.columnText(4));
    return out;
  };
  const auto expected = rows(compact);
  REQUIRE(expected.size() == 2);
  CHECK(std::get<1>(expected[0]) == "a.example.com.");
  CHECK(std::get<4>(expected[0]) == "C0000201");
  CHECK(std::get<4>(expected[1]) == "");
  CHECK(rows(spaced) == expected);
}

TEST_CASE(
    "replica store: a full reload holds exactly etcd's rows, a name reused by a new id included") {
  test::TempDir dir;
  zones::Database db(dir.file("replica.db"));
  zones::replaceReplica(db,
                        {{"zones/1", kZone},
                         {"record_chunks/0", chunk({kRecord})},
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

// ---------------------------------------------------------------------------
// Every change etcd can deliver: a revision (or a full load) that moves rows
// between parents, swaps unique names or reuses a name of a row it deletes.
// Each transition is checked both ways a node can meet it: a full load of A
// then a full load of B, and a full load of A then B's changes as one
// revision. Either way the tables must hold exactly B, and the health rows of
// endpoints that stay (local state, not in etcd) must survive.

namespace {

using State = std::map<std::string, std::string>;  // key -> row as JSON

std::string zoneRow(int64_t id, const std::string& name) {
  return nlohmann::json{{"id", id}, {"name", name}, {"created_at", 1}, {"updated_at", 2}}.dump();
}

std::string regionRow(int64_t id, const std::string& name, double latitude = 1.5) {
  return nlohmann::json{{"id", id},         {"name", name},         {"latitude", latitude},
                        {"longitude", 2.5}, {"continent", nullptr}, {"countries", "[]"},
                        {"min_healthy", nullptr}}
      .dump();
}

std::string endpointRow(int64_t id, const std::string& name, int64_t region_id,
                        int64_t weight = 1) {
  return nlohmann::json{{"id", id},
                        {"name", name},
                        {"region_id", region_id},
                        {"address", "192.0.2.1"},
                        {"weight", weight},
                        {"capacity", nullptr},
                        {"state", "up"},
                        {"check_spec", nullptr},
                        {"readiness_spec", nullptr},
                        {"vote_policy", nullptr}}
      .dump();
}

std::string steeredRow(int64_t id, int64_t zone_id, const std::string& owner, int64_t type) {
  return nlohmann::json{{"id", id},
                        {"zone_id", zone_id},
                        {"owner", owner},
                        {"type", type},
                        {"spec", R"({"policy":"geo"})"}}
      .dump();
}

std::string latencyRow(int64_t region_id, const std::string& prefix, double rtt_ms) {
  return nlohmann::json{{"prefix", prefix}, {"region_id", region_id}, {"rtt_ms", rtt_ms}}.dump();
}

std::vector<zones::ReplicaRow> rowsOf(const State& s) {
  std::vector<zones::ReplicaRow> rows;
  for (const auto& [key, value] : s) rows.push_back({key, value});
  return rows;
}

// The changes of one revision that takes A to B: deletions first, then puts,
// in key order (the property test shuffles them).
std::vector<zones::ReplicaChange> diff(const State& a, const State& b) {
  std::vector<zones::ReplicaChange> changes;
  for (const auto& [key, value] : a) {
    if (!b.contains(key)) changes.push_back({key, std::nullopt});
  }
  for (const auto& [key, value] : b) {
    const auto it = a.find(key);
    if (it == a.end() || it->second != value) changes.push_back({key, value});
  }
  return changes;
}

State dumped(zones::Database& db) {
  State s;
  for (zones::ReplicaRow& r : zones::dumpReplicaRows(db)) s[r.key] = r.value;
  return s;
}

// "" when equal, else the first few keys that differ.
std::string difference(const State& want, const State& got) {
  std::string out;
  int shown = 0;
  for (const auto& [key, value] : want) {
    const auto it = got.find(key);
    if (it == got.end()) {
      out += " missing " + key + ";";
    } else if (it->second != value) {
      out += " " + key + " is " + it->second + " not " + value + ";";
    } else {
      continue;
    }
    if (++shown == 4) return out;
  }
  for (const auto& [key, value] : got) {
    if (!want.contains(key)) out += " extra " + key + ";";
    if (++shown == 4) return out;
  }
  return out;
}

// One health row per endpoint of the state just loaded: local state that
// no apply may drop while its endpoint stays.
void addHealthRows(zones::Database& db, const State& s) {
  db.transaction([&] {
    for (const auto& [key, value] : s) {
      if (!key.starts_with("endpoints/")) continue;
      db.prepare(
            "INSERT OR IGNORE INTO health(endpoint_id, vantage, healthy, since, updated_at) "
            "VALUES (?, 'v1', 1, 1, 1)")
          .bind(1, nlohmann::json::parse(value)["id"].get<int64_t>())
          .run();
    }
  });
}

// Health rows of B's endpoints that A had too must be there; those of
// endpoints B dropped must be gone with them.
std::string healthDifference(zones::Database& db, const State& a, const State& b) {
  std::string out;
  for (const auto& [key, value] : a) {
    if (!key.starts_with("endpoints/")) continue;
    const int64_t id = nlohmann::json::parse(value)["id"].get<int64_t>();
    const int64_t want = b.contains(key) ? 1 : 0;
    zones::Statement s = db.prepare("SELECT count(*) FROM health WHERE endpoint_id = ?");
    s.bind(1, id).step();
    if (s.columnInt(0) != want) out += " " + key + " has " + std::to_string(s.columnInt(0));
  }
  return out;
}

// Takes `full` and `watched` (both any state) to A, adds health rows, then
// takes `full` to B with a full load and `watched` with B's changes.
// Returns "" or what went wrong.
std::string transition(zones::Database& full, zones::Database& watched, const State& a,
                       const State& b, std::vector<zones::ReplicaChange> changes) {
  try {
    zones::replaceReplica(full, rowsOf(a), 1);
    zones::replaceReplica(watched, rowsOf(a), 1);
  } catch (const std::exception& e) {
    return std::string("full load of A: ") + e.what() + "\n";
  }
  addHealthRows(full, a);
  addHealthRows(watched, a);
  std::string out;
  const int64_t full_config = full.configGeneration(), watched_config = watched.configGeneration();
  try {
    zones::replaceReplica(full, rowsOf(b), 2);
    const std::string d = difference(b, dumped(full)) + healthDifference(full, a, b);
    if (!d.empty()) out += "full load of B:" + d + "\n";
    if (full.configGeneration() <= full_config) out += "full load of B moved no generation\n";
  } catch (const std::exception& e) {
    out += std::string("full load of B: ") + e.what() + "\n";
  }
  try {
    zones::applyReplicaChanges(watched, changes, 2);
    const std::string d = difference(b, dumped(watched)) + healthDifference(watched, a, b);
    if (!d.empty()) out += "changes A->B:" + d + "\n";
    if (watched.configGeneration() <= watched_config) out += "changes moved no generation\n";
    if (zones::replicaRevision(watched) != 2) out += "changes did not record the revision\n";
  } catch (const std::exception& e) {
    out += std::string("changes A->B: ") + e.what() + "\n";
  }
  return out;
}

// Both directions, A->B and B->A, in fresh files.
std::string bothWays(const State& a, const State& b) {
  test::TempDir dir;
  zones::Database full(dir.file("full.db")), watched(dir.file("watched.db"));
  return transition(full, watched, a, b, diff(a, b)) + transition(full, watched, b, a, diff(b, a));
}

}  // namespace

TEST_CASE(
    "replica store: ON DELETE RESTRICT: one revision that deletes a region and moves its endpoint "
    "to another applies, health kept") {
  const State a = {{"regions/3", regionRow(3, "eu")},
                   {"regions/4", regionRow(4, "us")},
                   {"endpoints/7", endpointRow(7, "web", 3)}};
  const State b = {{"regions/4", regionRow(4, "us")}, {"endpoints/7", endpointRow(7, "web", 4)}};
  CHECK(bothWays(a, b) == "");
  // The same with the endpoint renamed as it moves, and a latency prefix of
  // the deleted region (ON DELETE CASCADE) that B no longer holds.
  State a2 = a;
  a2["latency_prefixes/3/81.2.69.0/24"] = latencyRow(3, "81.2.69.0/24", 12.5);
  const State b2 = {{"regions/4", regionRow(4, "us")},
                    {"endpoints/7", endpointRow(7, "web-us", 4)},
                    {"latency_prefixes/4/81.2.69.0/24", latencyRow(4, "81.2.69.0/24", 80)}};
  CHECK(bothWays(a2, b2) == "");
}

TEST_CASE(
    "replica store: UNIQUE swaps: kept rows that swap names, take a deleted row's name or rename "
    "in a chain apply, health kept") {
  SUBCASE("zones swap names") {
    CHECK(bothWays({{"zones/1", zoneRow(1, "a.")}, {"zones/2", zoneRow(2, "b.")}},
                   {{"zones/1", zoneRow(1, "b.")}, {"zones/2", zoneRow(2, "a.")}}) == "");
  }
  SUBCASE("regions swap names") {
    CHECK(bothWays({{"regions/1", regionRow(1, "eu")}, {"regions/2", regionRow(2, "us")}},
                   {{"regions/1", regionRow(1, "us")}, {"regions/2", regionRow(2, "eu")}}) == "");
  }
  SUBCASE("endpoints swap names") {
    const State a = {{"regions/1", regionRow(1, "eu")},
                     {"endpoints/7", endpointRow(7, "web1", 1)},
                     {"endpoints/8", endpointRow(8, "web2", 1)}};
    State b = a;
    b["endpoints/7"] = endpointRow(7, "web2", 1);
    b["endpoints/8"] = endpointRow(8, "web1", 1);
    CHECK(bothWays(a, b) == "");
  }
  SUBCASE("a kept row takes the name of a row deleted in the same revision") {
    CHECK(bothWays({{"zones/1", zoneRow(1, "a.")}, {"zones/2", zoneRow(2, "b.")}},
                   {{"zones/2", zoneRow(2, "a.")}}) == "");
    const State a = {{"regions/1", regionRow(1, "eu")},
                     {"endpoints/7", endpointRow(7, "web1", 1)},
                     {"endpoints/8", endpointRow(8, "web2", 1)}};
    const State b = {{"regions/1", regionRow(1, "eu")}, {"endpoints/8", endpointRow(8, "web1", 1)}};
    CHECK(bothWays(a, b) == "");
  }
  SUBCASE("a chain of renames: 1 takes 2's name, 2 takes 3's, 3 takes a new one") {
    CHECK(bothWays({{"regions/1", regionRow(1, "a")},
                    {"regions/2", regionRow(2, "b")},
                    {"regions/3", regionRow(3, "c")}},
                   {{"regions/1", regionRow(1, "b")},
                    {"regions/2", regionRow(2, "c")},
                    {"regions/3", regionRow(3, "d")}}) == "");
  }
  SUBCASE("steered names swap zones (UNIQUE (zone_id, owner, type))") {
    const State a = {{"zones/1", zoneRow(1, "a.")},
                     {"zones/2", zoneRow(2, "b.")},
                     {"steered_names/5", steeredRow(5, 1, "www.x.", 1)},
                     {"steered_names/6", steeredRow(6, 2, "www.x.", 1)}};
    State b = a;
    b["steered_names/5"] = steeredRow(5, 2, "www.x.", 1);
    b["steered_names/6"] = steeredRow(6, 1, "www.x.", 1);
    CHECK(bothWays(a, b) == "");
  }
}

TEST_CASE(
    "replica store: a revision that deletes and re-creates a key applies its last change: rows "
    "that reference it (RESTRICT, CASCADE) and their health stay") {
  test::TempDir dir;
  zones::Database db(dir.file("replica.db"));
  const State a = {{"regions/3", regionRow(3, "eu")},
                   {"endpoints/7", endpointRow(7, "web", 3)},
                   {"latency_prefixes/3/81.2.69.0/24", latencyRow(3, "81.2.69.0/24", 12.5)}};
  zones::replaceReplica(db, rowsOf(a), 1);
  addHealthRows(db, a);
  State b = a;
  b["regions/3"] = regionRow(3, "asia", 30);
  std::string error;
  try {
    zones::applyReplicaChanges(db, {{"regions/3", std::nullopt}, {"regions/3", b["regions/3"]}}, 2);
  } catch (const std::exception& e) {
    error = e.what();
  }
  CHECK(error == "");
  CHECK(difference(b, dumped(db)) == "");
  CHECK(healthDifference(db, a, b) == "");
  // And the other way round: a put then a deletion of one key deletes it.
  zones::applyReplicaChanges(db,
                             {{"latency_prefixes/3/81.2.69.0/24", latencyRow(3, "81.2.69.0/24", 1)},
                              {"latency_prefixes/3/81.2.69.0/24", std::nullopt}},
                             3);
  CHECK(count(db, "SELECT count(*) FROM latency_prefixes") == 0);
}

namespace {

// A random configuration whose names come from pools barely larger than the
// number of rows, so two states often swap names, reuse a deleted row's name
// or move children between parents.
class RandomConfig {
 public:
  explicit RandomConfig(uint32_t seed) : rng_(seed) {}

  State next() {
    State s;
    const std::vector<int64_t> zone_ids =
        named(s, "zones", {"a.", "b.", "c.", "d.", "e."}, 4,
              [](int64_t id, const std::string& name) { return zoneRow(id, name); });
    const std::vector<int64_t> region_ids =
        named(s, "regions", {"eu", "us", "asia", "sa", "af"}, 4,
              [this](int64_t id, const std::string& name) {
                nlohmann::json row = nlohmann::json::parse(regionRow(id, name, pick(8) * 0.5));
                if (chance(50)) row["continent"] = "EU";
                return row.dump();
              });
    if (!zone_ids.empty()) {
      // Records in chunks: ids on both sides of the 63/64 boundary, so a
      // state change often empties, fills or splits a chunk.
      std::map<int64_t, std::vector<std::string>> chunks;
      for (int64_t id : {1, 2, 63, 64, 65, 130}) {
        if (!chance(50)) continue;
        const std::string owner = std::string(chance(50) ? "www" : "mail") + ".x.";
        chunks[id / 64].push_back(nlohmann::json{{"id", id},
                                                 {"zone_id", zone_ids[pick(zone_ids.size())]},
                                                 {"owner", owner},
                                                 {"type", chance(50) ? 1 : 28},
                                                 {"ttl", chance(50) ? 60 : 300},
                                                 {"rdata", chance(50) ? "c0000201" : "c0000202"}}
                                      .dump());
      }
      for (const auto& [n, records] : chunks) s["record_chunks/" + std::to_string(n)] = chunk(records);
      std::set<std::tuple<int64_t, std::string, int64_t>> taken;  // UNIQUE (zone_id, owner, type)
      for (int64_t id = 1; id <= 5; ++id) {
        if (!chance(60)) continue;
        const int64_t zone = zone_ids[pick(zone_ids.size())], type = chance(50) ? 1 : 28;
        const std::string owner = chance(50) ? "www.x." : "api.x.";
        if (!taken.insert({zone, owner, type}).second) continue;
        s["steered_names/" + std::to_string(id)] = steeredRow(id, zone, owner, type);
      }
    }
    if (!region_ids.empty()) {
      named(s, "endpoints", {"web1", "web2", "web3", "web4", "web5", "web6"}, 5,
            [&](int64_t id, const std::string& name) {
              nlohmann::json row = nlohmann::json::parse(
                  endpointRow(id, name, region_ids[pick(region_ids.size())], 1 + pick(3)));
              if (chance(30)) row["capacity"] = 100;
              if (chance(30)) row["state"] = "drain";
              if (chance(30)) row["check_spec"] = R"({"type":"tcp"})";
              return row.dump();
            });
      for (int64_t region : region_ids) {
        for (const char* prefix : {"81.2.69.0/24", "10.0.0.0/8", "2001:db8::/32"}) {
          if (!chance(40)) continue;
          s["latency_prefixes/" + std::to_string(region) + "/" + prefix] =
              latencyRow(region, prefix, 1 + pick(40) * 0.5);
        }
      }
    }
    return s;
  }

  // Deterministic on every platform, unlike the distributions of <random>.
  size_t pick(size_t n) { return rng_() % n; }
  bool chance(int percent) { return static_cast<int>(pick(100)) < percent; }
  template <typename T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[pick(i)]);
  }

 private:
  // Ids 1..max_id, each present at 60%, with distinct names from `pool`.
  template <typename MakeRow>
  std::vector<int64_t> named(State& s, const std::string& table, std::vector<std::string> pool,
                             int64_t max_id, MakeRow make_row) {
    shuffle(pool);
    std::vector<int64_t> ids;
    for (int64_t id = 1; id <= max_id; ++id) {
      if (!chance(60)) continue;
      s[table + "/" + std::to_string(id)] = make_row(id, pool[ids.size()]);
      ids.push_back(id);
    }
    return ids;
  }

  std::mt19937 rng_;
};

}  // namespace

TEST_CASE(
    "replica store: property: random states A and B, a full load of B or B's changes in any order "
    "after A, both hold exactly B with the health of kept endpoints") {
  test::TempDir dir;
  zones::Database full(dir.file("full.db")), watched(dir.file("watched.db"));
  RandomConfig random(20240610);
  State a = random.next();
  int failures = 0;
  for (int i = 0; i < 300 && failures < 3; ++i) {
    const State b = random.next();
    std::vector<zones::ReplicaChange> changes = diff(a, b);
    random.shuffle(changes);  // etcd delivers a txn's events in the writer's order
    const std::string what = transition(full, watched, a, b, changes);
    if (!what.empty()) {
      ++failures;
      FAIL_CHECK("iteration " << i << ":\n" << what);
    }
    a = b;
  }
  CHECK(failures == 0);
}

TEST_CASE("replica: a region's min_healthy travels with the region, and rows without it apply") {
  test::TempDir dir;
  zones::Database source(dir.file("source.db"));
  zones::Region eu;
  eu.name = "eu";
  eu.min_healthy = zones::parseMinHealthy("50%", "min_healthy");
  zones::createRegion(source, eu);
  const std::vector<zones::ReplicaRow> rows = zones::dumpReplicaRows(source);
  zones::Database replica(dir.file("replica.db"));
  zones::replaceReplica(replica, rows, 1);
  CHECK(zones::getRegion(replica, "eu").min_healthy == eu.min_healthy);
  // A row written by a node from before the column: none.
  zones::applyReplicaChanges(replica, {{"regions/1", kRegion}}, 2);
  CHECK(zones::getRegion(replica, "eu").min_healthy.value == 0);
}
