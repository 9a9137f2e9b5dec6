// zones::parseCheckSpec: defaults, canonical form, and a table of bad inputs,
// each of which must name the offending field's JSON path.

#include "zones/check_spec.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "zones/validation.h"

using meridian::zones::CheckSpec;
using meridian::zones::CheckType;
using meridian::zones::parseCheckSpec;
using meridian::zones::toJson;
using meridian::zones::ValidationError;
using nlohmann::json;

TEST_CASE("check spec: http defaults are filled in") {
  const CheckSpec s = parseCheckSpec(
      json::parse(R"({"type":"http","url":"http://192.0.2.10:8080/healthz"})"), "check");
  CHECK(s.type == CheckType::Http);
  CHECK(s.url == "http://192.0.2.10:8080/healthz");
  CHECK(s.method == "GET");
  CHECK(s.expect_status == std::vector<int>{200});
  CHECK(s.tls_verify);
  CHECK(s.interval_s == 5);
  CHECK(s.timeout_ms == 1000);
  CHECK(s.rise == 2);
  CHECK(s.fall == 3);
  CHECK(toJson(s) == json::parse(R"({"type":"http","url":"http://192.0.2.10:8080/healthz",
      "method":"GET","expect_status":[200],"interval_s":5,"timeout_ms":1000,"rise":2,"fall":3})"));
}

TEST_CASE("check spec: every field of each type, canonicalised and round-tripped") {
  const std::vector<std::string> inputs = {
      R"({"type":"https","url":"https://192.0.2.10/ready","method":"HEAD","host":"www.example.com",
          "expect_status":[204,200,200],"body_contains":"ok","tls_verify":false,
          "ca_file":"/etc/ssl/ca.pem","interval_s":10,"timeout_ms":2500,"rise":1,"fall":5})",
      R"({"type":"tcp","port":443,"interval_s":1,"timeout_ms":999})",
      R"({"type":"dns","query_name":"WWW.Example.COM","query_type":"aaaa","expect_rcode":"noerror",
          "expect_answer":"2001:DB8:0:0::1"})",
  };
  for (const auto& text : inputs) {
    CAPTURE(text);
    const CheckSpec s = parseCheckSpec(json::parse(text), "check");
    CHECK(parseCheckSpec(toJson(s), "check") == s);
  }
  const CheckSpec https = parseCheckSpec(json::parse(inputs[0]), "check");
  CHECK(https.expect_status == std::vector<int>{200, 204});
  CHECK(https.host == "www.example.com");
  CHECK_FALSE(https.tls_verify);
  const CheckSpec dns = parseCheckSpec(json::parse(inputs[2]), "readiness");
  CHECK(dns.port == 53);
  CHECK(dns.query_name == "www.example.com.");
  CHECK(dns.query_type == "AAAA");
  CHECK(dns.expect_rcode == "NOERROR");
  CHECK(dns.expect_answer == "2001:db8::1");
}

