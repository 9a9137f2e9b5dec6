#include "cluster/config_writer.h"

#include <nlohmann/json.hpp>

#include "cluster/replica_sync.h"
#include "zones/replica_store.h"

namespace meridian::cluster {

ConfigWriter::ConfigWriter(ConfigWriterOptions options, ReplicaSync& replica)
    : options_(std::move(options)), replica_(replica), client_(options_.etcd) {}

void ConfigWriter::commit(const std::vector<zones::ReplicaChange>& changes,
                          int64_t base_revision) {
  std::vector<TxnOp> writes;
  size_t bytes = 0;
  for (const zones::ReplicaChange& c : changes) {
    writes.push_back(c.value ? TxnOp::put(options_.prefix + c.key, *c.value)
                             : TxnOp::del(options_.prefix + c.key));
    bytes += c.key.size() + (c.value ? c.value->size() : 0);
  }
  const nlohmann::json head = {{"by", options_.node_name},
                               {"at_ms", zones::nowMillis()},
                               {"keys", changes.size()}};
  writes.push_back(TxnOp::put(kHeadKey, head.dump()));
  TxnResult result;
  try {
    result = client_.txn({Compare::modRevision(kHeadKey, Compare::Result::kLess, base_revision + 1)},
                         writes, {TxnOp::get(kHeadKey)});
  } catch (const EtcdError& e) {
    if (e.kind() == EtcdErrorKind::kTooLarge) {
      throw zones::RedirectedWriteError(
          413, "Too large for one etcd transaction",
          "this write changes " + std::to_string(changes.size()) + " keys (" +
              std::to_string(bytes) + " bytes) and etcd refused them as one transaction: " +
              e.detail() +
              ". etcd's --max-txn-ops (default 128) and --max-request-bytes (default 1.5 MiB) "
              "bound one write; raise them on every member, or split the change");
    }
    if (e.mayHaveApplied()) {
      throw zones::RedirectedWriteError(
          503, "Write outcome unknown",
          std::string("etcd did not confirm the write in time, and may still apply it; read it "
                      "back before sending it again (") +
              e.what() + ")");
    }
    throw zones::RedirectedWriteError(
        503, "No etcd quorum",
        std::string("this node cannot reach a quorum of etcd members, so nothing was written "
                    "(it keeps answering DNS from its replica): ") +
            e.what());
  }
  if (!result.succeeded) {
    int64_t newest = 0;
    if (!result.responses.empty() && !result.responses[0].range.kvs.empty()) {
      newest = result.responses[0].range.kvs[0].mod_revision;
    }
    // Run again once the replica holds the write that came first; if it
    // does not arrive in time, the next attempt races again and says so.
    replica_.waitApplied(newest, options_.apply_timeout);
    throw zones::WriteRaced("another write reached etcd at revision " + std::to_string(newest) +
                            ", after this node's replica at revision " +
                            std::to_string(base_revision));
  }
  if (!replica_.waitApplied(result.revision, options_.apply_timeout)) {
    throw zones::RedirectedWriteError(
        503, "Committed, not applied on this node",
        "etcd committed the write at revision " + std::to_string(result.revision) +
            ", but this node's replica has not applied it within " +
            std::to_string(options_.apply_timeout.count()) +
            " ms (see GET /api/v1/cluster); other nodes serve it. Do not send it again");
  }
}

}  // namespace meridian::cluster
