// Each probe type against real servers on 127.0.0.1: HTTP status, body,
// method, Host override and timeouts; HTTPS against a self-signed
// certificate; TCP accepted and refused; DNS rcode, answer and silence; URLs
// with host names, resolved by the Resolver's pool (real getaddrinfo for
// localhost; a lookup the test holds or fails for stuck and failing names).

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/healthd/probe_harness.h"
#include "tests/healthd/test_servers.h"
#include "tests/support/dns_test_util.h"

using meridian::healthd::ProbeResult;
using meridian::test::ProbeHarness;
using meridian::test::TestDnsServer;
using meridian::test::TestHttpServer;
using meridian::test::TestTcpListener;

namespace {

std::string httpSpec(const std::string& url, const std::string& extra = "") {
  return R"({"type":")" + url.substr(0, url.find(':')) + R"(","url":")" + url +
         R"(","interval_s":1,"timeout_ms":500)" + extra + "}";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("http probe: 200 passes with an RTT, 500 fails naming the status") {
  TestHttpServer server;
  ProbeHarness h;
  ProbeResult r = h.once(httpSpec(server.url("/healthz")));
  CHECK(r.ok);
  CHECK(r.error.empty());
  REQUIRE(r.rtt_ms);
  CHECK(*r.rtt_ms >= 0.0);
  CHECK(*r.rtt_ms < 400.0);

  server.setStatus(500);
  r = h.once(httpSpec(server.url("/healthz")));
  CHECK_FALSE(r.ok);
  CHECK(r.error == "HTTP 500 (expected 200)");
  CHECK_FALSE(r.rtt_ms);

  r = h.once(httpSpec(server.url("/healthz"), R"(,"expect_status":[500,503])"));
  CHECK(r.ok);
  CHECK(server.requests().size() == 3);
  CHECK(server.requests()[0].method == "GET");
}

TEST_CASE("http probe: body_contains") {
  TestHttpServer server;
  server.setDefault({200, "status: ready", 0});
  ProbeHarness h;
  CHECK(h.once(httpSpec(server.url(), R"(,"body_contains":"ready")")).ok);
  const ProbeResult r = h.once(httpSpec(server.url(), R"(,"body_contains":"database ok")"));
  CHECK_FALSE(r.ok);
  CHECK(r.error == "body does not contain \"database ok\"");
}

TEST_CASE("http probe: HEAD and POST methods, and the Host override") {
  TestHttpServer server;
  ProbeHarness h;
  CHECK(h.once(httpSpec(server.url("/h"), R"(,"method":"HEAD")")).ok);
  CHECK(h.once(httpSpec(server.url("/p"), R"(,"method":"POST","host":"www.example.test")")).ok);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].method == "HEAD");
  CHECK(requests[0].host == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(requests[1].method == "POST");
  CHECK(requests[1].host == "www.example.test:" + std::to_string(server.port()));
}

TEST_CASE("http probe: a slow server times out, and the next probe is not stacked on it") {
  TestHttpServer server;
  server.setDefault({200, "ok", 800});
  ProbeHarness h;
  auto& probe = h.add(httpSpec(server.url("/slow")));
  probe.start(0);
  const auto results = h.runUntil(0, 2, 4000);
  probe.stop();
  REQUIRE(results.size() == 2);
  for (const auto& r : results) {
    CHECK_FALSE(r.ok);
    CHECK(r.error == "timeout after 500 ms");
  }
  CHECK(h.stats().timed_out == 2);
  CHECK(server.maxConcurrent() == 1);  // one probe in flight per check
}

TEST_CASE("http probe: connection refused is reported by curl") {
  ProbeHarness h;
  const ProbeResult r =
      h.once(httpSpec("http://127.0.0.1:" + std::to_string(meridian::test::unusedPort()) + "/"));
  CHECK_FALSE(r.ok);
  CHECK(contains(r.error, "onnect"));
}