TEST_CASE("check spec: bad inputs name the offending field") {
  struct Case {
    std::string json;
    std::string field;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {R"([])", "check", "must be an object"},
      {R"({})", "check.type", "required"},
      {R"({"type":5})", "check.type", "string"},
      {R"({"type":"icmp"})", "check.type", "icmp"},
      {R"({"type":"http"})", "check.url", "required"},
      {R"({"type":"http","url":"https://x.example/"})", "check.url", "http://"},
      {R"({"type":"https","url":"http://x.example/"})", "check.url", "https://"},
      {R"({"type":"http","url":"not a url"})", "check.url", "URL"},
      {R"({"type":"http","url":""})", "check.url", "empty"},
      {R"({"type":"http","url":"http://x/","method":"DELETE"})", "check.method",
       "GET, HEAD or POST"},
      {R"({"type":"http","url":"http://x/","host":"bad host"})", "check.host", "host name"},
      {R"({"type":"http","url":"http://x/","expect_status":200})", "check.expect_status", "array"},
      {R"({"type":"http","url":"http://x/","expect_status":[]})", "check.expect_status",
       "at least one"},
      {R"({"type":"http","url":"http://x/","expect_status":[200,99]})", "check.expect_status[1]",
       "between 100 and 599"},
      {R"({"type":"http","url":"http://x/","expect_status":[200,"204"]})", "check.expect_status[1]",
       "integer"},
      {R"({"type":"http","url":"http://x/","body_contains":7})", "check.body_contains", "string"},
      {R"({"type":"http","url":"http://x/","tls_verify":false})", "check.tls_verify",
       "does not apply to http"},
      {R"({"type":"https","url":"https://x/","tls_verify":"no"})", "check.tls_verify",
       "true or false"},
      {R"({"type":"https","url":"https://x/","ca_file":"ca.pem"})", "check.ca_file", "absolute"},
      {R"({"type":"http","url":"http://x/","port":80})", "check.port", "does not apply to http"},
      {R"({"type":"http","url":"http://x/","colour":"blue"})", "check.colour", "unknown field"},
      {R"({"type":"tcp"})", "check.port", "required"},
      {R"({"type":"tcp","port":0})", "check.port", "between 1 and 65535"},
      {R"({"type":"tcp","port":65536})", "check.port", "between 1 and 65535"},
      {R"({"type":"tcp","port":80,"url":"http://x/"})", "check.url", "does not apply to tcp"},
      {R"({"type":"dns"})", "check.query_name", "required"},
      {R"({"type":"dns","query_name":"a..b"})", "check.query_name", ""},
      {R"({"type":"dns","query_name":"a.example","query_type":"BOGUS"})", "check.query_type",
       "BOGUS"},
      {R"({"type":"dns","query_name":"a.example","query_type":"AXFR"})", "check.query_type",
       "cannot be used"},
      {R"({"type":"dns","query_name":"a.example","expect_rcode":"SOMETIMES"})",
       "check.expect_rcode", "unknown rcode"},
      {R"({"type":"dns","query_name":"a.example","expect_answer":"999.1.1.1"})",
       "check.expect_answer", "invalid A rdata"},
      {R"({"type":"dns","query_name":"a.example","port":-1})", "check.port", "between 1 and 65535"},
      {R"({"type":"tcp","port":80,"interval_s":0})", "check.interval_s", "between 1 and 3600"},
      {R"({"type":"tcp","port":80,"interval_s":3601})", "check.interval_s", "between 1 and 3600"},
      {R"({"type":"tcp","port":80,"interval_s":1.5})", "check.interval_s", "whole number"},
      {R"({"type":"tcp","port":80,"interval_s":"5"})", "check.interval_s", "integer"},
      {R"({"type":"tcp","port":80,"timeout_ms":0})", "check.timeout_ms", "between 1 and 60000"},
      {R"({"type":"tcp","port":80,"timeout_ms":60001})", "check.timeout_ms", "between 1 and 60000"},
      {R"({"type":"tcp","port":80,"interval_s":1,"timeout_ms":1000})", "check.timeout_ms",
       "less than interval_s"},
      {R"({"type":"tcp","port":80,"rise":0})", "check.rise", "between 1 and 100"},
      {R"({"type":"tcp","port":80,"fall":101})", "check.fall", "between 1 and 100"},
      {R"({"type":"tcp","port":80,"fall":true})", "check.fall", "integer"},
      {R"({"type":"tcp","port":80,"rise":18446744073709551615})", "check.rise",
       "between 1 and 100"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.json);
    bool threw = false;
    try {
      parseCheckSpec(json::parse(c.json), "check");
    } catch (const ValidationError& e) {
      threw = true;
      CHECK(e.field() == c.field);
      CHECK_MESSAGE(e.detail().find(c.message_part) != std::string::npos, e.detail());
      CHECK(std::string(e.what()).rfind(c.field + ": ", 0) == 0);
    }
    CHECK(threw);
  }
}

TEST_CASE("check spec: the field path prefix is the caller's") {
  try {
    parseCheckSpec(json::parse(R"({"type":"tcp","port":80,"rise":0})"), "readiness");
    FAIL("no error");
  } catch (const ValidationError& e) {
    CHECK(e.field() == "readiness.rise");
  }
  try {
    parseCheckSpec(json::parse(R"({"type":"tcp"})"), "");
    FAIL("no error");
  } catch (const ValidationError& e) {
    CHECK(e.field() == "port");
  }
}

TEST_CASE("check spec: metrics checks, round-tripped, and bad ones naming the field") {
  const std::string good =
      R"({"type":"metrics","url":"http://192.0.2.10:8405/metrics",
          "gauge":"haproxy_backend_current_sessions","labels":{"proxy":"web"},
          "error_ratio":{"numerator":"haproxy_backend_http_responses_total{code=\"5xx\"}",
                         "denominator":"haproxy_backend_http_requests_total"},
          "interval_s":2,"timeout_ms":500})";
  const CheckSpec s = parseCheckSpec(json::parse(good), "readiness");
  CHECK(s.type == CheckType::Metrics);
  CHECK(s.gauge == "haproxy_backend_current_sessions");
  CHECK(s.labels.at("proxy") == "web");
  CHECK(parseCheckSpec(toJson(s), "readiness") == s);
  CHECK(parseCheckSpec(json::parse(R"({"type":"metrics","url":"https://a.example/m","gauge":"up"})"),
                       "check")
            .url == "https://a.example/m");
  const auto selector =
      meridian::zones::parsePromSelector(R"(m{a="1",b="x y"})", "error_ratio.numerator");
  CHECK(selector.metric == "m");
  CHECK(selector.labels.size() == 2);

  struct Bad {
    const char* body;
    const char* field;
  };
  const Bad cases[] = {
      {R"({"type":"metrics","gauge":"up"})", "check.url"},
      {R"({"type":"metrics","url":"ftp://a/m","gauge":"up"})", "check.url"},
      {R"({"type":"metrics","url":"http://a/m"})", "check.gauge"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"9up"})", "check.gauge"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up{a=\"b\"}"})", "check.gauge"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up","labels":["proxy"]})", "check.labels"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up","labels":{"a-b":"x"}})",
       "check.labels.a-b"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up","labels":{"a":1}})", "check.labels.a"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up","labels":{"a":"q\""}})",
       "check.labels.a"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up","error_ratio":"5xx"})",
       "check.error_ratio"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up","error_ratio":{"numerator":"e"}})",
       "check.error_ratio.denominator"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up","error_ratio":{"numerator":"e","denominator":"r","x":1}})",
       "check.error_ratio.x"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up","error_ratio":{"numerator":"e{a=b}","denominator":"r"}})",
       "check.error_ratio.numerator"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up","error_ratio":{"numerator":"e{a=\"b\"","denominator":"r"}})",
       "check.error_ratio.numerator"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up","error_ratio":{"numerator":"e","denominator":"r{a=\"1\",a=\"2\"}"}})",
       "check.error_ratio.denominator"},
      {R"({"type":"metrics","url":"http://a/m","gauge":"up","port":80})", "check.port"},
      {R"({"type":"http","url":"http://a/m","gauge":"up"})", "check.gauge"},
  };
  for (const Bad& bad : cases) {
    CAPTURE(bad.body);
    try {
      parseCheckSpec(json::parse(bad.body), "check");
      FAIL("accepted");
    } catch (const ValidationError& e) {
      CHECK(e.field() == bad.field);
    }
  }
}
