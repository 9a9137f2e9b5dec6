// Cluster mode's configuration replica, end to end: a single-node database
// pushed into a real 3-member etcd (meridianctl cluster init), one meridiand
// per test host replicating it (meridiand --etcd), answers checked with dig
// inside the hosts. A change put into etcd reaches every node; a node cut off
// keeps answering from its replica and converges when its link returns; a
// node restarted past a compaction reloads everything; a node restarted with
// etcd out of reach answers from its replica; an empty node catches up.

#include <doctest/doctest.h>
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
#include "cluster/replica_sync.h"
#include "tests/support/cluster_node.h"
#include "tests/support/dns_test_util.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/example_zone.h"
#include "tests/support/process.h"
#include "zones/database.h"
#include "zones/replica_store.h"
#include "zones/zone_io.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A put that may land while the majority elects a new leader: repeated
// (it is idempotent) until etcd acknowledges it.
int64_t putUntilAcknowledged(cluster::EtcdClient& client, const std::string& key,
                             const std::string& value) {
  const auto deadline = Clock::now() + 30s;
  for (;;) {
    try {
      return client.put(key, value);
    } catch (const cluster::EtcdError& e) {
      if (Clock::now() > deadline) throw;
      std::this_thread::sleep_for(200ms);
    }
  }
}

}  // namespace