TEST_CASE("https probe: self-signed certificate with and without verification") {
  meridian::test::TempDir dir;
  const auto cert = meridian::test::makeSelfSignedCertificate(dir.path());
  if (!cert || !TestHttpServer::tlsSupported()) {
    MESSAGE(
        "skipping live HTTPS: " << (cert ? "libmicrohttpd lacks TLS" : "openssl not installed"));
    return;
  }
  TestHttpServer::Options options;
  options.tls_cert_pem = cert->cert_pem;
  options.tls_key_pem = cert->key_pem;
  TestHttpServer server(options);
  ProbeHarness h;
  SUBCASE("tls_verify false accepts it") {
    const ProbeResult r = h.once(httpSpec(server.url("/"), R"(,"tls_verify":false)"));
    CHECK(r.ok);
    CHECK(r.rtt_ms);
  }
  SUBCASE("verification is on by default and refuses it") {
    const ProbeResult r = h.once(httpSpec(server.url("/")));
    CHECK_FALSE(r.ok);
    CHECK(contains(r.error, "certificate"));
  }
  SUBCASE("a pinned CA file and the SNI host name accept it") {
    const ProbeResult r = h.once(
        httpSpec(server.url("/"), R"(,"ca_file":")" + cert->cert_file + R"(","host":"localhost")"));
    CHECK(r.ok);
    REQUIRE(server.requests().size() == 1);
    CHECK(server.requests()[0].host == "localhost:" + std::to_string(server.port()));
  }
  SUBCASE("a pinned CA with the wrong host name is refused") {
    const ProbeResult r = h.once(httpSpec(
        server.url("/"), R"(,"ca_file":")" + cert->cert_file + R"(","host":"other.example")"));
    CHECK_FALSE(r.ok);
    CHECK(r.error != "");
  }
}

TEST_CASE("tcp probe: accepted and refused") {
  TestTcpListener listener;
  ProbeHarness h;
  ProbeResult r = h.once(R"({"type":"tcp","port":)" + std::to_string(listener.port()) +
                         R"(,"interval_s":1,"timeout_ms":500})");
  CHECK(r.ok);
  REQUIRE(r.rtt_ms);
  CHECK(*r.rtt_ms < 400);
  r = h.once(R"({"type":"tcp","port":)" + std::to_string(meridian::test::unusedPort()) +
             R"(,"interval_s":1,"timeout_ms":500})");
  CHECK_FALSE(r.ok);
  CHECK(r.error == "connect: connection refused");
  // IPv6 addresses take the same path (refused, or unreachable where the
  // sandbox has no ::1).
  r = h.once(R"({"type":"tcp","port":)" + std::to_string(meridian::test::unusedPort()) +
                 R"(,"interval_s":1,"timeout_ms":500})",
             "::1");
  CHECK_FALSE(r.ok);
  CHECK(r.error.rfind("connect: ", 0) == 0);
  r = h.once(R"({"type":"tcp","port":80,"interval_s":1,"timeout_ms":500})", "not-an-address");
  CHECK_FALSE(r.ok);
  CHECK(contains(r.error, "is not an IP address"));
}

TEST_CASE("dns probe: rcode and answer checks") {
  TestDnsServer dns;
  dns.setAnswers({"192.0.2.7", "192.0.2.8"});
  ProbeHarness h;
  const std::string base = R"({"type":"dns","port":)" + std::to_string(dns.port()) +
                           R"(,"query_name":"www.example.test","interval_s":1,"timeout_ms":400)";
  ProbeResult r = h.once(base + "}");
  CHECK(r.ok);
  CHECK(r.rtt_ms);
  CHECK(h.once(base + R"(,"expect_answer":"192.0.2.8"})").ok);
  r = h.once(base + R"(,"expect_answer":"192.0.2.9"})");
  CHECK_FALSE(r.ok);
  CHECK(r.error == "answer has no A 192.0.2.9 (2 answer records)");

  dns.setRcode(3);
  r = h.once(base + "}");
  CHECK_FALSE(r.ok);
  CHECK(r.error == "rcode NXDOMAIN (expected NOERROR)");
  CHECK(h.once(base + R"(,"expect_rcode":"NXDOMAIN"})").ok);
}

