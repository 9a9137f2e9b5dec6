// Response rate limiting and DNS cookies on the real meridiand over real UDP
// on 127.0.0.1: a reflection flood from one address no longer gets full
// answers, a slipped answer still reaches dig (over TCP, or with its
// cookie), a client with a valid server cookie is not limited, and
// `dig +cookie` gets a cookie back.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <regex>
#include <thread>

#include "tests/support/dns_test_util.h"
#include "tests/support/example_server.h"
#include "tests/support/process.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;

namespace {

using Server = ExampleZoneServer;

// A UDP client socket on 127.0.0.1 (one source address and port).
struct UdpClient {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  sockaddr_in server{};
  explicit UdpClient(uint16_t port) {
    server.sin_family = AF_INET;
    server.sin_port = htons(port);
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const int buffer = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  }
  ~UdpClient() { close(fd); }
  void send(const std::vector<uint8_t>& query) {
    CHECK(sendto(fd, query.data(), query.size(), 0, reinterpret_cast<const sockaddr*>(&server),
                 sizeof server) == static_cast<ssize_t>(query.size()));
  }
  // Every reply that arrives within `wait`.
  std::vector<Response> drain(std::chrono::milliseconds wait) {
    std::vector<Response> out;
    std::vector<uint8_t> buffer(65535);
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (true) {
      const ssize_t n = recv(fd, buffer.data(), buffer.size(), 0);
      if (n > 0) {
        out.push_back(decode(buffer.data(), static_cast<size_t>(n)));
        continue;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd, POLLIN, 0};
      poll(&p, 1, static_cast<int>(left.count()));
    }
    return out;
  }
};

double rrl(const std::map<std::string, double>& m, const std::string& what) {
  const auto it = m.find("meridian_rrl_" + what + "_total{class=\"positive\"}");
  return it == m.end() ? -1 : it->second;
}

}  // namespace

TEST_CASE(
    "reflection flood: 2,900 identical queries from one address in 2 s no longer get 2,900 "
    "full answers") {
  Server s;  // the defaults: 200 per second, slip 2
  UdpClient client(s.port());
  QueryOptions o;
  const auto start = std::chrono::steady_clock::now();
  std::vector<Response> replies;
  for (int i = 0; i < 2900; ++i) {
    o.id = static_cast<uint16_t>(i);
    client.send(makeQuery("www.example.com", o));
    // 1,450 per second: the next send at start + (i + 1) * 690 us.
    const auto next = start + std::chrono::microseconds((i + 1) * int64_t{2000000} / 2900);
    for (const Response& r : client.drain(std::chrono::duration_cast<std::chrono::milliseconds>(
             next - std::chrono::steady_clock::now()))) {
      replies.push_back(r);
    }
  }
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const Response& r : client.drain(1000ms)) replies.push_back(r);
  int full = 0, truncated = 0, other = 0;
  for (const Response& r : replies) {
    if (r.rcode == 0 && r.answer.size() == 2 && !r.tc) {
      ++full;
    } else if (r.rcode == 0 && r.tc && r.answer.empty() && r.question == "www.example.com. A") {
      ++truncated;
    } else {
      ++other;
    }
  }
  const auto m = s.metrics();
  MESSAGE("sent 2900 in " << elapsed << " s: " << full << " full, " << truncated
                          << " truncated; server: limited " << rrl(m, "limited") << ", slipped "
                          << rrl(m, "slipped") << ", dropped " << rrl(m, "dropped"));
  CHECK(other == 0);
  CHECK(full < 2900);
  // The burst of one second's worth, plus 200 per second of the run.
  CHECK(full >= 200);
  CHECK(full <= 200 + 200 * (elapsed + 0.5));
  // What the client saw is what the server counted.
  CHECK(rrl(m, "limited") == 2900 - full);
  CHECK(rrl(m, "slipped") == truncated);
  CHECK(rrl(m, "dropped") == rrl(m, "limited") - truncated);
  // Every second limited answer slips (per thread, so within one per thread).
  CHECK(truncated >= (rrl(m, "limited") - 2) / 2);
  CHECK(truncated <= rrl(m, "limited") / 2 + 1);
  CHECK(m.at("meridian_dns_truncated_total") == truncated);
}

