#pragma once
// The node registry: every meridiand in cluster mode reports itself in etcd
// under a lease, so `GET /api/v1/cluster` on any node lists the live nodes
// with their applied revision, lag and configuration serial, and a node that
// dies drops out of the list when its lease expires.
//
//   key   /meridian/v1/nodes/NAME
//   value {"name":"ns1","applied_revision":812,"etcd_revision":812,"lag_revisions":0,
//          "config_serial":790,"connected":true,"last_contact_ms":...,
//          "started_ms":...,"reported_ms":...,"version":"0.1.0",
//          "dns":["198.18.0.11:53"],"api":"198.18.0.11:8053"}
//
// Threads: NodeRegistry runs on a thread of its own (never a query thread)
// and calls `report` there; readNodes and clusterView block on etcd and may
// be called from any thread (API threads).

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_client.h"

namespace meridian::cluster {

class EtcdLease;

inline constexpr const char* kNodesPrefix = "/meridian/v1/nodes/";

/// What one node says about itself.
struct NodeReport {
  std::string name;
  int64_t applied_revision = 0;  // the replica is complete up to this etcd revision
  int64_t etcd_revision = 0;     // etcd's revision as this node last heard it
  int64_t config_serial = 0;     // zones::configSerial of what it serves
  bool connected = false;        // its replica's watch is open
  int64_t last_contact_ms = 0;   // unix ms of its last message from etcd (0: none)
  int64_t started_ms = 0;
  int64_t reported_ms = 0;  // unix ms of this report (the node's clock)
  std::string version;
  std::vector<std::string> dns;  // bound DNS addresses
  std::string api;               // bound API address ("" without API)

  /// etcd's revision as the node knew it minus the applied one, at the
  /// report (0 when caught up).
  int64_t lag() const {
    return etcd_revision > applied_revision ? etcd_revision - applied_revision : 0;
  }
};

nlohmann::json toJson(const NodeReport& report);
/// Throws std::runtime_error naming what is wrong with the value.
NodeReport nodeReportFromJson(const std::string& text);

struct NodeRegistryOptions {
  EtcdClientOptions etcd;
  std::string prefix = kNodesPrefix;
  std::chrono::seconds ttl{10};  // the lease: a dead node drops out this long after it died
  /// A changed report (config serial, connection, lag) is put at most this
  /// often, an unchanged one at least this often (its age shows liveness).
  std::chrono::milliseconds min_interval{1000};
  std::chrono::milliseconds max_interval{5000};
};

class NodeRegistry {
 public:
  /// Starts the thread; etcd out of reach is not an error (it retries).
  /// `report` is called on that thread, once per min_interval.
  NodeRegistry(NodeRegistryOptions options, std::function<NodeReport()> report);
  /// Stops the thread and revokes the lease: the key goes at once.
  ~NodeRegistry();
  NodeRegistry(const NodeRegistry&) = delete;
  NodeRegistry& operator=(const NodeRegistry&) = delete;

  /// Reports put so far, and the last error ("" after a successful put).
  uint64_t puts() const;
  std::string lastError() const;

 private:
  void run();
  void tick();

  NodeRegistryOptions options_;
  std::function<NodeReport()> report_;
  EtcdClient client_;
  std::unique_ptr<EtcdLease> lease_;  // registry thread only
  std::unique_ptr<NodeReport> last_;  // registry thread only: the last report put
  int64_t last_put_revision_ = 0;
  std::chrono::steady_clock::time_point last_put_at_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  uint64_t puts_ = 0;
  std::string last_error_;
  std::thread thread_;
};

/// Every node's report, read at one revision (throws EtcdError). A value
/// that is not a report is listed by its key's name with `error` set.
struct NodeList {
  int64_t etcd_revision = 0;
  std::vector<NodeReport> nodes;
  std::vector<std::pair<std::string, std::string>> unreadable;  // name, why
};
NodeList readNodes(EtcdClient& client, const std::string& prefix = kNodesPrefix);

/// The body of GET /api/v1/cluster (docs/api.md): this node's own view, and
/// in cluster mode (`client` not null) every node read from etcd, each with
/// its lag and the age of its report; when etcd does not answer, the own
/// view and "nodes_error". In single-node mode the node itself is the list.
nlohmann::json clusterView(const NodeReport& self, EtcdClient* client, int64_t now_ms,
                           const std::string& prefix = kNodesPrefix);

}  // namespace meridian::cluster
