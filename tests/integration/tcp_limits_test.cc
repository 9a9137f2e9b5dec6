// TCP under attack, against the real meridiand: connection floods, idle
// floods, slowloris, clients that never read, one address hogging the slots.
// The attackers are real sockets held by one thread each (tests/integration
// /tcp_flood.h); they bind to 127.0.x.y source addresses so that they look
// like many hosts, as a botnet does, while the legitimate client asks from
// 127.0.0.1.
//
// Timing: the promise is that a legitimate query is answered within 1 s
// while an attack runs; `tools/bench tcp` measures the real figures (p50 a
// few milliseconds, p99 a few hundred on a loaded 2-core machine). Under
// AddressSanitizer the test allows three times the promise.

#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "tests/integration/tcp_flood.h"
#include "tests/support/dns_test_util.h"
#include "tests/support/example_server.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr auto kAnswerWithin = 3000ms;
#else
constexpr auto kAnswerWithin = 1000ms;
#endif

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

struct Server : ExampleZoneServer {
  using ExampleZoneServer::ExampleZoneServer;
  std::string digTcp() const { return dig("+tcp +short www.example.com A"); }
};

constexpr const char* kAnswer = "192.0.2.10\n192.0.2.11";

// "127.0.S.1" .. "127.0.S.count": that many attacking hosts.
std::vector<std::string> hosts(int subnet, int count) {
  std::vector<std::string> out;
  for (int i = 1; i <= count; ++i) {
    out.push_back("127.0." + std::to_string(subnet) + "." + std::to_string(i));
  }
  return out;
}

// Waits until `condition` holds or `timeout` passes; returns whether it held.
template <typename F>
bool waitFor(F condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

}  // namespace

TEST_CASE(
    "burst past the cap: after more connections than --tcp-max-connections, dig +tcp still works") {
  // Before the fix, the first connection past the cap was taken with accept4()
  // behind libuv's back; libuv then stopped polling the listener and TCP was
  // dead until restart (UDP still answered).
  Server s({"--tcp-max-connections", "4"});
  {
    std::vector<std::unique_ptr<TcpClient>> burst;
    for (int i = 0; i < 6; ++i) burst.push_back(std::make_unique<TcpClient>(s.port()));
    std::this_thread::sleep_for(300ms);
  }  // all closed
  for (int i = 0; i < 3; ++i) CHECK(s.digTcp() == kAnswer);
  // And with six connections from six hosts still open, a new client gets
  // in: the oldest idle connection makes room for it. (From one address the
  // fifth and sixth would be refused: --tcp-max-per-client is at most the cap.)
  std::vector<std::unique_ptr<TcpClient>> held;
  for (const std::string& host : hosts(4, 6)) {
    held.push_back(std::make_unique<TcpClient>(s.port(), host));
  }
  std::this_thread::sleep_for(300ms);
  const auto answered = timedQuery(s.port(), "127.0.0.1", 5000ms);
  REQUIRE(answered);
  CHECK(*answered < kAnswerWithin);
  CHECK(s.digTcp() == kAnswer);
  CHECK(s.metric("meridian_tcp_evicted_total") >= 2);
}

TEST_CASE(
    "connection exhaustion: one budget for the process, whichever loop a connection lands on") {
  // --tcp-max-connections used to be split per loop (8 / 4 loops = 2 each), so
  // the third connection that SO_REUSEPORT hashed to one loop was refused
  // with most of the budget unused. Eight connections, all held, must all be
  // served without evicting one another.
  Server s({"--threads", "4", "--tcp-max-connections", "8"});
  std::vector<std::unique_ptr<TcpClient>> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(std::make_unique<TcpClient>(s.port()));
  std::this_thread::sleep_for(300ms);
  int answered = 0;
  for (auto& c : clients) {
    if (c->sendMessage(makeQuery("www.example.com")) && c->readMessage(2000ms)) ++answered;
  }
  CHECK(answered == 8);
  CHECK(s.metric("meridian_tcp_evicted_total") == 0);
  CHECK(s.metric("meridian_tcp_rejected_total") == 0);
}

TEST_CASE("idle flood: 1000 idle connections do not keep dig +tcp out") {
  Server s;  // the defaults: 512 connections at most
  FloodOptions o;
  o.sources = hosts(2, 50);  // 20 connections per host, under the per-client cap
  o.connections = 1000;
  TcpFlood flood(s.port(), o);
  REQUIRE(waitFor([&] { return flood.established() >= 1000; }, 20000ms));
  std::this_thread::sleep_for(500ms);  // let the server accept them all
  for (int i = 0; i < 5; ++i) {
    const auto answered = timedQuery(s.port(), "127.0.0.1", 5000ms);
    REQUIRE(answered);
    CHECK(*answered < kAnswerWithin);
  }
  CHECK(s.digTcp() == kAnswer);
  CHECK(s.metric("meridian_tcp_evicted_total") >= 488);  // 1000 - 512 at least
}

