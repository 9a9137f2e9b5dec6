// The real meridiand on 127.0.0.1 with an ephemeral port, queried with dig,
// kdig and raw sockets: every behaviour of an authoritative answer, over UDP
// and TCP.

#include <doctest/doctest.h>

#include <signal.h>

#include <thread>

#include "tests/support/dns_test_util.h"
#include "tests/support/example_server.h"
#include "tests/support/example_zone.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "zones/database.h"
#include "zones/zone_io.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;

namespace {

bool has(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

using Server = ExampleZoneServer;

}  // namespace

TEST_CASE("dig: authoritative answer with AA over UDP and TCP") {
  Server s;
  const std::string udp = s.dig("www.example.com A +norec");
  CHECK(has(udp, "status: NOERROR"));
  CHECK(has(udp, "flags: qr aa;"));
  CHECK(has(udp, "www.example.com.\t3600\tIN\tA\t192.0.2.10"));
  CHECK(has(udp, "www.example.com.\t3600\tIN\tA\t192.0.2.11"));
  const std::string tcp = s.dig("www.example.com AAAA +tcp +short");
  CHECK(tcp == "2001:db8::10");
  CHECK(has(s.dig("www.example.com +tcp"), "(TCP)"));
}

TEST_CASE("dig: NXDOMAIN and NODATA carry the SOA with the negative TTL") {
  Server s;
  const std::string nx = s.dig("nothere.example.com +noall +comments +authority");
  CHECK(has(nx, "status: NXDOMAIN"));
  CHECK(has(nx, "example.com.\t\t300\tIN\tSOA\tns1.example.com. hostmaster.example.com. 2026112701"));
  const std::string nodata = s.dig("mail.example.com AAAA +noall +comments +authority");
  CHECK(has(nodata, "status: NOERROR"));
  CHECK(has(nodata, "ANSWER: 0"));
  CHECK(has(nodata, "IN\tSOA"));
}

TEST_CASE("dig: CNAME chain, wildcard, referral with glue, REFUSED outside our zones") {
  Server s;
  CHECK(s.dig("chain1.example.com +short") ==
        "chain2.example.com.\nwww.example.com.\n192.0.2.10\n192.0.2.11");
  CHECK(s.dig("foo.wild.example.com +short") == "192.0.2.99");
  const std::string referral = s.dig("host.sub.example.com +norec");
  CHECK(has(referral, "flags: qr;"));  // AA clear
  CHECK(has(referral, "AUTHORITY: 2"));
  CHECK(has(referral, "ns1.sub.example.com.\t3600\tIN\tA\t192.0.2.200"));
  const std::string refused = s.dig("www.example.org");
  CHECK(has(refused, "status: REFUSED"));
}

TEST_CASE("dig: EDNS is echoed, BADVERS for version 1, unknown options ignored, no OPT without EDNS") {
  Server s;
  const std::string edns = s.dig("www.example.com +bufsize=4096");
  CHECK(has(edns, "EDNS: version: 0, flags:; udp: 1232"));
  CHECK(has(s.dig("www.example.com +edns=1 +noednsnegotiation"), "status: BADVERS"));
  const std::string unknown = s.dig("www.example.com +ednsopt=65001:abcd");
  CHECK(has(unknown, "status: NOERROR"));
  CHECK(has(unknown, "ANSWER: 2"));
  CHECK_FALSE(has(s.dig("www.example.com +noedns"), "OPT PSEUDOSECTION"));
}

TEST_CASE("dig: a response too big for UDP sets TC; TCP carries it whole") {
  Server s;
  const std::string udp = s.dig("big.example.com TXT +noedns +ignore +norec");
  CHECK(has(udp, "flags: qr aa tc;"));
  CHECK(has(udp, "ANSWER: 0"));
  const std::string tcp = s.dig("big.example.com TXT +tcp");
  CHECK(has(tcp, "ANSWER: 6"));
  CHECK_FALSE(has(tcp, " tc"));
}

TEST_CASE("dig: ANY is answered minimally (RFC 8482)") {
  Server s;
  const std::string any = s.dig("www.example.com ANY");
  CHECK(has(any, "status: NOERROR"));
  CHECK(has(any, "ANSWER: 2"));  // one RRset of the three
}

TEST_CASE("dig: the question comes back in the client's case") {
  Server s;
  CHECK(has(s.dig("WwW.ExAmPlE.cOm +noall +question +answer"), ";WwW.ExAmPlE.cOm."));
}

TEST_CASE("dig: NOTIMP for opcodes other than QUERY") {
  Server s;
  CHECK(has(s.dig("example.com +opcode=notify"), "status: NOTIMP"));
}

TEST_CASE("ECS via dig +subnet: echoed with scope 0 for static data") {
  Server s;
  const std::string out = s.dig("www.example.com +subnet=198.51.100.0/24");
  CHECK(has(out, "CLIENT-SUBNET: 198.51.100.0/24/0"));
  // dig clamps +subnet=/33 to /32, so send the raw option: family 1,
  // source 33, scope 0, five address octets.
  CHECK(has(s.dig("www.example.com +ednsopt=8:00012100c633640000"), "status: FORMERR"));
  // Address bits set beyond a /20 (198.51.111.0 has bits in the last 4 of 20).
  CHECK(has(s.dig("www.example.com +ednsopt=8:00011400c6336f"), "status: FORMERR"));
}

TEST_CASE("raw UDP: malformed packets get FORMERR or are dropped, and the server keeps answering") {
  Server s;
  std::vector<uint8_t> q = makeQuery("www.example.com");
  q.push_back(0);  // trailing junk
  auto reply = udpExchange(s.port(), q);
  REQUIRE(reply);
  CHECK(decode(*reply).rcode == 1);
  CHECK_FALSE(udpExchange(s.port(), {1, 2, 3}, 300ms));  // shorter than a header: dropped
  std::vector<uint8_t> response = makeQuery("www.example.com");
  response[2] |= 0x80;
  CHECK_FALSE(udpExchange(s.port(), response, 300ms));  // a response: dropped
  CHECK(s.dig("www.example.com +short") == "192.0.2.10\n192.0.2.11");
}

TEST_CASE("TCP: several pipelined queries on one connection are answered in order") {
  Server s;
  TcpClient client(s.port());
  REQUIRE(client.connected());
  std::vector<uint8_t> burst;
  for (uint16_t id = 1; id <= 5; ++id) {
    QueryOptions o;
    o.id = id;
    const auto q = makeQuery(id % 2 ? "www.example.com" : "mail.example.com", o);
    burst.push_back(static_cast<uint8_t>(q.size() >> 8));
    burst.push_back(static_cast<uint8_t>(q.size()));
    burst.insert(burst.end(), q.begin(), q.end());
  }
  REQUIRE(client.sendRaw(burst));  // all five in one write
  for (uint16_t id = 1; id <= 5; ++id) {
    auto reply = client.readMessage();
    REQUIRE(reply);
    const Response r = decode(*reply);
    CHECK(r.id == id);
    CHECK(r.answer.size() == (id % 2 ? 2u : 1u));
  }
  // kdig reuses one connection for several questions as well.
  const std::string kdig = runCommand("kdig @127.0.0.1 -p " + std::to_string(s.port()) +
                                      " +tcp +keepopen +short www.example.com A mail.example.com A");
  CHECK(kdig == "192.0.2.10\n192.0.2.11\n192.0.2.25");
}

TEST_CASE("TCP: a message split across writes is reassembled") {
  Server s;
  TcpClient client(s.port());
  const auto q = makeQuery("mail.example.com");
  std::vector<uint8_t> framed = {0, static_cast<uint8_t>(q.size())};
  framed.insert(framed.end(), q.begin(), q.end());
  REQUIRE(client.sendRaw({framed.begin(), framed.begin() + 1}));
  std::this_thread::sleep_for(50ms);
  REQUIRE(client.sendRaw({framed.begin() + 1, framed.begin() + 9}));
  std::this_thread::sleep_for(50ms);
  REQUIRE(client.sendRaw({framed.begin() + 9, framed.end()}));
  auto reply = client.readMessage();
  REQUIRE(reply);
  CHECK(decode(*reply).answer.size() == 1);
}

TEST_CASE("TCP: idle connections are closed after the idle timeout") {
  Server s({"--tcp-idle-timeout-ms", "300"});
  TcpClient client(s.port());
  REQUIRE(client.connected());
  REQUIRE(client.sendMessage(makeQuery("www.example.com")));
  REQUIRE(client.readMessage());
  CHECK(client.closedByPeer(2000ms));
}

TEST_CASE("TCP: past the cap, older idle connections make room for new ones") {
  Server s({"--tcp-max-connections", "2"});
  // Eight hosts, one connection each, one after the other: each new one
  // closes the oldest idle connection of the loop that accepted it.
  std::vector<std::unique_ptr<TcpClient>> clients;
  for (int i = 1; i <= 8; ++i) {
    clients.push_back(std::make_unique<TcpClient>(s.port(), "127.0.5." + std::to_string(i)));
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(200ms);
  int answered = 0;
  for (auto& c : clients) {
    if (c->sendMessage(makeQuery("www.example.com")) && c->readMessage(500ms)) ++answered;
  }
  CHECK(answered == 2);
  // The newest is always among them.
  REQUIRE(clients.back()->sendMessage(makeQuery("www.example.com")));
  CHECK(clients.back()->readMessage(500ms));
}

TEST_CASE("IPv6: serves on [::1] when the host has IPv6 loopback") {
  if (runCommand("ip -6 addr show dev lo 2>/dev/null | grep -c '::1/128'") != "1") {
    MESSAGE("no IPv6 loopback here; skipped");
    return;
  }
  TempDir dir;
  const std::string db = dir.file("v6.db");
  {
    zones::Database database(db);
    zones::storeZone(database, zones::parseZoneText(kExampleZone, "test", "example.com."));
  }
  Process p({buildPath("server/meridiand"), "--db", db, "--dns-listen", "[::1]:0", "--no-api",
             "--ready-file", dir.file("ready.json")},
            dir.file("log"));
  std::string ready;
  for (int i = 0; i < 200 && ready.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    ready = readFile(dir.file("ready.json"));
  }
  REQUIRE_FALSE(ready.empty());
  const std::string port = ready.substr(ready.find("]:") + 2, ready.find('"', ready.find("]:")) - ready.find("]:") - 2);
  CHECK(runCommand("dig @::1 -p " + port + " +short www.example.com AAAA") == "2001:db8::10");
  CHECK(runCommand("dig @::1 -p " + port + " +tcp +short www.example.com AAAA") == "2001:db8::10");
}

TEST_CASE("SIGTERM drains and exits cleanly; SIGHUP reloads") {
  Server s;
  s.meridiand->process().signal(SIGHUP);
  std::this_thread::sleep_for(300ms);
  CHECK(has(s.meridiand->log(), "reload requested)"));
  s.meridiand->process().signal(SIGTERM);
  CHECK(s.meridiand->process().wait(5000ms) == 0);
  CHECK(has(s.meridiand->log(), "stopped"));
}

TEST_CASE("a second meridiand on the same address refuses to start instead of sharing it") {
  Server s;
  TempDir dir;
  int status = 0;
  const std::string out = runCommand(buildPath("server/meridiand") + " --db " + dir.file("b.db") +
                                         " --dns-listen 127.0.0.1:" + std::to_string(s.port()) +
                                         " --no-api 2>&1",
                                     &status);
  CHECK(status != 0);
  CHECK(has(out, "address already in use"));
  CHECK(s.dig("www.example.com +short") == "192.0.2.10\n192.0.2.11");
}

TEST_CASE("start-up errors are clear and fatal") {
  TempDir dir;
  int status = 0;
  const std::string out = runCommand(buildPath("server/meridiand") +
                                         " --db /nonexistent/dir/x.db --dns-listen 127.0.0.1:0 --no-api 2>&1",
                                     &status);
  CHECK(status != 0);
  CHECK(has(out, "cannot open database /nonexistent/dir/x.db"));
  const std::string bad_listen = runCommand(
      buildPath("server/meridiand") + " --db " + dir.file("a.db") + " --dns-listen nonsense --no-api 2>&1",
      &status);
  CHECK(status != 0);
  CHECK(has(bad_listen, "needs a port"));
}
