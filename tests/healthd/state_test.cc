// The pure parts of healthd: rise/fall hysteresis, per-endpoint health with
// since/transitions/last error/RTT, the EWMA, the token bucket and the
// staggering and phase arithmetic. No sockets, no clock.

#include <doctest/doctest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "healthd/endpoint_health.h"
#include "healthd/hysteresis.h"
#include "healthd/rtt_ewma.h"
#include "healthd/scheduler.h"

using meridian::healthd::CheckKind;
using meridian::healthd::CheckState;
using meridian::healthd::EndpointHealth;
using meridian::healthd::HealthRow;
using meridian::healthd::Hysteresis;
using meridian::healthd::jitterBoundMs;
using meridian::healthd::nextDueMs;
using meridian::healthd::ProbeResult;
using meridian::healthd::Rng;
using meridian::healthd::RttEwma;
using meridian::healthd::staggerDelays;
using meridian::healthd::Thresholds;
using meridian::healthd::TokenBucket;

namespace {

// Runs "ok,fail,..." through a Hysteresis and returns the state after each
// step as "up,up,down,...".
std::string script(Hysteresis& h, const std::string& steps) {
  std::stringstream in(steps);
  std::string step, out;
  while (std::getline(in, step, ',')) {
    REQUIRE((step == "ok" || step == "fail"));
    h.record(step == "ok");
    // +=, not "literal" + temporary: g++ 12 -O3 false -Wrestrict
    if (!out.empty()) out += ',';
    out += meridian::healthd::checkStateName(h.state());
  }
  return out;
}

}  // namespace

TEST_CASE("hysteresis: the first result decides, then rise/fall apply") {
  Hysteresis h(2, 3);
  CHECK(h.state() == CheckState::kUnknown);
  CHECK(script(h, "ok,fail,fail,fail,ok,ok") == "up,up,up,down,down,up");
}

TEST_CASE("hysteresis: a first failure is down at once and needs rise successes") {
  Hysteresis h(2, 3);
  CHECK(script(h, "fail,ok,fail,ok,ok") == "down,down,down,down,up");
}

TEST_CASE("hysteresis: an agreeing result resets the streak") {
  Hysteresis h(2, 3);
  CHECK(script(h, "ok,fail,fail,ok,fail,fail,ok") == "up,up,up,up,up,up,up");
  CHECK(script(h, "fail,fail,fail") == "up,up,down");  // continuing: needs 3 in a row
}

TEST_CASE("hysteresis: rise 1 and fall 1 follow every result") {
  Hysteresis h(1, 1);
  CHECK(script(h, "ok,fail,ok,fail") == "up,down,up,down");
}

TEST_CASE("hysteresis: record reports changes only") {
  Hysteresis h(1, 2);
  CHECK(h.record(true));  // unknown -> up
  CHECK_FALSE(h.record(false));
  CHECK(h.record(false));  // up -> down
  CHECK_FALSE(h.record(false));
}

TEST_CASE("hysteresis: seeded state keeps thresholds; new thresholds keep state") {
  Hysteresis h(2, 2);
  h.seed(CheckState::kDown);
  CHECK(script(h, "ok") == "down");
  h.setThresholds(3, 3);  // clears the streak of one
  CHECK(script(h, "ok,ok,ok") == "down,down,up");
}

TEST_CASE("rtt ewma: first sample as is, then alpha 0.3 as documented") {
  RttEwma e;
  CHECK_FALSE(e.value().has_value());
  CHECK(e.add(20) == doctest::Approx(20));
  CHECK(e.add(40) == doctest::Approx(26));
  CHECK(e.add(40) == doctest::Approx(30.2));
  CHECK(e.add(40) == doctest::Approx(33.14));
}

TEST_CASE("endpoint health: no row until every configured check reported") {
  EndpointHealth h(7);
  h.configure(Thresholds{2, 3}, Thresholds{1, 1}, 1000);
  CHECK_FALSE(h.row(1000).has_value());
  h.record(CheckKind::kLiveness, {true, {}, 12.0}, 1100);
  CHECK_FALSE(h.row(1100).has_value());  // readiness still unknown
  h.record(CheckKind::kReadiness, {true, {}, 50.0}, 1200);
  auto row = h.row(1200);
  REQUIRE(row);
  CHECK(row->endpoint_id == 7);
  CHECK(row->healthy);
  CHECK(row->liveness_ok == true);
  CHECK(row->readiness_ok == true);
  CHECK(row->since == 1200);
  CHECK(row->transitions == 0);
  CHECK(row->rtt_ms == doctest::Approx(12.0));  // liveness is the RTT source
}

