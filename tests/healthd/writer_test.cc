// healthd's SQLite side against real database files: reading endpoints (with
// stored rows and bad specs), the batched write, rows for endpoints deleted
// meanwhile, the loop -> store hand-off, a write that fails on a lock, and
// the store thread withholding the heartbeat while the probe loop is stalled.

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "healthd/endpoint_config.h"
#include "healthd/health_writer.h"
#include "healthd/store_worker.h"
#include "tests/healthd/healthd_process.h"

using meridian::healthd::EndpointConfig;
using meridian::healthd::HealthRow;
using meridian::healthd::HealthWriter;
using meridian::healthd::PendingRows;
using meridian::healthd::readEndpoints;
using meridian::healthd::RowChanges;
using meridian::healthd::SpecCache;
using meridian::test::HealthDb;

namespace {

HealthRow row(int64_t id, bool healthy, int64_t at) {
  HealthRow r;
  r.endpoint_id = id;
  r.healthy = healthy;
  r.liveness_ok = healthy;
  r.since = at;
  r.rtt_ms = 1.5;
  r.transitions = 1;
  r.updated_at = at;
  return r;
}

const std::string kTcp = R"({"type":"tcp","port":80,"interval_s":1,"timeout_ms":500})";

}  // namespace

TEST_CASE("writer: rows, deletes and the heartbeat go in one transaction") {
  HealthDb db;
  const int64_t a = db.addEndpoint("a", "192.0.2.1", kTcp);
  const int64_t b = db.addEndpoint("b", "192.0.2.2", kTcp);
  HealthWriter writer(db.db(), {"test", 10.5, 20.25});
  writer.write({{a, row(a, true, 1000)}, {b, row(b, false, 1000)}}, 1000);
  REQUIRE(db.health(a));
  CHECK(db.health(a)->healthy);
  CHECK(db.health(a)->rtt_ms == doctest::Approx(1.5));
  CHECK_FALSE(db.health(b)->healthy);
  CHECK(db.lastWrite() == 1000);

  writer.write({{a, std::nullopt}, {b, row(b, true, 2000)}}, 2000);  // delete a, update b
  CHECK_FALSE(db.health(a));
  CHECK(db.health(b)->healthy);
  CHECK(db.health(b)->updated_at == 2000);
  CHECK(db.lastWrite() == 2000);
  writer.write({}, 2500);  // heartbeat only
  CHECK(db.lastWrite() == 2500);
}

TEST_CASE("writer: a row for an endpoint deleted meanwhile is skipped, not a failed batch") {
  HealthDb db;
  const int64_t a = db.addEndpoint("a", "192.0.2.1", kTcp);
  const int64_t gone = db.addEndpoint("gone", "192.0.2.2", kTcp);
  db.db().exec("DELETE FROM endpoints WHERE id = " + std::to_string(gone));
  HealthWriter writer(db.db(), {"test", std::nullopt, std::nullopt});
  CHECK_NOTHROW(writer.write({{a, row(a, true, 1)}, {gone, row(gone, true, 1)}}, 1));
  CHECK(db.health(a));
  CHECK_FALSE(db.health(gone));
}

TEST_CASE("writer: a locked database fails the write whole, and the rows are kept") {
  HealthDb db;
  const int64_t a = db.addEndpoint("a", "192.0.2.1", kTcp);
  meridian::zones::Database writer_db(db.path());
  sqlite3_busy_timeout(writer_db.handle(), 50);  // do not wait 10 s in a test
  HealthWriter writer(writer_db, {"test", std::nullopt, std::nullopt});
  PendingRows pending;
  pending.put(row(a, true, 1));

  db.db().exec("BEGIN IMMEDIATE");  // someone else holds the write lock
  RowChanges batch = pending.take();
  CHECK_THROWS_AS(writer.write(batch, 1), meridian::zones::DatabaseError);
  pending.put(row(a, false, 2));      // a newer result arrived meanwhile
  pending.restore(std::move(batch));  // must not overwrite it
  db.db().exec("COMMIT");
  CHECK_FALSE(db.health(a));
  CHECK_FALSE(db.lastWrite());

  writer.write(pending.take(), 3);
  REQUIRE(db.health(a));
  CHECK_FALSE(db.health(a)->healthy);  // the newer row won
  CHECK(pending.size() == 0);
}