TEST_CASE(
    "reflection flood: a truncated slip is retried by dig over TCP and answered; a cookie "
    "client retries after BADCOOKIE and is answered") {
  // One answer per second: the flood below keeps the bucket empty even if
  // its thread stalls for most of a second on a busy machine.
  Server s({"--rrl-rate", "1", "--rrl-slip", "1"});
  // A flood from this address for the name dig asks, kept up while dig
  // runs, so the bucket for (127.0.0.0/24, www.example.com A) stays empty
  // whatever the timing.
  std::atomic<bool> stop{false};
  std::thread flood([&] {
    UdpClient client(s.port());
    while (!stop) {
      client.send(makeQuery("www.example.com"));
      client.drain(5ms);
    }
  });
  std::this_thread::sleep_for(300ms);
  const std::string tcp = s.dig("+nocookie www.example.com A");
  // dig sends a client cookie by default: the slip is BADCOOKIE with a
  // server cookie, dig retries with it, and a valid cookie is exempt.
  const std::string cookie = s.dig("www.example.com A");
  stop = true;
  flood.join();
  INFO(tcp);
  CHECK(tcp.find("Truncated, retrying in TCP mode") != std::string::npos);
  CHECK(tcp.find("192.0.2.10") != std::string::npos);
  CHECK(tcp.find("192.0.2.11") != std::string::npos);
  INFO(cookie);
  CHECK(cookie.find("BADCOOKIE, retrying") != std::string::npos);
  CHECK(cookie.find("status: NOERROR") != std::string::npos);
  CHECK(cookie.find("192.0.2.10") != std::string::npos);
  const auto m = s.metrics();
  CHECK(m.at("meridian_dns_responses_total{rcode=\"BADCOOKIE\"}") >= 1);
  CHECK(m.at("meridian_dns_cookies_total{state=\"valid\"}") >= 1);
}

TEST_CASE("cookies: dig +cookie gets a server cookie; sent back, it exempts the client from RRL") {
  Server s;
  const std::string first = s.dig("+cookie www.example.com A");
  INFO(first);
  // "; COOKIE: <client 16 hex><server 32 hex> (good)": dig checked that its
  // client cookie came back.
  std::smatch match;
  REQUIRE(std::regex_search(first, match, std::regex("; COOKIE: ([0-9a-f]{48}) \\(good\\)")));
  const std::string cookie = match[1];
  CHECK(first.find("status: NOERROR") != std::string::npos);

  // Asking for a cookie alone (QDCOUNT 0, RFC 7873 5.4).
  const std::string header_only = s.dig("+cookie +header-only");
  INFO(header_only);
  CHECK(header_only.find("status: NOERROR") != std::string::npos);
  CHECK(std::regex_search(header_only, std::regex("; COOKIE: [0-9a-f]{48} \\(good\\)")));

  // The cookie sent back: a fresh one comes back, still good.
  const std::string again = s.dig("+cookie=" + cookie + " www.example.com A");
  CHECK(again.find("(good)") != std::string::npos);
  CHECK(again.find("status: NOERROR") != std::string::npos);
  // A forged server cookie is answered normally, with a new cookie.
  std::string forged = cookie;
  forged[47] = forged[47] == '0' ? '1' : '0';
  const std::string bad = s.dig("+cookie=" + forged + " www.example.com A");
  CHECK(bad.find("status: NOERROR") != std::string::npos);
  CHECK(bad.find("(good)") != std::string::npos);

  // 1,000 queries at once from this address: with the valid cookie every
  // one is answered in full; without it, the same flood is limited.
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < cookie.size(); i += 2) {
    bytes.push_back(static_cast<uint8_t>(std::stoi(cookie.substr(i, 2), nullptr, 16)));
  }
  auto flood = [&](std::optional<std::vector<uint8_t>> with) {
    UdpClient client(s.port());
    QueryOptions o;
    o.edns = true;
    o.cookie = with;
    int full = 0;
    for (int round = 0; round < 10; ++round) {
      for (int i = 0; i < 100; ++i) client.send(makeQuery("www.example.com", o));
      for (const Response& r : client.drain(100ms)) full += r.answer.size() == 2;
    }
    for (const Response& r : client.drain(1000ms)) full += r.answer.size() == 2;
    return full;
  };
  CHECK(flood(bytes) == 1000);
  CHECK(flood(std::nullopt) < 1000);
  // From 16 source ports, which SO_REUSEPORT spreads over both UDP threads:
  // the cookie is valid on every thread (they share the secret).
  const double valid_before = s.metrics().at("meridian_dns_cookies_total{state=\"valid\"}");
  for (int i = 0; i < 16; ++i) {
    UdpClient client(s.port());
    QueryOptions o;
    o.edns = true;
    o.cookie = bytes;
    client.send(makeQuery("www.example.com", o));
    CHECK(client.drain(200ms).size() == 1);
  }
  const auto m = s.metrics();
  CHECK(m.at("meridian_dns_cookies_total{state=\"valid\"}") == valid_before + 16);
  CHECK(m.at("meridian_dns_cookies_total{state=\"valid\"}") >= 1001);
  CHECK(m.at("meridian_dns_cookies_total{state=\"client_only\"}") >= 1);
  CHECK(m.at("meridian_dns_cookies_total{state=\"bad\"}") >= 1);
}

