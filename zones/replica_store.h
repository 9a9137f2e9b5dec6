#pragma once
// The configuration as rows for cluster mode's replica (docs/architecture.md,
// "Cluster mode: the configuration replica"): every row of the configuration
// tables (zones, regions, steered_names, endpoints, latency_prefixes, and the
// pushed load in endpoint_load) becomes
// one key and one JSON value, and back. Records, the one table that grows to
// millions of rows, travel in chunks of kRecordChunkSpan consecutive ids:
//
//   key "zones/1"                     value {"id":1,"name":"example.com.",...}
//   key "record_chunks/0"             value {"records":[[42,1,"www.example.com.",1,300,"c0000201"],
//                                                       ...]}   (ids 0..63, by id)
//   key "latency_prefixes/3/81.2.69.0/24"  value
//   {"prefix":"81.2.69.0/24","region_id":3,"rtt_ms":12.5}
//
// A chunk row is an array in the records table's column order (id, zone_id,
// owner, type, ttl, rdata). A chunk's value is all its records, so a change
// of one record rewrites its chunk, and a chunk left empty is deleted.
// Keys are relative: cluster/ puts its etcd prefix in front. Rows keep their
// ids, so health rows (endpoint_id) and references (zone_id, region_id) mean
// the same on every node. Blobs are lowercase hex. Health and vantage rows
// are not configuration and are never dumped or touched.
//
// Threads: like Database, one thread at a time per connection.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "zones/database.h"

namespace meridian::zones {

/// Records per chunk key ("record_chunks/N": ids N*64 .. N*64+63). Small
/// enough that one record's change rewrites about 4 KB (64 rows of about
/// 70 bytes) and the largest possible chunk (64 rdata of 64 KiB, 8.4 MB as
/// hex) fits the request limit the README gives etcd; large enough that a
/// 1,000,000-record zone is 15,625 keys, not a million (why that matters:
/// docs/architecture.md, "Records in chunks").
inline constexpr int64_t kRecordChunkSpan = 64;

struct ReplicaRow {
  std::string key;    // "TABLE/PK", or "record_chunks/N"
  std::string value;  // the row as a JSON object, or the chunk's records
};

/// One change of one key; `value` empty (nullopt) for a deletion.
struct ReplicaChange {
  std::string key;
  std::optional<std::string> value;
};

/// Every configuration row, parents before children (zones and regions
/// first), records as chunks by id, in one read transaction.
std::vector<ReplicaRow> dumpReplicaRows(Database& db);

/// Applies the changes of one revision in one transaction (the last change
/// of a key counts): rows deleted or whose UNIQUE columns change are first
/// moved aside, then upserts run parents first, then deletions children
/// first, so any change between two valid states applies (names swapped or
/// reused, children moved off a deleted parent; replica_store.cc says why).
/// A chunk's value replaces the records of its 64 ids (a deletion: none).
/// Records `revision` as the applied revision and moves the generations
/// meridiand's reloader reads. Keys of tables this build does not know are
/// skipped; keys of the layout before chunks ("records/ID") are refused.
/// Throws ValidationError naming the key (and the chunk's row) for a value
/// that is not valid, or DatabaseError (nothing is applied then).
void applyReplicaChanges(Database& db, const std::vector<ReplicaChange>& changes, int64_t revision);

/// Makes the configuration tables hold exactly `rows`, in one transaction
/// and in the same order as applyReplicaChanges (rows not among them are
/// deleted; health rows of endpoints that stay are kept), and records
/// `revision`, and `config_serial` as the config serial
/// (negative: `revision`). Throws like applyReplicaChanges.
void replaceReplica(Database& db, std::vector<ReplicaRow> rows, int64_t revision,
                    int64_t config_serial = -1);

/// One page of a full load (loadReplica). The last page also carries the
/// revision of the state and its config serial (negative: the revision).
struct ReplicaPage {
  std::vector<ReplicaRow> rows;
  bool last = false;
  int64_t revision = 0;
  int64_t config_serial = -1;
};

/// replaceReplica with the rows arriving in pages: `next_page` is called
/// until it returns the last page, inside the one transaction. Record
/// chunks are written as each page arrives, so the caller can read the
/// next page from etcd meanwhile; the other rows at the end. Whatever
/// next_page throws rolls everything back and is rethrown.
void loadReplica(Database& db, const std::function<ReplicaPage()>& next_page);

/// Records which configuration rows a transaction changes (SQLite's session
/// extension), for cluster mode's writes (Database::redirectWrites). Create
/// it before the transaction begins; read changes() before it ends.
class ReplicaCapture {
 public:
  /// Throws DatabaseError when SQLite cannot record (no session support).
  explicit ReplicaCapture(Database& db);
  ~ReplicaCapture();
  ReplicaCapture(const ReplicaCapture&) = delete;
  ReplicaCapture& operator=(const ReplicaCapture&) = delete;

  /// Every configuration row changed so far in the open transaction, once
  /// (a row inserted and then updated is one change): its value as it is
  /// now, or nullopt for a row deleted, cascades included. Parents first
  /// for upserts, as dumpReplicaRows orders them.
  std::vector<ReplicaChange> changes();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The etcd revision last applied (meta key 'cluster_revision'); 0 when
/// this database has never been a replica.
int64_t replicaRevision(Database& db);

/// The configuration serial (docs/architecture.md, "The configuration
/// serial"): a number that moves with every change of the configuration
/// (zones, records, steered names, regions, endpoints, latency prefixes),
/// never with health. In a replica, the etcd revision of the last
/// configuration change it applied (meta 'cluster_config_serial'), the same
/// on every node that holds the same configuration; in a single-node file,
/// the config generation. Call inside the caller's read transaction to get
/// the serial of exactly what it reads.
int64_t configSerial(Database& db);

}  // namespace meridian::zones