TEST_CASE("endpoint health: readiness failing makes the endpoint unhealthy") {
  EndpointHealth h(1);
  h.configure(Thresholds{2, 3}, Thresholds{1, 1}, 0);
  h.record(CheckKind::kLiveness, {true, {}, 5.0}, 10);
  h.record(CheckKind::kReadiness, {true, {}, {}}, 20);
  h.record(CheckKind::kReadiness, {false, "HTTP 503 (expected 200)", {}}, 30);
  auto row = h.row(30);
  REQUIRE(row);
  CHECK_FALSE(row->healthy);
  CHECK(row->liveness_ok == true);
  CHECK(row->readiness_ok == false);
  CHECK(row->since == 30);
  CHECK(row->transitions == 1);
  CHECK(row->last_error == "readiness: HTTP 503 (expected 200)");
}

TEST_CASE("endpoint health: a known-down check gives a row before the other reports") {
  EndpointHealth h(1);
  h.configure(Thresholds{2, 3}, Thresholds{2, 3}, 0);
  h.record(CheckKind::kLiveness, {false, "timeout after 1000 ms", {}}, 10);
  auto row = h.row(10);
  REQUIRE(row);
  CHECK_FALSE(row->healthy);
  CHECK_FALSE(row->readiness_ok.has_value());
}

TEST_CASE("endpoint health: fall failures, then rise successes, counted as transitions") {
  EndpointHealth h(1);
  h.configure(Thresholds{2, 3}, std::nullopt, 0);
  const ProbeResult ok{true, {}, 10.0};
  const ProbeResult bad{false, "HTTP 500 (expected 200)", {}};
  h.record(CheckKind::kLiveness, ok, 1000);
  REQUIRE(h.takeChangedRow(1000));
  h.record(CheckKind::kLiveness, bad, 2000);
  auto r = h.takeChangedRow(2000);  // still healthy, but the error is new: written
  REQUIRE(r);
  CHECK(r->healthy);
  CHECK(r->last_error == "check: HTTP 500 (expected 200)");
  h.record(CheckKind::kLiveness, bad, 3000);
  CHECK_FALSE(h.takeChangedRow(3000));  // nothing meridiand cares about changed
  h.record(CheckKind::kLiveness, bad, 4000);
  r = h.takeChangedRow(4000);
  REQUIRE(r);
  CHECK_FALSE(r->healthy);
  CHECK(r->since == 4000);
  CHECK(r->transitions == 1);
  h.record(CheckKind::kLiveness, ok, 5000);
  CHECK(h.healthy() == false);
  h.record(CheckKind::kLiveness, ok, 6000);
  r = h.takeChangedRow(6000);
  REQUIRE(r);
  CHECK(r->healthy);
  CHECK(r->since == 6000);
  CHECK(r->transitions == 2);
  CHECK(r->last_error == "check: HTTP 500 (expected 200)");  // kept for the operator
}

TEST_CASE("endpoint health: small RTT moves are not written, larger ones are") {
  EndpointHealth h(1);
  h.configure(Thresholds{1, 1}, std::nullopt, 0);
  h.record(CheckKind::kLiveness, {true, {}, 20.0}, 1);
  REQUIRE(h.takeChangedRow(1));
  h.record(CheckKind::kLiveness, {true, {}, 21.0}, 2);  // ewma 20.3: +1.5 %
  CHECK_FALSE(h.takeChangedRow(2));
  h.record(CheckKind::kLiveness, {true, {}, 30.0}, 3);  // ewma 23.2: +16 %
  auto r = h.takeChangedRow(3);
  REQUIRE(r);
  CHECK(*r->rtt_ms == doctest::Approx(20.3 + 0.3 * (30.0 - 20.3)));
}

