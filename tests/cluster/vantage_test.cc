// Health from every vantage, end to end: three test hosts, each with one etcd
// member, one meridiand (cluster mode) and one meridian-healthd (--etcd, its
// own vantage). The checked endpoint is 127.0.0.1, whose TCP port listens
// or not in each host's own namespace, so the test decides what each
// vantage sees. Checks the quorum vote across nodes, a killed healthd's
// votes expiring with its lease, and restarts while etcd is out of reach.

#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cluster/etcd_client.h"
#include "cluster/health_keys.h"
#include "tests/support/cluster_node.h"
#include "tests/support/dns_test_util.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/example_zone.h"
#include "tests/support/process.h"
#include "zones/database.h"
#include "zones/model.h"
#include "zones/steering_store.h"
#include "zones/zone_io.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr uint16_t kCheckPort = 9101;
constexpr const char* kUp = "127.0.0.1";      // the checked endpoint
constexpr const char* kBackup = "192.0.2.2";  // served when it is down

// A TCP listener on 127.0.0.1:kCheckPort inside one host's namespace: that
// host's healthd sees the endpoint up while it is open. Never accepts: the
// kernel completes the handshakes, which is all a tcp check needs.
struct Listener {
  int fd = -1;
  void open(TestNetwork& net, int host) {
    net.inHost(host, [&] {
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      REQUIRE(fd >= 0);
      const int one = 1;
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      sockaddr_in sa{};
      sa.sin_family = AF_INET;
      sa.sin_port = htons(kCheckPort);
      sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
      REQUIRE(::listen(fd, 4096) == 0);
    });
  }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  ~Listener() { close(); }
};

// One test host: its meridiand (ClusterNode) and its healthd, vantage "hN".
struct Host {
  ClusterNode node;
  std::string health_log, urls;
  std::unique_ptr<HostProcess> healthd;

  std::string addr() const { return node.net.address(node.host); }
  std::string vantage() const { return numbered("h", node.host); }
  const std::string& db() const { return node.db; }

  void startMeridiand() { node.start(urls, {"--reload-poll-ms", "100"}); }
  void stopMeridiand() { node.stop(); }
  void startHealthd() {
    healthd = node.net.spawn(node.host,
                             {buildPath("healthd/meridian-healthd"), "--db", node.db, "--etcd",
                              urls, "--vantage", vantage(), "--lease-ttl", "3", "--log-level",
                              "debug"},
                             health_log);
  }
  void stopHealthd() {
    if (!healthd) return;
    healthd->signal(SIGTERM);
    if (healthd->wait(10s) < 0) healthd->kill();
    healthd.reset();
  }
  std::string logs() const {
    return node.readLog() + "\n--- healthd:\n" + runCommand("tail -n 25 " + health_log);
  }
  std::string answer(const std::string& name, const std::string& type = "A") {
    return node.answer(name, type);
  }
  nlohmann::json health() {
    return nlohmann::json::parse(node.api("GET", "/api/v1/health").body, nullptr, false);
  }
  // The vantage's vote on endpoint "flaky" as this node's API shows it:
  // "up", "down", "stale-up", "stale-down" (not counted), or "none".
  std::string vote(const std::string& vantage) {
    const nlohmann::json h = health();
    if (!h.is_object()) return "none";
    for (const auto& e : h["endpoints"]) {
      if (e["name"] != "flaky") continue;
      for (const auto& v : e["vantages"]) {
        if (v["vantage"] != vantage) continue;
        const std::string say = v["healthy"].get<bool>() ? "up" : "down";
        if (v["counted"].get<bool>()) return say;
        std::string stale = "stale-";
        stale += say;
        return stale;
      }
    }
    return "none";
  }
};

}  // namespace

