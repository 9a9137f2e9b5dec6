// The UDP transport of the real meridiand: replies leave from the address the
// query was sent to (IP_PKTINFO / IPV6_PKTINFO on wildcard listeners), and a
// reply the kernel refuses to send costs that reply only, not the rest of
// its batch.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <thread>

#include "tests/support/dns_test_util.h"
#include "tests/support/example_zone.h"
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

std::string exampleDb(const TempDir& dir) {
  const std::string db = dir.file("meridian.db");
  zones::Database database(db);
  zones::storeZone(database, zones::parseZoneText(kExampleZone, "test", "example.com."));
  return db;
}

// A UDP socket bound to `local` (port 0) that sends one query to
// `server`:port and reports the address the reply came from ("" when no
// reply arrived within the timeout). The socket is not connected, so a reply
// from any address is seen, and named.
std::string replySource(int family, const std::string& local, const std::string& server,
                        uint16_t port, uint16_t id) {
  const int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  sockaddr_storage from{}, to{};
  socklen_t length;
  if (family == AF_INET) {
    auto* f = reinterpret_cast<sockaddr_in*>(&from);
    auto* t = reinterpret_cast<sockaddr_in*>(&to);
    f->sin_family = t->sin_family = AF_INET;
    REQUIRE(inet_pton(AF_INET, local.c_str(), &f->sin_addr) == 1);
    REQUIRE(inet_pton(AF_INET, server.c_str(), &t->sin_addr) == 1);
    t->sin_port = htons(port);
    length = sizeof(sockaddr_in);
  } else {
    auto* f = reinterpret_cast<sockaddr_in6*>(&from);
    auto* t = reinterpret_cast<sockaddr_in6*>(&to);
    f->sin6_family = t->sin6_family = AF_INET6;
    REQUIRE(inet_pton(AF_INET6, local.c_str(), &f->sin6_addr) == 1);
    REQUIRE(inet_pton(AF_INET6, server.c_str(), &t->sin6_addr) == 1);
    t->sin6_port = htons(port);
    length = sizeof(sockaddr_in6);
  }
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&from), length) == 0);
  QueryOptions o;
  o.id = id;
  const auto query = makeQuery("www.example.com", o);
  REQUIRE(sendto(fd, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&to), length) ==
          static_cast<ssize_t>(query.size()));
  std::string source;
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 2000) == 1) {
    uint8_t reply[4096];
    sockaddr_storage peer{};
    socklen_t peer_length = sizeof peer;
    const ssize_t n =
        recvfrom(fd, reply, sizeof reply, 0, reinterpret_cast<sockaddr*>(&peer), &peer_length);
    if (n > 0 && decode(reply, static_cast<size_t>(n)).id == id) {
      char text[INET6_ADDRSTRLEN] = {};
      const void* address =
          peer.ss_family == AF_INET
              ? static_cast<const void*>(&reinterpret_cast<sockaddr_in*>(&peer)->sin_addr)
              : static_cast<const void*>(&reinterpret_cast<sockaddr_in6*>(&peer)->sin6_addr);
      inet_ntop(peer.ss_family, address, text, sizeof text);
      source = text;
    }
  }
  close(fd);
  return source;
}

uint16_t portFromReadyFile(const std::string& json) {
  const size_t end = json.find('"', json.find("\"dns\":[\"") + 8);
  const size_t colon = json.rfind(':', end);
  return static_cast<uint16_t>(std::stoi(json.substr(colon + 1, end - colon - 1)));
}

}  // namespace

TEST_CASE(
    "reply from the wrong address: a query to 127.0.0.2 on a 0.0.0.0 listener is answered from "
    "127.0.0.2") {
  TempDir dir;
  const std::string db = exampleDb(dir);
  MeridiandProcess meridiand(db, dir.path(), {"--dns-listen", "0.0.0.0:0"});
  const uint16_t port = meridiand.dnsPort();
  // The client sends from 127.0.0.1, so without IP_PKTINFO the kernel picks
  // 127.0.0.1 as the reply's source: what dig calls "reply from unexpected
  // source" and what resolvers drop.
  CHECK(replySource(AF_INET, "127.0.0.1", "127.0.0.2", port, 1) == "127.0.0.2");
  CHECK(replySource(AF_INET, "127.0.0.1", "127.0.0.3", port, 2) == "127.0.0.3");
  CHECK(replySource(AF_INET, "127.0.0.5", "127.0.0.1", port, 3) == "127.0.0.1");
  const std::string dig = runCommand("dig @127.0.0.2 -p " + std::to_string(port) +
                                     " +time=2 +tries=1 www.example.com A 2>&1");
  CHECK_FALSE(has(dig, "unexpected source"));
  CHECK(has(dig, "status: NOERROR"));
  CHECK(has(dig, "ANSWER: 2"));
  // TCP replies always come from the connection's own address.
  CHECK(runCommand("dig @127.0.0.2 -p " + std::to_string(port) +
                   " +time=2 +tries=1 +tcp +short www.example.com A") == "192.0.2.10\n192.0.2.11");
}