TEST_CASE("endpoint health: seeded from a stored row continues where it was") {
  EndpointHealth h(3);
  h.configure(Thresholds{2, 2}, std::nullopt, 0);
  HealthRow stored;
  stored.endpoint_id = 3;
  stored.healthy = false;
  stored.liveness_ok = false;
  stored.since = 500;
  stored.transitions = 4;
  stored.rtt_ms = 15.0;
  stored.last_error = "check: timeout after 1000 ms";
  stored.updated_at = 900;
  h.seed(stored);
  CHECK_FALSE(h.takeChangedRow(1000));  // nothing new to write
  h.record(CheckKind::kLiveness, {true, {}, 15.0}, 1000);
  CHECK(h.healthy() == false);  // seeded down: rise = 2 applies, no instant flip
  h.record(CheckKind::kLiveness, {true, {}, 15.0}, 2000);
  auto r = h.takeChangedRow(2000);
  REQUIRE(r);
  CHECK(r->healthy);
  CHECK(r->transitions == 5);
  CHECK(r->since == 2000);
}

TEST_CASE("endpoint health: an unusable spec is unhealthy with the reason") {
  EndpointHealth h(9);
  h.configure(std::nullopt, std::nullopt, 0);
  h.setConfigError(std::string("check.url: is required for http checks"), 100);
  auto r = h.row(100);
  REQUIRE(r);
  CHECK_FALSE(r->healthy);
  CHECK(r->last_error == "invalid check spec: check.url: is required for http checks");
}

TEST_CASE("token bucket: burst, then the configured rate") {
  TokenBucket b(100, 5);  // 100/s = one per 10 ms
  int taken = 0;
  for (int i = 0; i < 20; ++i) taken += b.take(0) ? 1 : 0;
  CHECK(taken == 5);
  CHECK(b.waitMs(0) == 11);  // one token needs 10 ms; rounded up past it
  CHECK_FALSE(b.take(8));    // 0.8 tokens
  CHECK(b.take(11));         // 1.1 tokens
  CHECK_FALSE(b.take(11));
  // One simulated second at 1 ms steps: 100 more (the bucket is empty now).
  taken = 0;
  for (uint64_t t = 11; t <= 1010; ++t) taken += b.take(t) ? 1 : 0;
  CHECK(taken >= 99);
  CHECK(taken <= 101);
}

TEST_CASE("stagger: first probes spread over the interval, half a slot apart at least") {
  Rng rng(42);
  for (int run = 0; run < 50; ++run) {
    std::vector<uint64_t> delays = staggerDelays(std::vector<uint64_t>(10, 1000), rng);
    std::sort(delays.begin(), delays.end());
    CHECK(delays.front() < 50);
    CHECK(delays.back() < 1000);
    for (size_t i = 1; i < delays.size(); ++i) CHECK(delays[i] - delays[i - 1] >= 50);
  }
}

TEST_CASE("stagger: groups with different intervals each span their own interval") {
  Rng rng(7);
  std::vector<uint64_t> intervals = {5000, 1000, 5000, 1000, 5000};
  const auto delays = staggerDelays(intervals, rng);
  for (size_t i = 0; i < intervals.size(); ++i) CHECK(delays[i] < intervals[i]);
  std::vector<uint64_t> five = {delays[0], delays[2], delays[4]};
  std::sort(five.begin(), five.end());
  CHECK(five[1] - five[0] >= 833);  // slots of 1666 ms, first half of each
  CHECK(five[2] - five[1] >= 833);
}

TEST_CASE("phase: next due keeps the phase, skips rounds when late, never runs early") {
  uint64_t round = 0;
  CHECK(nextDueMs(1200, 1000, 0, 1300, round) == 2200);
  CHECK(round == 1);
  CHECK(nextDueMs(1200, 1000, -40, 2500, round) == 3160);
  CHECK(round == 2);
  // Blocked for 2.7 s (rate cap): rounds 3 and 4 are skipped, not run back to back.
  CHECK(nextDueMs(1200, 1000, 0, 5900, round) == 6200);
  CHECK(round == 5);
  // Slightly late (less than half an interval): run now.
  CHECK(nextDueMs(1200, 1000, 0, 7300, round) == 7300);
  CHECK(round == 6);
  CHECK(jitterBoundMs(1000) == 50);
  CHECK(jitterBoundMs(60000) == 250);
}