TEST_CASE("slowloris: hundreds of trickling connections do not keep TCP clients out") {
  // 700 connections from 100 hosts, each sending one byte of a query at once
  // and one more every 2 s, and reconnecting 250 ms after the server closes
  // it. Before the fix the idle timer was re-armed by every byte, and at the
  // cap new connections were refused (then TCP died): 0 answered.
  Server s;
  FloodOptions o;
  o.sources = hosts(1, 100);
  o.connections = 700;
  o.trickle_every = 2000ms;
  o.reconnect_after = 250ms;
  TcpFlood flood(s.port(), o);
  REQUIRE(waitFor([&] { return flood.established() >= 700; }, 20000ms));

  int asked = 0, answered = 0;
  std::chrono::milliseconds slowest{0};
  const auto end = std::chrono::steady_clock::now() + 6s;
  while (std::chrono::steady_clock::now() < end) {
    ++asked;
    if (const auto took = timedQuery(s.port(), "127.0.0.1", 5000ms)) {
      ++answered;
      slowest = std::max(slowest, *took);
    }
    std::this_thread::sleep_for(100ms);
  }
  CHECK(s.digTcp() == kAnswer);
  MESSAGE("answered " << answered << " of " << asked << ", slowest " << slowest.count()
                      << " ms; the flood made " << flood.connects() << " connections, "
                      << flood.closedByServer() << " closed by the server");
  CHECK(answered == asked);
  CHECK(slowest < kAnswerWithin);
  CHECK(flood.closedByServer() > 0);
  CHECK(s.metric("meridian_tcp_io_timeout_total{direction=\"read\"}") +
            s.metric("meridian_tcp_evicted_total") >
        0);
}

TEST_CASE(
    "slowloris, one connection: a query trickled a byte at a time is cut off at the message "
    "deadline") {
  // The deadline runs from a message's first byte to its last, whatever
  // arrives in between (default --tcp-io-timeout-ms 2000). A byte every
  // 200 ms would finish this query after 6 s.
  Server s({"--tcp-idle-timeout-ms", "30000"});
  TcpClient client(s.port());
  REQUIRE(client.connected());
  const std::vector<uint8_t> framed = framedQuery(makeQuery("www.example.com"));
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  for (size_t i = 0; i < framed.size() && !closed; ++i) {
    if (!client.sendRaw({framed[i]})) break;
    closed = client.closedByPeer(200ms);
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  CHECK(closed);
  CHECK(took >= 1800ms);
  CHECK(took < 5000ms);
  CHECK(s.metric("meridian_tcp_io_timeout_total{direction=\"read\"}") == 1);
}

TEST_CASE("a client that never reads its replies is closed at the write deadline") {
  // It pipelines queries for a large answer and reads nothing: the replies
  // fill both socket buffers, the server's write waits, and after
  // --tcp-io-timeout-ms (2000) the connection is closed. Before the fix it
  // held its slot until the idle timeout (here 30 s).
  Server s({"--tcp-idle-timeout-ms", "30000"});
  QueryOptions big;
  big.qtype = 16;  // TXT: 6 strings, ~700 octets
  const bool closed = neverReads(s.port(), makeQuery("big.example.com", big), 10000ms);
  CHECK(closed);
  CHECK(s.metric("meridian_tcp_io_timeout_total{direction=\"write\"}") == 1);
  CHECK(s.digTcp() == kAnswer);
}

TEST_CASE("one address hogging the slots: --tcp-max-per-client refuses its extra connections") {
  Server s({"--tcp-max-per-client", "4"});
  std::vector<std::unique_ptr<TcpClient>> hog;
  for (int i = 0; i < 4; ++i) {
    hog.push_back(std::make_unique<TcpClient>(s.port(), "127.0.3.1"));
    REQUIRE(hog.back()->connected());
  }
  std::this_thread::sleep_for(300ms);
  // The fifth from the same address is closed at once, unanswered.
  TcpClient fifth(s.port(), "127.0.3.1");
  REQUIRE(fifth.connected());
  CHECK(fifth.closedByPeer(2000ms));
  CHECK(s.metric("meridian_tcp_client_refused_total") == 1);
  // Other hosts are served, and the four keep being served.
  TcpClient other(s.port(), "127.0.3.2");
  REQUIRE(other.sendMessage(makeQuery("www.example.com")));
  CHECK(other.readMessage(2000ms));
  CHECK(s.digTcp() == kAnswer);
  for (auto& c : hog) {
    REQUIRE(c->sendMessage(makeQuery("www.example.com")));
    CHECK(c->readMessage(2000ms));
  }
  // One of the four leaves; its host may connect again.
  hog.pop_back();
  std::this_thread::sleep_for(300ms);
  TcpClient again(s.port(), "127.0.3.1");
  REQUIRE(again.sendMessage(makeQuery("www.example.com")));
  CHECK(again.readMessage(2000ms));
}

TEST_CASE("start-up: the TCP limits are checked before anything is served") {
  TempDir dir;
  int status = 0;
  const std::string base = buildPath("server/meridiand") + " --db " + dir.file("x.db") +
                           " --dns-listen 127.0.0.1:0 --no-api ";
  const std::string zero_io = runCommand(base + "--tcp-io-timeout-ms 0 2>&1", &status);
  CHECK(status != 0);
  CHECK(has(zero_io, "--tcp-io-timeout-ms"));
  const std::string over =
      runCommand(base + "--tcp-max-connections 10 --tcp-max-per-client 11 2>&1", &status);
  CHECK(status != 0);
  CHECK(has(over, "--tcp-max-per-client"));
}