TEST_CASE("dns probe: a silent server times out, a closed port is refused at once") {
  TestDnsServer dns;
  dns.setSilent(true);
  ProbeHarness h;
  ProbeResult r = h.once(R"({"type":"dns","port":)" + std::to_string(dns.port()) +
                         R"(,"query_name":"a.test","interval_s":1,"timeout_ms":300})");
  CHECK_FALSE(r.ok);
  CHECK(r.error == "timeout after 300 ms");
  CHECK(dns.queries() == 1);

  const double start = meridian::test::steadyMs();
  r = h.once(R"({"type":"dns","port":)" + std::to_string(meridian::test::unusedPort()) +
             R"(,"query_name":"a.test","interval_s":5,"timeout_ms":3000})");
  CHECK_FALSE(r.ok);
  CHECK(r.error == "udp: connection refused");
  CHECK(meridian::test::steadyMs() - start < 1000);
}

TEST_CASE("probe schedule: one probe per interval, on its phase") {
  TestHttpServer server;
  ProbeHarness h;
  auto& probe = h.add(httpSpec(server.url("/tick")));
  const double start = meridian::test::steadyMs();
  probe.start(0);
  const auto results = h.runUntil(0, 3, 5000);
  const double elapsed = meridian::test::steadyMs() - start;
  probe.stop();
  CHECK(results.size() == 3);
  // Probes at ~0, ~1000 and ~2000 ms, each +-50 ms of jitter.
  CHECK(elapsed > 1900);
  CHECK(elapsed < 2400);
}

TEST_CASE("probe schedule: the global rate cap spaces probes out") {
  TestHttpServer server;
  ProbeHarness h(/*max_per_s=*/2);
  std::vector<meridian::healthd::Probe*> probes;
  for (int i = 0; i < 5; ++i) {
    probes.push_back(&h.add(R"({"type":"http","url":")" + server.url("/c" + std::to_string(i)) +
                            R"(","interval_s":5,"timeout_ms":1000})"));
  }
  for (auto* p : probes) p->start(0);  // all due at the same moment
  h.runUntil(4, 1, 4000);
  auto requests = server.requests();
  REQUIRE(requests.size() == 5);
  std::sort(requests.begin(), requests.end(),
            [](const auto& a, const auto& b) { return a.at_ms < b.at_ms; });
  // 2 per second: one token at once (burst 1), then one every 500 ms.
  for (size_t i = 1; i < requests.size(); ++i) {
    CHECK(requests[i].at_ms - requests[i - 1].at_ms > 400);
  }
  CHECK(requests.back().at_ms - requests.front().at_ms < 2600);
}

TEST_CASE("probes dropped while in flight neither call back nor leak") {
  TestHttpServer slow;
  slow.setDefault({200, "ok", 600});
  TestDnsServer silent;
  silent.setSilent(true);
  TestTcpListener tcp;
  ProbeHarness h;
  auto& http = h.add(httpSpec(slow.url("/")));
  auto& dns = h.add(R"({"type":"dns","port":)" + std::to_string(silent.port()) +
                    R"(,"query_name":"a.test","interval_s":1,"timeout_ms":900})");
  auto& later = h.add(R"({"type":"tcp","port":)" + std::to_string(tcp.port()) +
                      R"(,"interval_s":2,"timeout_ms":900})");
  http.start(0);
  dns.start(0);
  later.start(500);  // still waiting for its first round when dropped
  h.runFor(150);
  CHECK(http.inFlight());
  CHECK(dns.inFlight());
  CHECK_FALSE(later.inFlight());
  CHECK(h.stats().in_flight == 2);
  // What the daemon does when endpoints are deleted: destroy the probes.
  // Under MERIDIAN_SANITIZE=ON this is also the use-after-free check for the
  // curl transfer, the UDP socket and the timers closed behind them.
  h.dropAll();
  h.runFor(800);  // a stray callback would arrive in here
  CHECK(h.resultCount(0) == 0);
  CHECK(h.resultCount(1) == 0);
  CHECK(h.resultCount(2) == 0);
  CHECK(h.stats().in_flight == 0);
  CHECK(h.stats().started == 2);
}

// ---------------------------------------------------------------- host names

namespace {

// A check whose timeout leaves room for a loaded machine: these tests are
// about names, not timing.
std::string patientSpec(const std::string& url, const std::string& extra = "") {
  return R"({"type":")" + url.substr(0, url.find(':')) + R"(","url":")" + url +
         R"(","interval_s":5,"timeout_ms":4000)" + extra + "}";
}

