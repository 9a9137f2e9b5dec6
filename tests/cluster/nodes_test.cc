// The node registry and GET /api/v1/cluster against a real 3-member etcd:
// three meridiand nodes (one per test host, cluster mode) each list all
// three, with equal config serials once a configuration change reached
// them; `meridianctl cluster status` prints the table; a node killed with
// kill -9 drops out of every list once its lease expires; a node cut off
// from etcd still answers 200 with its own view and says why the list is
// missing; NSID and CH TXT id.server are on by default in cluster mode.

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cluster/etcd_client.h"
#include "cluster/replica_sync.h"
#include "tests/support/cluster_node.h"
#include "tests/support/dns_test_util.h"
#include "tests/support/etcd_cluster.h"
#include "tests/support/process.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kToken = "nodes-test-nodes-test-nodes-test-nodes";
constexpr int kLeaseTtl = 4;

std::string nodeName(int host) { return numbered("node", host); }

// GET /api/v1/cluster from inside the node's host; null when it does not answer.
nlohmann::json clusterView(ClusterNode& node) {
  return nlohmann::json::parse(node.api("GET", "/api/v1/cluster").body, nullptr, false);
}

// The names in a view's node list, sorted.
std::string names(const nlohmann::json& view) {
  std::string out;
  if (!view.is_object() || !view.contains("nodes")) return "(no view)";
  for (const auto& n : view["nodes"]) out += n.value("name", "?") + " ";
  return out;
}

}  // namespace

TEST_CASE(
    "cluster status: three nodes list each other with equal config serials; a killed node drops "
    "out after its lease; a cut-off node answers its own view") {
  REQUIRE_ETCD();
  TempDir dir;
  TestNetwork net(3);
  EtcdCluster etcd(net, dir.path());
  writeFile(dir.file("token"), std::string(kToken) + "\n");
  ::chmod(dir.file("token").c_str(), 0600);
  pushExampleZone(dir.file("single.db"), etcd.clientUrls());
  std::string urls;
  for (const std::string& url : etcd.clientUrls()) urls += (urls.empty() ? "" : ",") + url;

  std::vector<std::unique_ptr<ClusterNode>> nodes;
  for (int h = 1; h <= 3; ++h) {
    nodes.push_back(std::make_unique<ClusterNode>(
        ClusterNode{net, h, dir.file(nodeName(h) + ".db"), 53, 8053,
                    dir.file(nodeName(h) + ".log"), dir.file("token")}));
    nodes.back()->start(urls, {"--node-name", nodeName(h), "--node-lease-ttl",
                               std::to_string(kLeaseTtl)});
  }
  const std::string all = "node1 node2 node3 ";
  for (auto& node : nodes) {
    CAPTURE(node->host);
    nlohmann::json view;
    CHECK_MESSAGE(waitUntil(
                      [&] {
                        view = clusterView(*node);
                        return names(view) == all;
                      },
                      20s),
                  view.dump());
    CHECK(view["mode"] == "cluster");
    CHECK(view["node"]["name"] == nodeName(node->host));
  }

  // A configuration change: every node serves it and reports the same serial.
  cluster::EtcdClientOptions options;
  options.endpoints = etcd.clientUrls();
  cluster::EtcdClient client(options);
  const int64_t changed = client.put(
      std::string(cluster::kConfigPrefix) + "regions/77",
      R"({"id":77,"name":"eu-test","latitude":53.35,"longitude":-6.26,"continent":null,)"
      R"("countries":"[]"})");
  for (auto& node : nodes) {
    CAPTURE(node->host);
    nlohmann::json view;
    CHECK_MESSAGE(waitUntil(
                      [&] {
                        view = clusterView(*node);
                        if (names(view) != all) return false;
                        for (const auto& n : view["nodes"]) {
                          if (n.value("config_serial", 0) != changed) return false;
                        }
                        return view["node"].value("config_serial", 0) == changed;
                      },
                      20s),
                  view.dump());
    for (const auto& n : view["nodes"]) {
      CHECK(n["connected"] == true);
      CHECK(n["seconds_since_report"].get<double>() < 10.0);
    }
  }
  // NSID and CH TXT id.server: on by default in cluster mode.
  CHECK(nodes[1]->dig({"CH", "TXT", "id.server", "+short"}).find("\"node2\"") != std::string::npos);
  CHECK(nodes[1]->dig({"www.example.com", "+nsid"}).find("(\"node2\")") != std::string::npos);

  // meridianctl cluster status prints every node.
  const std::string table =
      net.run(1, {buildPath("tools/meridianctl/meridianctl"), "--api",
                  "http://" + net.address(1) + ":8053", "--token-file", dir.file("token"),
                  "cluster", "status"})
          .output;
  MESSAGE(table);
  CHECK(table.find("this node: node1 (cluster), config serial " + std::to_string(changed)) !=
        std::string::npos);
  for (const char* name : {"node1", "node2", "node3"}) {
    CHECK(table.find(std::string("\n") + name + " ") != std::string::npos);
  }

  // kill -9 node 3 (by PID): its lease is not revoked, so it stays listed
  // until the TTL runs out, then leaves every list.
  const auto killed_at = Clock::now();
  nodes[2]->process->kill();  // SIGKILL by PID
  const std::string two = "node1 node2 ";
  for (int h = 0; h < 2; ++h) {
    nlohmann::json view;
    CHECK_MESSAGE(waitUntil(
                      [&] {
                        view = clusterView(*nodes[h]);
                        return names(view) == two;
                      },
                      std::chrono::seconds(kLeaseTtl * 4)),
                  view.dump());
  }
  const auto gone_after =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed_at).count();
  MESSAGE("a killed node left the list after " << gone_after << " ms (lease TTL " << kLeaseTtl
                                               << " s)");
  // It could not leave before its lease ran out. The lease was last renewed
  // up to a third of its TTL before the kill (EtcdLease renews every TTL/3),
  // so the earliest is 2/3 of the TTL after it, less etcd's rounding to
  // whole seconds: 4 s -> 2.17 s (a clean-machine run saw 2.8 s).
  CHECK(gone_after >= kLeaseTtl * 1000 * 2 / 3 - 500);

  // Node 2 cut off: its own view still answers, with nodes_error.
  net.linkDown(2);
  nlohmann::json cut;
  CHECK_MESSAGE(waitUntil(
                    [&] {
                      cut = clusterView(*nodes[1]);
                      return cut.is_object() && cut.contains("nodes_error");
                    },
                    20s),
                cut.dump());
  CHECK(cut["node"]["name"] == "node2");
  CHECK(cut["node"]["config_serial"] == changed);
  CHECK(cut["nodes"].empty());
  net.linkUp(2);
  for (int h = 0; h < 2; ++h) nodes[h]->stop();
}
