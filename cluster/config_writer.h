#pragma once
// Cluster mode's API writes (docs/architecture.md, "Writes in cluster
// mode"). The API's connections to the replica carry a ConfigWriter
// (zones::Database::redirectWrites): a store function runs as usual on the
// replica, its changed rows are captured and rolled back, and commit() makes
// them ONE etcd transaction:
//
//   compare  mod_revision(/meridian/v1/head) < base + 1   (nobody wrote since
//            the replica state the change was computed on)
//   success  put/delete /meridian/v1/config/TABLE/PK ...,  put /meridian/v1/head
//   failure  get /meridian/v1/head
//
// Every write moves the head key, so the compare serializes configuration
// writes across the cluster the way SQLite's write lock does on one node:
// ids, unique names and references checked on the replica stay true when
// etcd commits. A lost race waits until the replica holds the winner and
// runs the store function again (Database::transaction). The write is
// acknowledged only after etcd committed it and this node's replica applied
// it, so the client reads its own write from this node at once.
//
// Threads: commit() from any API thread, concurrently.

#include <chrono>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/replica_sync.h"
#include "zones/database.h"

namespace meridian::cluster {

class ReplicaSync;

struct ConfigWriterOptions {
  EtcdClientOptions etcd;
  std::string prefix;     // where the rows live (kConfigPrefix)
  std::string node_name;  // recorded in the head key: who wrote last
  /// How long an acknowledged write may take to reach this node's replica
  /// before the client is told it is committed but not here yet.
  std::chrono::milliseconds apply_timeout{10000};
};

class ConfigWriter : public zones::WriteRedirect {
 public:
  /// `replica` must outlive the writer.
  ConfigWriter(ConfigWriterOptions options, ReplicaSync& replica);

  void commit(const std::vector<zones::ReplicaChange>& changes, int64_t base_revision) override;

 private:
  ConfigWriterOptions options_;
  ReplicaSync& replica_;
  EtcdClient client_;
};

}  // namespace meridian::cluster