TEST_CASE(
    "vantages: an endpoint failing for one vantage of three stays up under quorum and goes down "
    "for two; a killed healthd's votes expire with its lease; restarts without etcd answer from "
    "the replica") {
  REQUIRE_ETCD();
  const auto started = Clock::now();
  TempDir dir;
  TestNetwork net(3);
  EtcdCluster etcd(net, dir.path());

  // The configuration, pushed into etcd: svc.example.com fails over from
  // "flaky" (127.0.0.1, tcp check every second, one failure is enough) to
  // "backup" (no check).
  const std::string source = dir.file("single.db");
  {
    zones::Database db(source);
    zones::storeZone(db, zones::parseZoneText(kExampleZone, "example.zone"));
    zones::createRegion(db, zones::parseRegion(nlohmann::json::parse(
                                R"({"name":"main","latitude":50,"longitude":8})")));
    zones::createRegion(db, zones::parseRegion(nlohmann::json::parse(
                                R"({"name":"spare","latitude":40,"longitude":-74})")));
    zones::createEndpoint(
        db, zones::parseEndpoint(nlohmann::json::parse(
                R"({"name":"flaky","region":"main","address":"127.0.0.1","check":{"type":"tcp",
                "port":9101,"interval_s":1,"timeout_ms":500,"rise":1,"fall":1}})")));
    zones::createEndpoint(db, zones::parseEndpoint(nlohmann::json::parse(
                                  R"({"name":"backup","region":"spare","address":"192.0.2.2"})")));
    zones::putSteeredName(
        db, zones::parseSteeredName(
                nlohmann::json::parse(R"({"type":"A","policy":"failover","regions":["main","spare"],
                "ttl":5,"when_all_down":"all"})"),
                "example.com.", "svc.example.com."));
  }
  std::string all_urls;
  for (const std::string& url : etcd.clientUrls()) {
    if (!all_urls.empty()) all_urls += ',';
    all_urls += url;
  }
  int status = -1;
  const std::string init =
      runCommand(buildPath("tools/meridianctl/meridianctl") + " cluster init --db " + source +
                     " --etcd " + all_urls + " 2>&1",
                 &status);
  REQUIRE_MESSAGE(status == 0, init);

  std::map<int, Listener> listeners;
  std::map<int, std::unique_ptr<Host>> hosts;
  for (int h = 1; h <= 3; ++h) {
    listeners[h].open(net, h);
    const std::string urls = etcdUrlsFor(etcd.clientUrls(), h);  // its own member first
    const std::string n = std::to_string(h);
    hosts[h] = std::make_unique<Host>(
        Host{ClusterNode{net, h, dir.file("node" + n + ".db"), 5300, 8053,
                         dir.file("node" + n + ".log")},
             dir.file("healthd" + n + ".log"), urls});
    hosts[h]->startMeridiand();
    hosts[h]->startHealthd();
  }

  // Every node hears every vantage say "up".
  for (int h = 1; h <= 3; ++h) {
    for (int v = 1; v <= 3; ++v) {
      CAPTURE(h);
      CAPTURE(v);
      REQUIRE_MESSAGE(
          waitUntil([&] { return hosts[h]->vote(numbered("h", v)) == "up"; }, 20s),
          hosts[h]->health().dump() << "\n"
                                    << hosts[v]->logs());
    }
    CHECK(hosts[h]->answer("svc.example.com") == kUp);
    // The gauges follow at the sync's next liveness refresh (each second).
    CHECK(waitUntil([&] { return hosts[h]->node.gauge("meridian_cluster_live_vantages") == 3; },
                    5s));
    CHECK(hosts[h]->node.gauge("meridian_cluster_health_connected") == 1);
  }

  // Host 3's vantage sees it fail: one of three, quorum keeps it up.
  listeners[3].close();
  for (int h = 1; h <= 3; ++h) {
    CAPTURE(h);
    CHECK_MESSAGE(waitUntil([&] { return hosts[h]->vote("h3") == "down"; }, 10s), hosts[3]->logs());
  }
  for (int i = 0; i < 5; ++i) {
    for (int h = 1; h <= 3; ++h) CHECK(hosts[h]->answer("svc.example.com") == kUp);
    std::this_thread::sleep_for(200ms);
  }

  // Host 2's too: two of three, it goes down on every node.
  listeners[2].close();
  for (int h = 1; h <= 3; ++h) {
    CAPTURE(h);
    CHECK_MESSAGE(waitUntil([&] { return hosts[h]->answer("svc.example.com") == kBackup; }, 10s),
                  hosts[h]->health().dump() << "\n"
                                            << hosts[h]->logs());
  }

  // kill -9 of host 3's healthd: its "down" stops counting once its lease
  // (3 s) runs out; 1 up : 1 down is healthy under quorum.
  const auto killed_at = Clock::now();
  hosts[3]->healthd->kill();
  hosts[3]->healthd.reset();
  for (int h = 1; h <= 3; ++h) {
    CAPTURE(h);
    CHECK_MESSAGE(waitUntil([&] { return hosts[h]->answer("svc.example.com") == kUp; }, 15s),
                  hosts[h]->health().dump() << "\n"
                                            << hosts[h]->logs());
    CHECK(hosts[h]->vote("h3") == "stale-down");  // its last row is kept, not counted
  }
  const auto expired_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at).count();
  MESSAGE("healthd killed -> its votes stopped counting on all three nodes in " << expired_ms
                                                                                << " ms");
  // The lease is 3 s; etcd expires leases at its own pace (up to about a
  // second late), so not before 2 s.
  CHECK(expired_ms >= 2000);
  CHECK(waitUntil([&] { return hosts[1]->node.gauge("meridian_cluster_live_vantages") == 2; },
                  5s));

  // Host 3 cut off from etcd; its meridiand and healthd restart there.
  net.linkDown(3);
  hosts[3]->stopMeridiand();
  hosts[3]->startMeridiand();
  hosts[3]->startHealthd();
  // It answers from its replica: the zone and the steered name.
  CHECK(!hosts[3]->answer("svc.example.com").empty());
  CHECK(hosts[3]->answer("example.com", "SOA").find("hostmaster") != std::string::npos);
  // healthd probes and keeps asking etcd (its own member, without a leader,
  // may hold a request for a few seconds before it says so).
  CHECK_MESSAGE(waitUntil(
                    [&] {
                      return runCommand("grep -c 'cannot register the vantage in etcd' " +
                                        hosts[3]->health_log) != "0";
                    },
                    20s),
                hosts[3]->logs());
  CHECK_MESSAGE(hosts[3]->healthd->running(), hosts[3]->logs());

  // The link returns: host 3's vantage registers and votes again ("down":
  // its port is still closed), so two of three say down once more.
  net.linkUp(3);
  for (int h = 1; h <= 3; ++h) {
    CAPTURE(h);
    CHECK_MESSAGE(waitUntil([&] { return hosts[h]->vote("h3") == "down"; }, 30s),
                  hosts[h]->health().dump() << "\n"
                                            << hosts[h]->logs());
    CHECK(waitUntil([&] { return hosts[h]->answer("svc.example.com") == kBackup; }, 10s));
  }

  // meridianctl vantage list|remove, through host 1's API. h3 stops
  // cleanly (its lease is revoked, so it is gone at once), then is removed:
  // every node forgets its rows. A live vantage cannot be removed.
  auto ctl = [&](const std::string& args) {
    const CommandResult r = net.run(
        1, {"/bin/sh", "-c",
            buildPath("tools/meridianctl/meridianctl") + " --api http://" + hosts[1]->addr() +
                ":8053 --token-file " + hosts[1]->db() + ".token " + args + " 2>&1"});
    return r.output;
  };
  // A healthd restarted cleanly (SIGTERM revokes its lease: its keys go)
  // publishes its rows again, although nothing changed in what it sees (h2:
  // still down, so not even an RTT moves).
  {
    cluster::EtcdClient client({.endpoints = etcd.clientUrls()});
    auto rowsInEtcd = [&] {
      try {
        return client.get(cluster::rowsPrefix("h2"), {.prefix = true, .count_only = true}).count;
      } catch (const cluster::EtcdError&) {
        return int64_t{-1};
      }
    };
    REQUIRE(rowsInEtcd() == 1);
    hosts[2]->stopHealthd();
    // Revoked on the way out, well before the 3 s lease would expire. Unless
    // etcd itself had no leader then (seen on a loaded 2-core machine: an
    // election right here, the lease "lost", nothing to revoke): healthd
    // says so in its log, and the lease then expires under the next leader.
    const bool etcd_trouble =
        runCommand("grep -c -e 'vantage lease .* lost' -e 'revoking the vantage lease' " +
                   hosts[2]->health_log) != "0\n";
    if (etcd_trouble) {
      MESSAGE("etcd lost its leader around the stop; waiting for the lease to expire instead");
    }
    CHECK_MESSAGE(waitUntil([&] { return rowsInEtcd() == 0; }, etcd_trouble ? 20000ms : 1500ms),
                  hosts[2]->logs());
    hosts[2]->startHealthd();
    CHECK_MESSAGE(waitUntil([&] { return rowsInEtcd() == 1; }, 10s), hosts[2]->logs());
    CHECK(waitUntil([&] { return hosts[1]->vote("h2") == "down"; }, 10s));
  }

  // explain shows each vantage's vote on the checked endpoint.
  {
    const CommandResult r =
        net.run(1, {"/bin/sh", "-c",
                    "curl -s --max-time 3 -H \"Authorization: Bearer $(cat " + hosts[1]->db() +
                        ".token)\" 'http://" + hosts[1]->addr() +
                        ":8053/api/v1/explain?name=svc.example.com&client=192.0.2.77'"});
    const nlohmann::json explain = nlohmann::json::parse(r.output, nullptr, false);
    REQUIRE_MESSAGE(explain.is_object(), r.output);
    const nlohmann::json& flaky = explain["ranking"][0]["endpoints"][0];
    CHECK_MESSAGE(flaky["vote"] == "quorum", explain.dump());
    std::map<std::string, std::string> votes;
    for (const auto& v : flaky["votes"]) {
      votes[v["vantage"]] = std::string(v["healthy"].get<bool>() ? "up" : "down") +
                            (v["counted"].get<bool>() ? "" : "/not counted");
    }
    const std::map<std::string, std::string> expected = {
        {"h1", "up"}, {"h2", "down"}, {"h3", "down"}};
    CHECK_MESSAGE(votes == expected, explain.dump());
  }

  hosts[3]->stopHealthd();
  CHECK_MESSAGE(waitUntil([&] { return hosts[1]->vote("h3") == "stale-down"; }, 10s),
                hosts[1]->health().dump());
  const std::string list = ctl("vantage list");
  CHECK_MESSAGE(list.find("h1") != std::string::npos, list);
  CHECK_MESSAGE(list.find("live") != std::string::npos, list);
  CHECK_MESSAGE(list.find("gone") != std::string::npos, list);  // h3
  const std::string health_table = ctl("health");
  CHECK_MESSAGE(health_table.find("h3:gone") != std::string::npos, health_table);
  CHECK_MESSAGE(health_table.find("h3-") == std::string::npos, health_table);
  const std::string refused = ctl("vantage remove h1");
  CHECK_MESSAGE(refused.find("live") != std::string::npos, refused);
  const std::string removed = ctl("vantage remove h3");
  CHECK_MESSAGE(removed.find("removed vantage h3") != std::string::npos, removed);
  for (int h = 1; h <= 3; ++h) {
    CAPTURE(h);
    CHECK_MESSAGE(waitUntil([&] { return hosts[h]->vote("h3") == "none"; }, 10s),
                  hosts[h]->health().dump());
  }
  CHECK(ctl("vantage list").find("h3") == std::string::npos);

  for (auto& [h, host] : hosts) {
    host->stopHealthd();
    host->stopMeridiand();
  }
  MESSAGE("vantage test took "
          << std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count()
          << " s");
}
