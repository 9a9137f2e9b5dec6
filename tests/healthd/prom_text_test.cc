// The Prometheus text reader of the `metrics` check, table-tested with good
// expositions (HAProxy-, Envoy- and NGINX-exporter shapes) and with malformed
// and hostile ones: each is refused with an error naming the line, never a
// crash and never a wrong number.

#include <doctest/doctest.h>

#include <string>

#include "healthd/prom_text.h"

using namespace meridian::healthd;

namespace {

const std::vector<PromSelector> kSelectors = {
    {"haproxy_backend_current_sessions", {{"proxy", "web"}}},
    {"errors_total", {}},
    {"requests_total", {}},
};

}  // namespace

TEST_CASE("prometheus text: sums the matching samples") {
  struct Row {
    const char* what;
    const char* body;
    double sessions;
    size_t matched;
  };
  const Row rows[] = {
      {"one series", "haproxy_backend_current_sessions{proxy=\"web\"} 12\n", 12, 1},
      {"other labels are ignored, matching ones summed",
       "# HELP haproxy_backend_current_sessions Current sessions.\n"
       "# TYPE haproxy_backend_current_sessions gauge\n"
       "haproxy_backend_current_sessions{proxy=\"web\",server=\"a\"} 5\n"
       "haproxy_backend_current_sessions{server=\"b\",proxy=\"web\"} 7.5\n"
       "haproxy_backend_current_sessions{proxy=\"db\"} 100\n",
       12.5, 2},
      {"no label is no match", "haproxy_backend_current_sessions 9\n", 0, 0},
      {"timestamps, CRLF, blanks and # EOF",
       "\r\n  haproxy_backend_current_sessions { proxy = \"web\" , } 3 1700000000000\r\n# EOF\n", 3,
       1},
      {"escapes in values", "haproxy_backend_current_sessions{proxy=\"web\",x=\"a\\\"b\\\\c\\n\"} 1e2\n",
       100, 1},
      {"a prefix of the name is another metric", "haproxy_backend_current_sessions_max{proxy=\"web\"} 9\n",
       0, 0},
      {"empty body", "", 0, 0},
  };
  for (const Row& row : rows) {
    CAPTURE(row.what);
    const PromSums sums = sumExposition(row.body, kSelectors);
    CHECK(sums.error == "");
    CHECK(sums.sums[0] == doctest::Approx(row.sessions));
    CHECK(sums.matched[0] == row.matched);
  }
}

TEST_CASE("prometheus text: malformed and hostile bodies are refused with the line") {
  struct Row {
    std::string body;
    const char* error;  // a substring of the error
  };
  const Row rows[] = {
      {"haproxy_backend_current_sessions{proxy=\"web\"}\n", "line 1: no sample value"},
      {"ok 1\n9lives 1\n", "line 2: does not start with a metric name"},
      {"m{proxy=web} 1\n", "not quoted"},
      {"m{proxy=\"web} 1\n", "unterminated label value"},
      {"m{proxy\"web\"} 1\n", "has no '='"},
      {"m{proxy=\"web\" x=\"y\"} 1\n", "expected ',' or '}'"},
      {"m{=\"web\"} 1\n", "malformed label name"},
      {"m{a=\"\\x\"} 1\n", "unknown escape"},
      {"m 12abc\n", "is not a number"},
      {"m 0x1A\n", "is not a number"},
      {"m 1 2 3\n", "unexpected text after the timestamp"},
      {"m 1 soon\n", "unexpected text after the sample value"},
      {"haproxy_backend_current_sessions{proxy=\"web\"} NaN\n", "not a finite number"},
      {"errors_total +Inf\n", "not a finite number"},
      {"errors_total 1e308\nerrors_total 1e308\n", "overflows"},
      {std::string("m 1\nm\0 1\n", 10), "line 2: contains a NUL byte"},
      {"m " + std::string(70000, '1') + "\n", "line 1: longer than 65536 bytes"},
      {std::string(kMaxExpositionBytes + 1, '#'), "larger than"},
      {"m{a=\"b\"", "expected ',' or"},
      {"m{", "malformed label name"},
  };
  for (const Row& row : rows) {
    CAPTURE(row.body.substr(0, 60));
    const PromSums sums = sumExposition(row.body, kSelectors);
    CHECK(sums.error.find(row.error) != std::string::npos);
    CAPTURE(sums.error);
  }
  // A NaN in a metric nobody asked for is not our business.
  CHECK(sumExposition("other NaN\n", kSelectors).error == "");
}

TEST_CASE("prometheus text: names") {
  CHECK(isPromMetricName("haproxy_backend_current_sessions"));
  CHECK(isPromMetricName("envoy:cluster_upstream_rq_active"));
  CHECK_FALSE(isPromMetricName("9lives"));
  CHECK_FALSE(isPromMetricName(""));
  CHECK_FALSE(isPromMetricName("a-b"));
  CHECK(isPromLabelName("proxy"));
  CHECK_FALSE(isPromLabelName("a:b"));
}