TEST_CASE("reply from the wrong address: a [::] listener answers from the IPv6 address asked") {
  // Loopback has one IPv6 address (::1), so the test runs meridiand in a
  // network namespace of its own whose loopback also carries 2001:db8::53.
  // unshare(CLONE_NEWNET) moves only the calling thread, and what it forks
  // (meridiand, ip, dig) inherits the namespace; it all ends with the thread.
  std::string skipped, from_doc, from_loopback, dig_doc;
  std::thread inside([&] {
    if (unshare(CLONE_NEWNET) != 0) {
      skipped = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    int status = 0;
    runCommand("ip link set lo up && ip -6 addr add 2001:db8::53/128 dev lo nodad 2>&1", &status);
    if (status != 0) {
      skipped = "cannot configure the namespace's loopback with ip";
      return;
    }
    TempDir dir;
    const std::string db = exampleDb(dir);
    Process p({buildPath("server/meridiand"), "--db", db, "--dns-listen", "[::]:0", "--no-api",
               "--threads", "2", "--ready-file", dir.file("ready.json")},
              dir.file("log"));
    std::string ready;
    for (int i = 0; i < 500 && (ready.empty() || ready.back() != '\n'); ++i) {
      std::this_thread::sleep_for(20ms);
      ready = readFile(dir.file("ready.json"));
    }
    if (ready.empty()) {
      skipped = "meridiand did not start: " + readFile(dir.file("log"));
      return;
    }
    const uint16_t port = portFromReadyFile(ready);
    // Sent from ::1, so without IPV6_PKTINFO the reply would leave from ::1.
    from_doc = replySource(AF_INET6, "::1", "2001:db8::53", port, 7);
    from_loopback = replySource(AF_INET6, "2001:db8::53", "::1", port, 8);
    dig_doc = runCommand("dig -b ::1 @2001:db8::53 -p " + std::to_string(port) +
                         " +time=2 +tries=1 www.example.com AAAA 2>&1");
  });
  inside.join();
  if (!skipped.empty()) {
    MESSAGE("skipped: " << skipped);
    return;
  }
  CHECK(from_doc == "2001:db8::53");
  CHECK(from_loopback == "::1");
  CHECK_FALSE(has(dig_doc, "unexpected source"));
  CHECK(has(dig_doc, "2001:db8::10"));
}

TEST_CASE("one failed send drops the batch: a spoofed source port 0 costs only its own reply") {
  // A query "from" port 0 can only be answered with sendto(port 0), which the
  // kernel refuses (EINVAL); a firewall rule refusing one destination (EPERM)
  // looks the same to us. Before the fix, sendmmsg's -1 for that one message
  // dropped every reply after it in the batch.
  TempDir dir;
  const std::string db = exampleDb(dir);
  MeridiandProcess meridiand(db, dir.path(), {"--threads", "1"});
  const uint16_t port = meridiand.dnsPort();

  const int raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
  if (raw < 0) {
    MESSAGE("skipped: a raw socket needs CAP_NET_RAW (" << std::strerror(errno) << ")");
    return;
  }
  const int client = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(client >= 0);
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(port);
  server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  // Stop meridiand so that all the datagrams queue on its one UDP socket and
  // its worker takes them with one recvmmsg, and answers them with one
  // sendmmsg: the batch a busy server sees.
  meridiand.process().signal(SIGSTOP);
  std::set<uint16_t> sent;
  for (uint16_t id = 1; id <= 10; ++id) {
    QueryOptions o;
    o.id = id;
    const auto query = makeQuery("www.example.com", o);
    REQUIRE(sendto(client, query.data(), query.size(), 0, reinterpret_cast<sockaddr*>(&server),
                   sizeof server) == static_cast<ssize_t>(query.size()));
    sent.insert(id);
    if (id == 3) {
      // The spoofed one: a UDP header with source port 0 (checksum 0 means
      // none for IPv4), then a valid query; the kernel adds the IP header.
      QueryOptions spoofed;
      spoofed.id = 0xbad;
      const auto payload = makeQuery("www.example.com", spoofed);
      std::vector<uint8_t> datagram(sizeof(udphdr) + payload.size());
      udphdr header{};
      header.source = 0;
      header.dest = htons(port);
      header.len = htons(static_cast<uint16_t>(datagram.size()));
      header.check = 0;
      std::memcpy(datagram.data(), &header, sizeof header);
      std::memcpy(datagram.data() + sizeof header, payload.data(), payload.size());
      REQUIRE(sendto(raw, datagram.data(), datagram.size(), 0, reinterpret_cast<sockaddr*>(&server),
                     sizeof server) == static_cast<ssize_t>(datagram.size()));
    }
  }
  meridiand.process().signal(SIGCONT);

  std::set<uint16_t> answered;
  pollfd p{client, POLLIN, 0};
  while (answered.size() < sent.size() && poll(&p, 1, 2000) == 1) {
    uint8_t reply[4096];
    const ssize_t n = recv(client, reply, sizeof reply, 0);
    if (n > 0) answered.insert(decode(reply, static_cast<size_t>(n)).id);
  }
  close(raw);
  close(client);
  CHECK(answered.size() == sent.size());
  CHECK(answered == sent);
  // The failed reply is counted.
  const std::string metrics =
      runCommand("curl -s -H \"Authorization: Bearer $(cat " + db +
                 ".token)\" http://127.0.0.1:" + std::to_string(meridiand.apiPort()) + "/metrics");
  CHECK(has(metrics, "meridian_dns_send_errors_total 1\n"));
}
