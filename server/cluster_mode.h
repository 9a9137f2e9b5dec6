#pragma once
// meridiand's cluster mode (--etcd; docs/architecture.md, "Cluster mode"):
// the database file is this node's replica of the configuration in etcd.
// ClusterMode owns what only a cluster node runs:
//
//   ReplicaSync   the configuration rows, etcd -> the replica
//   HealthSync    the vantages' observations, etcd -> the replica's health tables
//   NodeRegistry  this node's report in the node list (/meridian/v1/nodes/NAME)
//   ConfigWriter  the API's writes, as one etcd transaction each
//
// plus their /metrics gauges and the etcd client that reads the node list
// for GET /api/v1/cluster. Each runs on threads of its own, never on a query
// thread.
//
// Threads: construct, connectApi, startNodeRegistry and stop on the main
// thread; replicaStatus, metricsText and nodeListClient from any thread
// (API threads) until stop().

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/health_sync.h"
#include "cluster/node_registry.h"
#include "cluster/replica_sync.h"
#include "server/api/api_server.h"

namespace meridian::server {

struct ClusterModeSettings {
  std::string etcd;                         // --etcd: URL[,URL...], already validated
  std::string db_path;                      // the replica
  std::string node_name;                    // --node-name
  int64_t health_stale_after_ms = 0;        // as the DNS service counts votes
  std::chrono::seconds node_lease_ttl{10};  // --node-lease-ttl
  /// Unix ms when this process started serving DNS: the replica's "seconds
  /// since the last message from etcd" gauge counts from it until etcd
  /// first answers.
  int64_t started_ms = 0;
};

class ClusterMode {
 public:
  /// Starts replicating the configuration and the vantages' health from etcd
  /// into settings.db_path (etcd out of reach is not an error: both retry).
  /// `on_applied` is called on their threads after each change reached the
  /// file (DnsService::pollNow, so the reloader serves it at once).
  ClusterMode(ClusterModeSettings settings, std::function<void()> on_applied);
  /// stop().
  ~ClusterMode();
  ClusterMode(const ClusterMode&) = delete;
  ClusterMode& operator=(const ClusterMode&) = delete;

  /// Before the API starts: its writes go to etcd (a write committed to the
  /// replica locally would be overwritten by the next full load and differ
  /// from every other node), and DELETE /api/v1/vantages/NAME removes the
  /// vantage in etcd.
  void connectApi(api::ApiConfig& config, api::ApiHooks& hooks);

  /// Once the API is bound, so the report carries its address: puts `self`
  /// into the node list, at most once a second. `self` is called on the
  /// registry's thread.
  void startNodeRegistry(std::function<cluster::NodeReport()> self);

  /// The replica's side of this node's report: applied and etcd revisions,
  /// connection, last contact. Any thread.
  void addReplicaStatus(cluster::NodeReport& report) const;

  /// The replica and health sync gauges for /metrics (Prometheus text), from
  /// memory only: a scrape must not wait for etcd. Any thread.
  std::string metricsText(int64_t now_ms) const;

  /// Reads the node list for GET /api/v1/cluster; short timeouts, so a node
  /// cut off from etcd answers with its own view quickly. Any thread.
  cluster::EtcdClient* nodeListClient() { return node_list_client_.get(); }

  /// After the API stopped (its writes wait on the replica): leaves the node
  /// list at once (revokes the lease), then stops the health sync and the
  /// replica sync. Idempotent.
  void stop();

 private:
  ClusterModeSettings settings_;
  std::vector<std::string> endpoints_;
  std::unique_ptr<cluster::ReplicaSync> replica_;
  std::unique_ptr<cluster::HealthSync> health_sync_;
  std::unique_ptr<cluster::EtcdClient> node_list_client_;
  std::unique_ptr<cluster::NodeRegistry> registry_;
};

}  // namespace meridian::server