TEST_CASE("endpoint config: specs, stored rows and bad specs") {
  HealthDb db;
  const int64_t a = db.addEndpoint("a", "192.0.2.1", kTcp, kTcp);
  const int64_t none = db.addEndpoint("none", "192.0.2.2", std::nullopt);
  const int64_t bad = db.addEndpoint("bad", "192.0.2.3", kTcp, std::string(R"({"type":"tcp"})"));
  HealthWriter(db.db(), {"test", std::nullopt, std::nullopt}).write({{a, row(a, false, 7)}}, 7);
  HealthWriter(db.db(), {"other", std::nullopt, std::nullopt})
      .write({{none, row(none, true, 7)}}, 7);

  SpecCache cache;
  const auto list = readEndpoints(db.db(), "test", cache);
  REQUIRE(list.size() == 3);
  CHECK(list[0].id == a);
  CHECK(list[0].liveness->port == 80);
  CHECK(list[0].readiness->port == 80);
  REQUIRE(list[0].stored);
  CHECK_FALSE(list[0].stored->healthy);
  CHECK(list[0].stored->since == 7);
  CHECK(list[1].id == none);
  CHECK_FALSE(list[1].hasChecks());
  CHECK_FALSE(list[1].stored);  // another vantage's row is not ours
  CHECK(list[2].id == bad);
  CHECK_FALSE(list[2].hasChecks());
  CHECK(list[2].error == "readiness.port: is required for tcp checks");
  CHECK(cache.size() == 3);  // kTcp as check (a and bad share it), kTcp as readiness, the bad one

  // Unchanged: the same setups. A changed address is a different setup.
  CHECK(meridian::healthd::sameSetups(list, readEndpoints(db.db(), "test", cache)));
  db.db().exec("UPDATE endpoints SET address = '192.0.2.9' WHERE id = " + std::to_string(a));
  const auto changed = readEndpoints(db.db(), "test", cache);
  CHECK_FALSE(meridian::healthd::sameSetups(list, changed));
  CHECK_FALSE(list[0].sameSetup(changed[0]));
  CHECK(list[1].sameSetup(changed[1]));
}

TEST_CASE("store thread: no heartbeat while the probe loop is stalled; it resumes when it turns") {
  using meridian::healthd::LoopPulse;
  using meridian::healthd::StoreWorker;
  HealthDb db;
  PendingRows pending;
  LoopPulse pulse;
  std::atomic<bool> beating{true};
  std::atomic<bool> done{false};
  // The probe loop's timer, played by a thread.
  std::thread loop([&] {
    while (!done) {
      if (beating) pulse.beat();
      std::this_thread::sleep_for(std::chrono::milliseconds(LoopPulse::kBeatMs));
    }
  });
  StoreWorker worker(
      std::make_unique<meridian::zones::Database>(db.path()), {"test", {}, {}}, pending,
      [](std::vector<EndpointConfig>) {}, pulse);
  worker.start();
  auto lastWrite = [&] { return db.lastWrite().value_or(0); };
  const int64_t first = lastWrite();
  CHECK(meridian::test::waitFor([&] { return lastWrite() > first; }, 2000));

  // The loop stops turning: within kLoopStalledMs (+ a tick) the heartbeat
  // stops, and stays stopped; a row queued meanwhile waits.
  beating = false;
  std::this_thread::sleep_for(std::chrono::milliseconds(StoreWorker::kLoopStalledMs + 1000));
  const int64_t frozen = lastWrite();
  const int64_t a = db.addEndpoint("a", "192.0.2.1", kTcp);
  pending.put(row(a, true, 1000));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(lastWrite() == frozen);
  CHECK_FALSE(db.health(a).has_value());

  // It turns again: heartbeat and the waiting row are written.
  beating = true;
  CHECK(meridian::test::waitFor([&] { return lastWrite() > frozen; }, 2000));
  CHECK(meridian::test::waitFor([&] { return db.health(a).has_value(); }, 2000));
  worker.stop();
  done = true;
  loop.join();
}
