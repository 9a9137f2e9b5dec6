// meridian-healthd end to end: the real binary on a temp database, probing
// HTTP servers inside this test. Down after `fall` failures and up after
// `rise` successes within the bounds meridiand relies on; kill -9 and
// restart; RTT ordering; heartbeat; clean shutdown.

#include <doctest/doctest.h>
#include <signal.h>

#include <string>
#include <thread>

#include "tests/healthd/healthd_process.h"
#include "tests/healthd/test_servers.h"

using namespace meridian::test;

namespace {

std::vector<std::string> args(const HealthDb& db) {
  return {"--db", db.path(), "--vantage", "test", "--log-level", "debug"};
}

size_t countStatus(const TestHttpServer& server, double after_ms) {
  size_t n = 0;
  for (const auto& r : server.requests()) n += r.at_ms >= after_ms ? 1 : 0;
  return n;
}

}  // namespace

TEST_CASE("e2e: unhealthy after fall failures, healthy again after rise successes") {
  HealthDb db;
  TestHttpServer server;
  const int64_t id = db.addEndpoint("web-1", "127.0.0.1", httpCheck(server.url("/healthz"), 2, 3));
  HealthdProcess healthd(args(db), db.dir().file("healthd.log"));

  REQUIRE_MESSAGE(waitFor(
                      [&] {
                        auto r = db.health(id);
                        return r && r->healthy;
                      },
                      3000),
                  healthd.log());
  const auto first = *db.health(id);
  CHECK(first.liveness_ok == 1);
  CHECK_FALSE(first.readiness_ok.has_value());
  CHECK(first.transitions == 0);
  REQUIRE(first.rtt_ms);

  // 200 -> 500: down after 3 failed probes, within interval * fall + 1 s = 4 s.
  server.setStatus(500);
  const double flipped = steadyMs();
  REQUIRE_MESSAGE(waitFor([&] { return !db.health(id)->healthy; }, 4000), healthd.log());
  const double down_after = steadyMs() - flipped;
  MESSAGE("went unhealthy " << down_after << " ms after the server started failing");
  CHECK(countStatus(server, flipped) >= 3);  // not before `fall` failures
  auto down = *db.health(id);
  CHECK(down.transitions == 1);
  CHECK(down.liveness_ok == 0);
  CHECK(down.last_error == "check: HTTP 500 (expected 200)");
  CHECK(down.since > first.since);

  // 500 -> 200: up after 2 good probes, within interval * rise + 1 s = 3 s.
  server.setStatus(200);
  const double fixed = steadyMs();
  REQUIRE_MESSAGE(waitFor([&] { return db.health(id)->healthy; }, 3000), healthd.log());
  MESSAGE("healthy again " << steadyMs() - fixed << " ms after the server recovered");
  CHECK(countStatus(server, fixed) >= 2);
  CHECK(db.health(id)->transitions == 2);
  CHECK(db.health(id)->since > down.since);

  healthd.signal(SIGTERM);
  CHECK(healthd.wait(3000) == 0);
}

TEST_CASE("e2e: kill -9 and restart resumes writing and keeps the history") {
  HealthDb db;
  TestHttpServer server;
  const int64_t id = db.addEndpoint("web-1", "127.0.0.1", httpCheck(server.url("/"), 1, 1));
  auto healthd = std::make_unique<HealthdProcess>(args(db), db.dir().file("healthd.log"));
  REQUIRE(waitFor(
      [&] {
        auto r = db.health(id);
        return r && r->healthy;
      },
      3000));
  server.setStatus(503);
  REQUIRE(waitFor([&] { return !db.health(id)->healthy; }, 3000));
  CHECK(db.health(id)->transitions == 1);

  healthd->signal(SIGKILL);
  CHECK(healthd->wait(3000) == 128 + SIGKILL);
  healthd.reset();
  const int64_t frozen = *db.lastWrite();
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK(*db.lastWrite() == frozen);     // nobody writes while healthd is dead
  CHECK_FALSE(db.health(id)->healthy);  // the row stays as it was

  server.setStatus(200);
  HealthdProcess restarted(args(db), db.dir().file("healthd.log"));
  REQUIRE(waitFor([&] { return *db.lastWrite() > frozen; }, 2000));
  REQUIRE_MESSAGE(waitFor([&] { return db.health(id)->healthy; }, 3000), restarted.log());
  // Seeded from the stored row: the count continues instead of restarting at 0.
  CHECK(db.health(id)->transitions == 2);
  restarted.signal(SIGTERM);
  CHECK(restarted.wait(3000) == 0);
}

