// The `metrics` probe against a real HTTP server on 127.0.0.1 serving a
// Prometheus exposition: the gauge's matching samples sum to the load, the
// error ratio comes from the counters' increases, and hostile bodies (too
// large, malformed, NaN) fail the probe with a clear error and no reading.

#include <doctest/doctest.h>

#include <string>

#include "healthd/prom_text.h"
#include "tests/healthd/probe_harness.h"
#include "tests/healthd/test_servers.h"

using namespace meridian;
using namespace meridian::test;
using healthd::ProbeResult;

namespace {

std::string metricsSpec(const std::string& url, const std::string& extra = "") {
  return R"({"type":"metrics","url":")" + url +
         R"(","gauge":"envoy_cluster_upstream_rq_active","labels":{"envoy_cluster_name":"web"},)"
         R"("interval_s":1,"timeout_ms":900)" + extra + "}";
}

std::string exposition(int active_a, int active_b, int errors, int requests) {
  return "# TYPE envoy_cluster_upstream_rq_active gauge\n"
         "envoy_cluster_upstream_rq_active{envoy_cluster_name=\"web\",zone=\"a\"} " +
         std::to_string(active_a) +
         "\n"
         "envoy_cluster_upstream_rq_active{envoy_cluster_name=\"web\",zone=\"b\"} " +
         std::to_string(active_b) +
         "\n"
         "envoy_cluster_upstream_rq_active{envoy_cluster_name=\"admin\"} 999\n"
         "envoy_cluster_upstream_rq_xx{envoy_cluster_name=\"web\",envoy_response_code_class=\"5\"} " +
         std::to_string(errors) +
         "\n"
         "envoy_cluster_upstream_rq_total{envoy_cluster_name=\"web\"} " + std::to_string(requests) +
         "\n";
}

const char* kRatio =
    R"(,"error_ratio":{"numerator":"envoy_cluster_upstream_rq_xx{envoy_response_code_class=\"5\"}",)"
    R"("denominator":"envoy_cluster_upstream_rq_total"})";

}  // namespace

TEST_CASE("metrics probe: the gauge's matching samples are the load; errors from the counters") {
  TestHttpServer server;
  server.setPath("/metrics", {200, exposition(7, 5, 1000, 40000), 0});
  ProbeHarness h;
  h.add(metricsSpec(server.url("/metrics"), kRatio)).start(0);
  const auto& first = h.runUntil(0, 1, 5000);
  REQUIRE(first.size() == 1);
  CHECK(first[0].ok);
  CHECK(first[0].from_metrics);
  REQUIRE(first[0].load);
  CHECK(*first[0].load == 12);            // 7 + 5; the admin cluster's 999 is not web's
  CHECK_FALSE(first[0].error_rate);       // one reading: no increase to compare yet
  // 12 more errors over 400 more requests: 0.03.
  server.setPath("/metrics", {200, exposition(1, 2, 1012, 40400), 0});
  const auto& second = h.runUntil(0, 2, 5000);
  REQUIRE(second.size() == 2);
  CHECK(second[1].ok);
  CHECK(*second[1].load == 3);
  REQUIRE(second[1].error_rate);
  CHECK(*second[1].error_rate == doctest::Approx(0.03));
  // A counter that went back (the exporter restarted): unknown, not negative.
  server.setPath("/metrics", {200, exposition(1, 2, 3, 50), 0});
  const auto& third = h.runUntil(0, 3, 5000);
  REQUIRE(third.size() == 3);
  CHECK(third[2].ok);
  CHECK_FALSE(third[2].error_rate);
}

TEST_CASE("metrics probe: hostile and broken expositions fail with a clear error, no reading") {
  TestHttpServer server;
  ProbeHarness h;
  struct Row {
    std::string body;
    int status;
    const char* error;
  };
  const Row rows[] = {
      {exposition(1, 1, 0, 0), 503, "HTTP 503 (expected 200)"},
      {"envoy_cluster_upstream_rq_active{envoy_cluster_name=\"db\"} 4\n", 200,
       "metrics: no sample of envoy_cluster_upstream_rq_active with the given labels"},
      {"envoy_cluster_upstream_rq_active{envoy_cluster_name=\"web\"} NaN\n", 200,
       "metrics: line 1: envoy_cluster_upstream_rq_active is not a finite number"},
      {"ok 1\nenvoy_cluster_upstream_rq_active{envoy_cluster_name=\"web\" 4\n", 200,
       "metrics: line 2: expected ',' or '}' after a label"},
      {"envoy_cluster_upstream_rq_active{envoy_cluster_name=\"web\"} -3\n", 200,
       "metrics: envoy_cluster_upstream_rq_active is negative"},
      {std::string(healthd::kMaxExpositionBytes + 1000, '#'), 200,
       "metrics: exposition is larger than 4194304 bytes"},
      {"\x01\x02\xff garbage", 200, "metrics: line 1: does not start with a metric name"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.error);
    server.setPath("/metrics", {row.status, row.body, 0});
    const ProbeResult r = h.once(metricsSpec(server.url("/metrics")));
    CHECK_FALSE(r.ok);
    CHECK(r.error == row.error);
    CHECK(r.from_metrics);
    CHECK_FALSE(r.load);
  }
}
