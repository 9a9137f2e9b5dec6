// The health keys in etcd (cluster/health_keys.h) and the publisher's rule
// for what is worth a write (cluster/health_publish.h): pure functions, fed
// the hostile values a compromised or buggy writer could put in etcd.

#include <doctest/doctest.h>

#include "cluster/health_keys.h"
#include "cluster/health_publish.h"

using namespace meridian;
using namespace meridian::cluster;

TEST_CASE("health keys: the layout, and keys that are not ours are kOther") {
  CHECK(vantageKey("dub-1") == "/meridian/v1/health/vantages/dub-1");
  CHECK(rowKey("dub-1", 42) == "/meridian/v1/health/rows/dub-1/42");
  CHECK(removedKey("dub-1") == "/meridian/v1/health/removed/dub-1");

  HealthKey k = parseHealthKey(rowKey("dub-1", 42));
  CHECK(k.kind == HealthKey::Kind::kRow);
  CHECK(k.vantage == "dub-1");
  CHECK(k.endpoint_id == 42);
  CHECK(parseHealthKey(vantageKey("a.b_c")).kind == HealthKey::Kind::kVantage);
  CHECK(parseHealthKey(removedKey("x")).kind == HealthKey::Kind::kRemoved);
  for (const char* bad :
       {"/meridian/v1/health/rows/dub/", "/meridian/v1/health/rows/dub/-1",
        "/meridian/v1/health/rows/dub/1x", "/meridian/v1/health/rows/dub/99999999999999999999",
        "/meridian/v1/health/rows/du b/1", "/meridian/v1/health/rows//1",
        "/meridian/v1/health/vantages/", "/meridian/v1/health/vantages/a/b",
        "/meridian/v1/health/other/x", "/meridian/v1/config/endpoints/1"}) {
    CAPTURE(bad);
    CHECK(parseHealthKey(bad).kind == HealthKey::Kind::kOther);
  }
  CHECK_FALSE(validVantageName(""));
  CHECK_FALSE(validVantageName(std::string(64, 'a')));
  CHECK(validVantageName(std::string(63, 'a')));
}

TEST_CASE("health rows: round trip; the last error travels only while failing") {
  zones::HealthRow row;
  row.endpoint_id = 7;
  row.healthy = false;
  row.liveness_ok = false;
  row.since = 1000;
  row.last_error = "connect: refused";
  row.transitions = 3;
  row.updated_at = 2000;
  std::string why;
  auto back = decodeRow(encodeRow(row), 7, &why);
  REQUIRE(back);
  CHECK(*back == row);

  row.healthy = true;
  row.liveness_ok = true;
  row.rtt_ms = 12.5;
  back = decodeRow(encodeRow(row), 7, &why);
  REQUIRE(back);
  CHECK_FALSE(back->last_error);
  CHECK(back->rtt_ms == 12.5);
}

TEST_CASE("health rows: values that are not rows are refused with a reason") {
  for (const char* bad :
       {"", "[]", "null", R"({"since":1,"transitions":0,"updated_at":1})",
        R"({"healthy":"yes","since":1,"transitions":0,"updated_at":1})",
        R"({"healthy":true,"since":1.5,"transitions":0,"updated_at":1})",
        R"({"healthy":true,"since":1,"transitions":0,"updated_at":1,"rtt_ms":-3})",
        R"({"healthy":true,"since":1,"transitions":0,"updated_at":1,"rtt_ms":"fast"})",
        R"({"healthy":false,"since":1,"transitions":0,"updated_at":1,"last_error":7})"}) {
    CAPTURE(bad);
    std::string why;
    CHECK_FALSE(decodeRow(bad, 1, &why));
    CHECK_FALSE(why.empty());
  }
  std::string why;
  CHECK_FALSE(decodeVantage(R"({"latitude":91,"longitude":0})", &why));
  CHECK_FALSE(decodeVantage(R"({"latitude":10})", &why));
  const auto v = decodeVantage(encodeVantage({53.35, -6.26, 15}), &why);
  REQUIRE(v);
  CHECK(v->latitude == 53.35);
  CHECK(v->lease_ttl_s == 15);
}

TEST_CASE("publisher: state changes go out, RTT jitter inside the margin does not") {
  zones::HealthRow a;
  a.healthy = true;
  a.since = 1;
  a.rtt_ms = 50;
  a.updated_at = 1;
  zones::HealthRow b = a;
  b.updated_at = 99;  // a newer probe, nothing else moved
  CHECK_FALSE(HealthPublisher::worthPublishing(a, b, 0.10));
  b.rtt_ms = 54;  // 8%
  CHECK_FALSE(HealthPublisher::worthPublishing(a, b, 0.10));
  b.rtt_ms = 56;  // 12%
  CHECK(HealthPublisher::worthPublishing(a, b, 0.10));
  b = a;
  b.healthy = false;
  CHECK(HealthPublisher::worthPublishing(a, b, 0.10));
  b = a;
  b.transitions = 1;
  CHECK(HealthPublisher::worthPublishing(a, b, 0.10));
  // An error on a healthy row is not published, so a change of it is no news.
  b = a;
  b.last_error = "old";
  CHECK_FALSE(HealthPublisher::worthPublishing(a, b, 0.10));
}