// A stand-in name server the test controls: lookups block until released,
// then answer from `answers` (or fail). Shared with the pool threads, which
// may still be inside a lookup when the test ends.
struct ControlledLookup {
  std::mutex mutex;
  std::condition_variable cv;
  bool released = false;
  std::map<std::string, std::string> answers;  // host -> "address[,address...]"
  std::vector<std::string> asked;

  static meridian::healthd::Resolver::LookupFunction make(std::shared_ptr<ControlledLookup> c) {
    return [c](const std::string& host) {
      std::unique_lock<std::mutex> lock(c->mutex);
      c->asked.push_back(host);
      c->cv.notify_all();
      c->cv.wait(lock, [&] { return c->released; });
      const auto it = c->answers.find(host);
      if (it == c->answers.end())
        return meridian::healthd::Resolved{{}, "Name or service not known"};
      meridian::healthd::Resolved r;
      for (size_t at = 0; at <= it->second.size();) {  // "a,b": two addresses
        const size_t comma = std::min(it->second.find(',', at), it->second.size());
        r.addresses.push_back(it->second.substr(at, comma - at));
        at = comma + 1;
      }
      return r;
    };
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex);
    released = true;
    cv.notify_all();
  }
  size_t askedCount() {
    std::lock_guard<std::mutex> lock(mutex);
    return asked.size();
  }
};

}  // namespace

TEST_CASE("http probe: a host name is resolved off the loop; Host header and TLS name stay") {
  meridian::test::TempDir dir;
  const auto cert = meridian::test::makeSelfSignedCertificate(dir.path());
  TestHttpServer server;
  ProbeHarness h;
  const std::string port = std::to_string(server.port());
  const ProbeResult r = h.once(patientSpec("http://localhost:" + port + "/named"));
  CHECK_MESSAGE(r.ok, r.error);
  REQUIRE(server.requests().size() == 1);
  CHECK(server.requests()[0].host == "localhost:" + port);
  CHECK(h.resolver().threads() == 1);  // the lookup ran on the pool

  if (!cert || !TestHttpServer::tlsSupported()) {
    MESSAGE("skipping HTTPS by name: " << (cert ? "libmicrohttpd lacks TLS" : "no openssl"));
    return;
  }
  TestHttpServer::Options options;
  options.tls_cert_pem = cert->cert_pem;
  options.tls_key_pem = cert->key_pem;
  TestHttpServer tls(options);
  // Verified against CN=localhost: SNI and the certificate check use the
  // URL's name although curl was handed the address.
  const ProbeResult s = h.once(patientSpec("https://localhost:" + std::to_string(tls.port()) + "/",
                                           R"(,"ca_file":")" + cert->cert_file + R"(")"));
  CHECK_MESSAGE(s.ok, s.error);
}

TEST_CASE("http probe: a lookup that never returns fails at the timeout; other probes go on") {
  auto control = std::make_shared<ControlledLookup>();
  TestHttpServer server;
  const std::string port = std::to_string(server.port());
  {
    ProbeHarness h(0, ControlledLookup::make(control));
    auto& stuck = h.add(httpSpec("http://stuck.test:" + port + "/stuck"));
    auto& twin = h.add(httpSpec("http://stuck.test:" + port + "/twin"));
    auto& ip = h.add(httpSpec(server.url("/ip")));
    stuck.start(0);
    twin.start(100);
    ip.start(50);
    const auto results = h.runUntil(0, 3, 6000);
    REQUIRE(results.size() == 3);
    for (const auto& r : results) CHECK(r.error == "could not resolve stuck.test within 500 ms");
    // One lookup for the name, however many probes and rounds asked.
    CHECK(control->askedCount() == 1);
    CHECK(h.resolver().threads() == 1);
    CHECK(h.resultCount(1) >= 2);
    // The loop kept probing the check by address: about once a second.
    CHECK(h.resultCount(2) >= 2);
    CHECK(server.count("/stuck") == 0);
    // The harness (and its Resolver) goes away with the lookup still hanging:
    // nothing waits for it.
  }
  control->release();
}