TEST_CASE("RRL: below the rate every answer is full and nothing is counted as limited") {
  Server s;
  UdpClient client(s.port());
  QueryOptions o;
  int full = 0;
  // 150 queries in about a second, several kinds of answer.
  for (int i = 0; i < 150; ++i) {
    o.id = static_cast<uint16_t>(i);
    client.send(makeQuery(i % 3 == 0   ? "www.example.com"
                          : i % 3 == 1 ? "nothere.example.com"
                                       : "host.sub.example.com",
                          o));
    for (const Response& r : client.drain(6ms))
      full += !r.tc && (!r.answer.empty() || !r.authority.empty());
  }
  for (const Response& r : client.drain(1000ms))
    full += !r.tc && (!r.answer.empty() || !r.authority.empty());
  CHECK(full == 150);
  const auto m = s.metrics();
  for (const char* c : {"positive", "nxdomain", "referral", "error"}) {
    CHECK(m.at(std::string("meridian_rrl_limited_total{class=\"") + c + "\"}") == 0);
  }
}

TEST_CASE("RRL options are validated before anything is served") {
  TempDir dir;
  int status = 0;
  const std::string meridiand = buildPath("server/meridiand");
  std::string out = runCommand(
      meridiand + " --db " + dir.file("m.db") + " --no-api --rrl-rate 2000000 --check 2>&1",
      &status);
  CHECK(status != 0);
  CHECK(out.find("--rrl-rate") != std::string::npos);
  writeFile(dir.file("secret"), "e5e973e5a6b2a43f48e7dc849e37bf\n");
  out = runCommand(meridiand + " --db " + dir.file("m.db") + " --no-api --cookie-secret-file " +
                       dir.file("secret") + " --check 2>&1",
                   &status);
  CHECK(status == 1);
  CHECK(out.find("--cookie-secret-file " + dir.file("secret") +
                 ": line 1: a secret is 32 hex digits (16 octets), got 30 characters") !=
        std::string::npos);
  writeFile(dir.file("secret"),
            "e5e973e5a6b2a43f48e7dc849e37bfcf\n445536bcd2513298075a5d379663c962\n");
  out = runCommand(meridiand + " --db " + dir.file("m.db") + " --no-api --cookie-secret-file " +
                       dir.file("secret") + " --check 2>&1",
                   &status);
  CHECK(status == 0);
}

TEST_CASE("cookies: nodes sharing --cookie-secret-file accept each other's cookies") {
  TempDir dir;
  writeFile(dir.file("secret"), "e5e973e5a6b2a43f48e7dc849e37bfcf\n");
  Server a({"--cookie-secret-file", dir.file("secret")});
  Server b({"--cookie-secret-file", dir.file("secret")});
  std::smatch match;
  const std::string from_a = a.dig("+cookie www.example.com A");
  REQUIRE(std::regex_search(from_a, match, std::regex("; COOKIE: ([0-9a-f]{48})")));
  const std::string cookie = match[1];
  b.dig("+cookie=" + cookie + " www.example.com A");
  const auto m = b.metrics();
  CHECK(m.at("meridian_dns_cookies_total{state=\"valid\"}") == 1);
  // A node with another (random) secret does not.
  Server c;
  c.dig("+cookie=" + cookie + " www.example.com A");
  CHECK(c.metrics().at("meridian_dns_cookies_total{state=\"bad\"}") == 1);
}