TEST_CASE(
    "cluster replica: init, three nodes answer; a change reaches every node; a cut node serves its "
    "replica and converges; compaction forces a resync; an empty node catches up") {
  REQUIRE_ETCD();
  TempDir dir;
  TestNetwork net(3);
  EtcdCluster etcd(net, dir.path());

  // A single-node database with the example zone, pushed into etcd.
  const std::string source = dir.file("single.db");
  {
    zones::Database db(source);
    zones::storeZone(db, zones::parseZoneText(kExampleZone, "example.zone"));
  }
  std::string etcd_urls;
  for (const std::string& url : etcd.clientUrls())
    etcd_urls += (etcd_urls.empty() ? "" : ",") + url;
  const auto init_started = Clock::now();
  int status = -1;
  const std::string init =
      runCommand(buildPath("tools/meridianctl/meridianctl") + " cluster init --db " + source +
                     " --etcd " + etcd_urls + " 2>&1",
                 &status);
  REQUIRE_MESSAGE(status == 0, init);
  CHECK(init.find("pushed ") != std::string::npos);
  MESSAGE(
      "cluster init: "
      << init << " ("
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - init_started).count()
      << " ms)");
  // A second init refuses: etcd is no longer empty.
  const std::string again =
      runCommand(buildPath("tools/meridianctl/meridianctl") + " cluster init --db " + source +
                     " --etcd " + etcd_urls + " 2>&1",
                 &status);
  CHECK(status != 0);
  CHECK(again.find("init only fills an empty cluster") != std::string::npos);

  // One node per host; each lists its own member first.
  auto urlsFor = [&](int host) { return etcdUrlsFor(etcd.clientUrls(), host); };
  std::map<int, std::unique_ptr<ClusterNode>> nodes;
  for (int h = 1; h <= 3; ++h) {
    nodes[h] =
        std::make_unique<ClusterNode>(ClusterNode{net, h, dir.file("node" + std::to_string(h) + ".db"),
                                                  5300, 8053,
                                                  dir.file("node" + std::to_string(h) + ".log")});
    nodes[h]->start(urlsFor(h));
  }
  const std::string original = (nodes[1]->answer("mail.example.com"));
  for (int h = 1; h <= 3; ++h) {
    CAPTURE(h);
    CHECK_MESSAGE(waitUntil(
                      [&] {
                        return (nodes[h]->answer("mail.example.com")) == original &&
                               !original.empty();
                      },
                      20s),
                  nodes[h]->readLog());
    CHECK((nodes[h]->answer("example.com", "SOA")).find("2026112701") != std::string::npos);
  }

  // A change put into etcd directly: mail's A record gets a new address.
  // Records travel in chunks (zones/replica_store.h): rewrite the chunk that
  // holds it, the rest of the chunk unchanged.
  cluster::EtcdClient client({.endpoints = etcd.clientUrls()});
  const std::string mail_a = "\"mail.example.com.\",1,";
  std::string www_key, www_value;
  {
    zones::Database db(source, false);
    for (const zones::ReplicaRow& row : zones::dumpReplicaRows(db)) {
      if (row.key.starts_with("record_chunks/") && row.value.find(mail_a) != std::string::npos) {
        www_key = cluster::kConfigPrefix + row.key;
        www_value = row.value;
      }
    }
  }
  REQUIRE(!www_key.empty());
  auto withAddress = [&](const std::string& hex) {
    std::string v = www_value;
    const size_t rdata = v.find('"', v.find(mail_a) + mail_a.size());  // after the ttl
    v.replace(rdata + 1, 8, hex);
    return v;
  };
  const auto put_at = Clock::now();
  client.put(www_key, withAddress("c0000263"));  // 192.0.2.99
  for (int h = 1; h <= 3; ++h) {
    CAPTURE(h);
    // The promise is well under a second; 10 s is margin for ASan on a busy machine.
    CHECK_MESSAGE(
        waitUntil([&] { return (nodes[h]->answer("mail.example.com")) == "192.0.2.99"; }, 10s),
        nodes[h]->readLog());
  }
  MESSAGE("etcd put -> answered by all three nodes in "
          << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - put_at).count()
          << " ms");
  CHECK(nodes[2]->gauge("meridian_cluster_connected") == 1);
  CHECK(nodes[2]->gauge("meridian_cluster_applied_revision") > 0);

  // Host 3's link is cut: it keeps answering from its replica; the others
  // get the next change; it converges when the link returns.
  net.linkDown(3);
  cluster::EtcdClient majority({.endpoints = {etcd.clientUrl(1), etcd.clientUrl(2)}});
  putUntilAcknowledged(majority, www_key, withAddress("c0000264"));  // 192.0.2.100
  for (int h = 1; h <= 2; ++h) {
    CHECK(waitUntil([&] { return (nodes[h]->answer("mail.example.com")) == "192.0.2.100"; },
                    10s));
  }
  int failed = 0;
  for (int i = 0; i < 20; ++i) {
    if ((nodes[3]->answer("mail.example.com")) != "192.0.2.99") ++failed;
  }
  CHECK(failed == 0);
  CHECK_MESSAGE(waitUntil([&] { return nodes[3]->gauge("meridian_cluster_connected") == 0; }, 15s),
                nodes[3]->metrics());
  CHECK(nodes[3]->gauge("meridian_cluster_seconds_since_contact") > 0);
  net.linkUp(3);
  CHECK_MESSAGE(
      waitUntil([&] { return (nodes[3]->answer("mail.example.com")) == "192.0.2.100"; }, 30s),
      nodes[3]->readLog());
  CHECK(waitUntil([&] { return nodes[3]->gauge("meridian_cluster_connected") == 1; }, 15s));

  // Node 3 stops; a change and a compaction happen; restarted on its
  // replica, it cannot resume its watch (compacted) and reloads everything.
  nodes[3]->stop();
  const nlohmann::json chunk_now = nlohmann::json::parse(www_value);
  nlohmann::json without_mail = {{"records", nlohmann::json::array()}};
  for (const nlohmann::json& row : chunk_now["records"]) {
    if (row[2] != "mail.example.com." || row[3] != 1) without_mail["records"].push_back(row);
  }
  putUntilAcknowledged(majority, www_key, without_mail.dump());
  const int64_t compact_at = putUntilAcknowledged(
      majority, cluster::kConfigPrefix + std::string("regions/999"),
      R"({"id":999,"name":"r999","latitude":1.5,"longitude":2.5,"continent":null,"countries":"[]"})");
  majority.compact(compact_at);
  // Host 3's member, just back from its partition, may not have applied the
  // compaction yet; a watch it accepts before then replays the events
  // instead of failing. Restart node 3 only once that member refuses a read
  // below the compaction (a linearizable read: it has caught up first).
  cluster::EtcdClient member3({.endpoints = {etcd.clientUrl(3)}});
  REQUIRE(waitUntil(
      [&] {
        try {
          member3.get(www_key, {.revision = compact_at - 1});
        } catch (const cluster::EtcdError& e) {
          return e.kind() == cluster::EtcdErrorKind::kCompacted;
        }
        return false;
      },
      20s));
  nodes[3]->start(urlsFor(3));
  // (It has a replica, so only a broken watch makes it load everything.)
  CHECK_MESSAGE(
      waitUntil([&] { return nodes[3]->gauge("meridian_cluster_full_loads_total") == 1; }, 20s),
      nodes[3]->readLog());
  CHECK((nodes[3]->answer("mail.example.com")).empty());
  CHECK((nodes[3]->answer("example.com", "SOA")).find("2026112701") != std::string::npos);
  CHECK(nodes[3]->readLog().find("reading everything again") != std::string::npos);
  CHECK(nodes[3]->gauge("meridian_cluster_applied_revision") >= static_cast<double>(compact_at));

  // Restarted with etcd out of reach, node 3 answers from its replica.
  nodes[3]->stop();
  net.linkDown(3);
  nodes[3]->start(urlsFor(3));
  CHECK((nodes[3]->answer("example.com", "SOA")).find("2026112701") != std::string::npos);
  // Its own member may accept the watch until it notices it has lost the
  // leader; then the node says it is cut off.
  CHECK(waitUntil([&] { return nodes[3]->gauge("meridian_cluster_connected") == 0; }, 15s));
  CHECK((nodes[3]->answer("example.com", "SOA")).find("2026112701") != std::string::npos);
  net.linkUp(3);

  // A fourth node with an empty database catches up by itself.
  ClusterNode fresh{net, 2, dir.file("fresh.db"), 5301, 8054, dir.file("fresh.log")};
  fresh.start(urlsFor(2));
  CHECK_MESSAGE(waitUntil(
                    [&] {
                      return (fresh.answer("example.com", "SOA")).find("2026112701") !=
                             std::string::npos;
                    },
                    20s),
                fresh.readLog());
  CHECK((fresh.answer("mail.example.com")).empty());  // deleted above
  fresh.stop();
  for (auto& [h, node] : nodes) node->stop();
}