TEST_CASE("http probe: a failed lookup names the host and the reason; addresses are cached") {
  auto control = std::make_shared<ControlledLookup>();
  control->answers["web.test"] = "127.0.0.1";
  control->release();
  TestHttpServer server;
  const std::string port = std::to_string(server.port());
  ProbeHarness h(0, ControlledLookup::make(control));
  const ProbeResult r = h.once(patientSpec("http://nowhere.test:" + port + "/"));
  CHECK_FALSE(r.ok);
  CHECK(r.error == "could not resolve nowhere.test: Name or service not known");
  CHECK(h.once(patientSpec("http://web.test:" + port + "/a")).ok);
  CHECK(h.once(patientSpec("http://web.test:" + port + "/b")).ok);
  CHECK(control->askedCount() == 2);  // web.test once: the second probe used the cache
  REQUIRE(server.requests().size() == 2);
  CHECK(server.requests()[1].host == "web.test:" + port);

  // IPv6 addresses go to curl in brackets; the server listens on 127.0.0.1
  // only, so ::1 is refused and curl goes on to the next address.
  {
    std::lock_guard<std::mutex> lock(control->mutex);
    control->answers["dual.test"] = "::1,127.0.0.1";
  }
  const ProbeResult dual = h.once(patientSpec("http://dual.test:" + port + "/dual"));
  CHECK_MESSAGE(dual.ok, dual.error);
  CHECK(server.count("/dual") == 1);
}

TEST_CASE("resolver: lookups that never return hold at most kMaxThreads threads; one per name") {
  using meridian::healthd::Resolved;
  using meridian::healthd::Resolver;
  auto control = std::make_shared<ControlledLookup>();
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    Resolver resolver(&loop, ControlledLookup::make(control));
    int asked_for = 0, answered = 0;
    // Every name asked for once more, as each probe's next round does.
    auto askAll = [&] {
      for (int i = 0; i < 20; ++i) {
        std::string host = "n";
        host += std::to_string(i);
        host += ".test";
        {
          std::lock_guard<std::mutex> lock(control->mutex);
          control->answers[host] = "192.0.2." + std::to_string(i + 1);
        }
        resolver.resolve(host, [&answered](const Resolved& r) { answered += r.error.empty(); });
        ++asked_for;
      }
    };
    auto waitAsked = [&](size_t n) {
      std::unique_lock<std::mutex> lock(control->mutex);
      return control->cv.wait_for(lock, std::chrono::seconds(5),
                                  [&] { return control->asked.size() == n; });
    };
    askAll();
    askAll();
    const uint64_t cancelled = resolver.resolve("n0.test", [](const Resolved&) { FAIL("called"); });
    resolver.cancel(cancelled);
    // Young lookups: kThreads threads, however many names wait.
    REQUIRE(waitAsked(Resolver::kThreads));
    CHECK(resolver.threads() == Resolver::kThreads);
    CHECK(resolver.pending() == 20);
    // Each time the running lookups have all been stuck for kSlowLookupMs,
    // the next round of probes adds kThreads threads, up to kMaxThreads.
    for (size_t expected = 2 * Resolver::kThreads; expected <= Resolver::kMaxThreads + 4;
         expected += Resolver::kThreads) {
      std::this_thread::sleep_for(std::chrono::milliseconds(Resolver::kSlowLookupMs + 200));
      askAll();
      const size_t cap = std::min(expected, Resolver::kMaxThreads);
      CHECK(waitAsked(cap));
      CHECK(resolver.threads() == cap);
    }
    CHECK(control->askedCount() == Resolver::kMaxThreads);
    control->release();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (answered < asked_for && std::chrono::steady_clock::now() < deadline) {
      uv_run(&loop, UV_RUN_NOWAIT);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    CHECK(answered == asked_for);
    CHECK(control->askedCount() == 20);  // each name once
    CHECK(resolver.threads() <= Resolver::kMaxThreads);
    const Resolved* hit = resolver.cached("n3.test");
    REQUIRE(hit);
    CHECK(hit->addresses == std::vector<std::string>{"192.0.2.4"});
  }
  uv_run(&loop, UV_RUN_DEFAULT);  // close the Resolver's handle
  uv_loop_close(&loop);
}