// The RTT is the TCP handshake (what a tcp check measures too, so the latency
// policy compares like with like), not the server's response time: a server
// that takes 80 ms to answer is no farther away than one that takes 5 ms.
TEST_CASE("e2e: latency: an HTTP check's RTT is the handshake, not the server's 80 ms") {
  HealthDb db;
  TestHttpServer fast, slow;
  fast.setDefault({200, "ok", 5});
  slow.setDefault({200, "ok", 80});
  const int64_t fast_id = db.addEndpoint("fast", "127.0.0.1", httpCheck(fast.url("/")));
  const int64_t slow_id = db.addEndpoint("slow", "127.0.0.1", httpCheck(slow.url("/")));
  HealthdProcess healthd(args(db), db.dir().file("healthd.log"));
  REQUIRE(waitFor(
      [&] {
        auto f = db.health(fast_id);
        auto s = db.health(slow_id);
        return f && s && f->rtt_ms && s->rtt_ms;
      },
      3000));
  const double f = *db.health(fast_id)->rtt_ms;
  const double s = *db.health(slow_id)->rtt_ms;
  MESSAGE("rtt fast " << f << " ms, slow " << s << " ms");
  CHECK(f >= 0.0);
  CHECK(s >= 0.0);
  // A loopback handshake takes well under a millisecond; 40 ms leaves room
  // for ASan on a busy machine and is still half the slow server's delay.
  CHECK(f < 40.0);
  CHECK(s < 40.0);
}

TEST_CASE("e2e: heartbeat every second while nothing changes; SIGHUP; clean SIGTERM") {
  HealthDb db;
  HealthdProcess healthd(
      {"--db", db.path(), "--vantage", "test", "--latitude", "50.1", "--longitude", "8.7"},
      db.dir().file("healthd.log"));
  REQUIRE(waitFor([&] { return db.lastWrite().has_value(); }, 2000));
  // No endpoints at all: last_write must still move at least once a second.
  int64_t previous = *db.lastWrite();
  for (int i = 0; i < 3; ++i) {
    REQUIRE(waitFor([&] { return *db.lastWrite() > previous; }, 1000));
    previous = *db.lastWrite();
  }
  auto s = db.db().prepare("SELECT latitude, longitude FROM vantages WHERE name = 'test'");
  REQUIRE(s.step());
  CHECK(s.columnDouble(0) == doctest::Approx(50.1));
  CHECK(s.columnDouble(1) == doctest::Approx(8.7));

  healthd.signal(SIGHUP);
  CHECK(waitFor(
      [&] { return healthd.log().find("SIGHUP: re-reading endpoints") != std::string::npos; },
      1000));
  healthd.signal(SIGUSR1);
  CHECK(waitFor(
      [&] { return healthd.log().find("stats (SIGUSR1): endpoints=0") != std::string::npos; },
      1000));
  CHECK(healthd.running());
  healthd.signal(SIGTERM);
  CHECK(healthd.wait(3000) == 0);
  CHECK(healthd.log().find("SIGTERM: stopping") != std::string::npos);
}

TEST_CASE("e2e: a missing database or bad options fail with a clear message") {
  TempDir dir;
  HealthdProcess missing({"--db", dir.file("nope.db")}, dir.file("a.log"));
  CHECK(missing.wait(3000) == 1);
  CHECK(missing.log().find("nope.db") != std::string::npos);

  HealthdProcess half({"--db", dir.file("x.db"), "--latitude", "10"}, dir.file("b.log"));
  CHECK(half.wait(3000) != 0);
  CHECK(half.log().find("longitude") != std::string::npos);
}
