// meridian-healthd end to end, configuration side: staggered first probes,
// endpoints added / changed / deleted while it runs, the global probe cap,
// specs that do not parse, readiness, tcp and dns checks, two vantages.

#include <doctest/doctest.h>
#include <signal.h>

#include <algorithm>
#include <map>
#include <string>
#include <thread>

#include "tests/healthd/healthd_process.h"
#include "tests/healthd/test_servers.h"

using namespace meridian::test;

namespace {

std::vector<std::string> args(const HealthDb& db, std::vector<std::string> extra = {}) {
  std::vector<std::string> a = {"--db", db.path(), "--vantage", "test", "--log-level", "debug"};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

void sleepMs(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

}  // namespace

TEST_CASE("e2e: the first probes of ten checks never fire together") {
  HealthDb db;
  TestHttpServer server;
  for (int i = 0; i < 10; ++i) {
    // +=, not "literal" + temporary: g++ 12 -O3 false -Wrestrict
    std::string name = "e";
    name += std::to_string(i);
    db.addEndpoint(name, "127.0.0.1", httpCheck(server.url("/" + name)));
  }
  HealthdProcess healthd(args(db), db.dir().file("healthd.log"));
  REQUIRE(waitFor(
      [&] {
        std::map<std::string, int> seen;
        for (const auto& r : server.requests()) seen[r.path]++;
        return seen.size() == 10;
      },
      3000));
  std::map<std::string, double> first;
  for (const auto& r : server.requests()) first.try_emplace(r.path, r.at_ms);
  std::vector<double> times;
  for (const auto& [path, at] : first) times.push_back(at);
  std::sort(times.begin(), times.end());
  double min_gap = 1e9;
  for (size_t i = 1; i < times.size(); ++i) min_gap = std::min(min_gap, times[i] - times[i - 1]);
  MESSAGE("first probes span " << times.back() - times.front() << " ms, closest two " << min_gap
                               << " ms apart");
  // Slots of 100 ms, each probe in the first half of its slot: >= 50 ms apart
  // by construction; 25 ms leaves room for scheduling noise.
  CHECK(min_gap >= 25.0);
  CHECK(times.back() - times.front() < 1000.0);
  CHECK(times.back() - times.front() > 500.0);  // really spread, not bunched at the start
}

TEST_CASE("e2e: endpoints added, changed and deleted are picked up within a second") {
  HealthDb db;
  TestHttpServer server;
  const int64_t a = db.addEndpoint("a", "127.0.0.1", httpCheck(server.url("/a")));
  HealthdProcess healthd(args(db), db.dir().file("healthd.log"));
  REQUIRE(waitFor([&] { return db.health(a).has_value(); }, 3000));

  // Added: one new check is placed in the first half of its 1 s interval,
  // after at most 250 ms to notice the change.
  double t = steadyMs();
  const int64_t b = db.addEndpoint("b", "127.0.0.1", httpCheck(server.url("/b")));
  REQUIRE(waitFor([&] { return server.count("/b") > 0; }, 1500));
  MESSAGE("new endpoint probed " << steadyMs() - t << " ms after the insert");
  REQUIRE(waitFor([&] { return db.health(b).has_value(); }, 1000));

  // Changed: the check now points elsewhere; the old URL is no longer probed.
  t = steadyMs();
  auto update = db.db().prepare("UPDATE endpoints SET check_spec = ?1 WHERE id = ?2");
  update.bind(1, httpCheck(server.url("/a2"))).bind(2, a).run();
  REQUIRE(waitFor([&] { return server.count("/a2") > 0; }, 1500));
  MESSAGE("changed check probed " << steadyMs() - t << " ms after the update");
  const size_t old_count = server.count("/a");
  sleepMs(1500);
  CHECK(server.count("/a") == old_count);

  // Deleted: the row goes with it and probing stops.
  db.db().exec("DELETE FROM endpoints WHERE id = " + std::to_string(b));
  CHECK_FALSE(db.health(b).has_value());
  sleepMs(600);  // let healthd notice and drop the probe
  const size_t b_count = server.count("/b");
  sleepMs(2000);
  CHECK(server.count("/b") == b_count);
  CHECK_FALSE(db.health(b).has_value());  // and no late write brought it back

  // Check removed: the endpoint is no longer probed and its row is deleted.
  db.db().exec("UPDATE endpoints SET check_spec = NULL WHERE id = " + std::to_string(a));
  CHECK(waitFor([&] { return !db.health(a).has_value(); }, 1000));
  CHECK(healthd.running());
}

TEST_CASE("e2e: a changed address is probed within a second") {
  HealthDb db;
  TestTcpListener listener;  // bound to 127.0.0.1 only
  const int64_t id = db.addEndpoint("t", "127.0.0.1",
                                    R"({"type":"tcp","port":)" + std::to_string(listener.port()) +
                                        R"(,"interval_s":1,"timeout_ms":500,"rise":1,"fall":1})");
  HealthdProcess healthd(args(db), db.dir().file("healthd.log"));
  REQUIRE(waitFor(
      [&] {
        auto r = db.health(id);
        return r && r->healthy && r->rtt_ms;
      },
      3000));
  // 127.0.0.2 is loopback too, but nothing listens there on this port.
  db.db().exec("UPDATE endpoints SET address = '127.0.0.2' WHERE id = " + std::to_string(id));
  const double t = steadyMs();
  REQUIRE_MESSAGE(waitFor([&] { return !db.health(id)->healthy; }, 2000), healthd.log());
  MESSAGE("address change took effect after " << steadyMs() - t << " ms");
  const auto row = *db.health(id);
  CHECK(row.last_error == "check: connect: connection refused");
  CHECK_FALSE(row.rtt_ms.has_value());  // the old address's RTT was dropped
}

TEST_CASE("e2e: the global probe cap holds when many checks are due") {
  HealthDb db;
  TestHttpServer server;
  for (int i = 0; i < 20; ++i) {
    // +=, not "literal" + temporary: g++ 12 -O3 false -Wrestrict
    std::string name = "e";
    name += std::to_string(i);
    db.addEndpoint(name, "127.0.0.1", httpCheck(server.url("/" + name)));
  }
  // 20 checks at 1 s would be 20 probes/s; capped at 5/s.
  HealthdProcess healthd(args(db, {"--max-probes-per-second", "5"}), db.dir().file("healthd.log"));
  REQUIRE(waitFor([&] { return server.total() > 0; }, 2000));
  const double start = steadyMs();
  const uint64_t before = server.total();
  sleepMs(3000);
  const uint64_t during = server.total() - before;
  const double seconds = (steadyMs() - start) / 1000.0;
  MESSAGE(during << " probes in " << seconds << " s with a cap of 5/s");
  CHECK(during <= static_cast<uint64_t>(5 * seconds + 2));
  CHECK(during >= 10);
  healthd.signal(SIGUSR1);
  CHECK(waitFor(
      [&] {
        return healthd.log().find("rate_delayed=0") == std::string::npos &&
               healthd.log().find("stats (SIGUSR1)") != std::string::npos;
      },
      1000));
}

TEST_CASE("e2e: specs that do not parse make the endpoint unhealthy with the reason") {
  HealthDb db;
  const int64_t missing_url = db.addEndpoint("x", "127.0.0.1", std::string(R"({"type":"http"})"));
  const int64_t not_json = db.addEndpoint("y", "127.0.0.1", std::string("{not json"));
  HealthdProcess healthd(args(db), db.dir().file("healthd.log"));
  REQUIRE(waitFor([&] { return db.health(missing_url) && db.health(not_json); }, 2000));
  CHECK_FALSE(db.health(missing_url)->healthy);
  CHECK(db.health(missing_url)->last_error ==
        "invalid check spec: check.url: is required for http checks");
  CHECK_FALSE(db.health(not_json)->healthy);
  CHECK(db.health(not_json)->last_error->find("check: stored JSON does not parse") !=
        std::string::npos);
  CHECK(healthd.running());
}

TEST_CASE("e2e: readiness, tcp and dns checks; no checks means no row") {
  HealthDb db;
  TestHttpServer web;
  web.setPath("/ready", {503, "db down", 0});
  TestTcpListener tcp;
  TestDnsServer dns;
  dns.setAnswers({"192.0.2.53"});
  const int64_t both = db.addEndpoint("both", "127.0.0.1", httpCheck(web.url("/live")),
                                      httpCheck(web.url("/ready"), 1, 1));
  const int64_t tcp_id = db.addEndpoint("tcp", "127.0.0.1",
                                        R"({"type":"tcp","port":)" + std::to_string(tcp.port()) +
                                            R"(,"interval_s":1,"timeout_ms":500})");
  const int64_t dns_id = db.addEndpoint(
      "dns", "127.0.0.1",
      R"({"type":"dns","port":)" + std::to_string(dns.port()) +
          R"(,"query_name":"www.example.test","expect_answer":"192.0.2.53","interval_s":1,"timeout_ms":500})");
  const int64_t none = db.addEndpoint("none", "127.0.0.1", std::nullopt);
  HealthdProcess healthd(args(db), db.dir().file("healthd.log"));
  // A known-down readiness check is written before liveness reports (the
  // endpoint is unhealthy either way); wait until both are known.
  REQUIRE(waitFor(
      [&] {
        auto b = db.health(both);
        return b && b->liveness_ok && b->readiness_ok && db.health(tcp_id) && db.health(dns_id);
      },
      3000));
  const auto row = *db.health(both);
  CHECK_FALSE(row.healthy);
  CHECK(row.liveness_ok == 1);
  CHECK(row.readiness_ok == 0);
  CHECK(row.last_error == "readiness: HTTP 503 (expected 200)");
  CHECK(db.health(tcp_id)->healthy);
  CHECK(db.health(tcp_id)->rtt_ms.has_value());
  CHECK(db.health(dns_id)->healthy);
  CHECK(dns.queries() >= 1);
  sleepMs(500);
  CHECK_FALSE(db.health(none).has_value());

  web.setPath("/ready", {200, "ok", 0});
  CHECK(waitFor([&] { return db.health(both)->healthy; }, 2500));
}

TEST_CASE("e2e: two vantages write their own rows into one database") {
  HealthDb db;
  TestHttpServer server;
  const int64_t id = db.addEndpoint("web", "127.0.0.1", httpCheck(server.url("/")));
  HealthdProcess east({"--db", db.path(), "--vantage", "east"}, db.dir().file("east.log"));
  HealthdProcess west({"--db", db.path(), "--vantage", "west"}, db.dir().file("west.log"));
  REQUIRE(waitFor([&] { return db.health(id, "east") && db.health(id, "west"); }, 3000));
  CHECK(db.health(id, "east")->healthy);
  CHECK(db.health(id, "west")->healthy);
  CHECK(db.lastWrite("east").has_value());
  CHECK(db.lastWrite("west").has_value());
  // One of them dying leaves the other writing.
  east.signal(SIGKILL);
  east.wait(2000);
  const int64_t west_before = *db.lastWrite("west");
  CHECK(waitFor([&] { return *db.lastWrite("west") > west_before; }, 1000));
}
