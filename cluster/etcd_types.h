#pragma once
// The values meridian_cluster's etcd client passes around: keys and values
// (raw bytes in std::string; the JSON gateway's base64 is handled inside),
// range options, transaction compares and operations, and EtcdError, the one
// exception every call throws.
//
// Plain data; any thread may use them.

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace meridian::cluster {

/// One key as etcd stores it (mvccpb.KeyValue).
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;  // revision of the put that created the key
  int64_t mod_revision = 0;     // revision of the last change
  int64_t version = 0;          // changes since creation (1 after the first put)
  int64_t lease = 0;            // lease the key is attached to, 0 for none
};

/// The end of a range that holds every key starting with `prefix`, as etcd
/// defines it: the prefix with its last byte that is not 0xff incremented
/// and the rest dropped ("a/" -> "a0", "a\xff" -> "b"); "\0" (every key from
/// the start key on) when no such byte exists or the prefix is empty.
std::string prefixEnd(const std::string& prefix);

struct RangeOptions {
  /// Keys in [key, range_end); empty: the key alone. Ignored when `prefix`.
  std::string range_end;
  bool prefix = false;     // every key starting with the key
  int64_t revision = 0;    // read as of this revision; 0: the latest
  int64_t limit = 0;       // at most this many keys; 0: all
  bool keys_only = false;  // values left empty
  bool count_only = false;
  /// Answered from the member's local state, without a quorum round: may be
  /// stale, and works on a member that has lost its leader.
  bool serializable = false;
};

struct RangeResult {
  int64_t revision = 0;  // the store's revision when read (header.revision)
  std::vector<KeyValue> kvs;
  bool more = false;  // the limit cut the answer short
  int64_t count = 0;  // keys in the whole range, whatever the limit
};

struct DeleteResult {
  int64_t revision = 0;
  int64_t deleted = 0;
};

/// A condition of a transaction (etcdserverpb.Compare).
struct Compare {
  enum class Target { kVersion, kCreateRevision, kModRevision, kValue, kLease };
  enum class Result { kEqual, kGreater, kLess, kNotEqual };
  std::string key;
  std::string range_end;  // empty: the key alone
  Target target = Target::kModRevision;
  Result result = Result::kEqual;
  int64_t number = 0;  // for every target but kValue
  std::string value;   // for kValue

  /// "key's last change was at `revision`" (0: the key does not exist).
  static Compare modRevision(std::string key, Result result, int64_t revision);
  /// "key has been put `version` times since created" (0: does not exist).
  static Compare version(std::string key, Result result, int64_t version);
  static Compare createRevision(std::string key, Result result, int64_t revision);
  static Compare valueIs(std::string key, Result result, std::string value);
};

/// One operation inside a transaction's success or failure branch.
struct TxnOp {
  enum class Kind { kPut, kDelete, kRange };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;      // kPut
  int64_t lease = 0;      // kPut
  std::string range_end;  // kDelete, kRange: empty means the key alone
  RangeOptions range;     // kRange (its range_end/prefix are folded into range_end)

  static TxnOp put(std::string key, std::string value, int64_t lease = 0);
  static TxnOp del(std::string key);
  static TxnOp delPrefix(std::string prefix);
  static TxnOp get(std::string key, RangeOptions options = {});
};

/// What one TxnOp did: `range` for kRange, `deleted` for kDelete.
struct TxnOpResult {
  TxnOp::Kind kind = TxnOp::Kind::kPut;
  RangeResult range;
  int64_t deleted = 0;
};

struct TxnResult {
  bool succeeded = false;  // the compares held and the success branch ran
  int64_t revision = 0;    // the store's revision after the transaction
  std::vector<TxnOpResult> responses;  // one per op of the branch that ran
};

struct LeaseGrant {
  int64_t id = 0;
  int64_t ttl_seconds = 0;  // what etcd granted (it raises a TTL below its minimum)
};

/// One member's view of itself (maintenance Status, asked of that member).
struct MemberStatus {
  std::string endpoint;
  uint64_t member_id = 0;
  uint64_t leader = 0;  // the leader's member id; 0: the member knows no leader
  uint64_t raft_term = 0;
  int64_t revision = 0;
  int64_t db_size = 0;
  std::string version;
};

/// One change seen by a watch.
struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for kDelete: the key and the deleting revision (mod_revision)
};

/// The events of one or more whole revisions, in revision order: etcd never
/// splits a revision's events across two batches.
struct WatchBatch {
  int64_t revision = 0;  // the store's revision when sent (header.revision)
  std::vector<WatchEvent> events;
};

/// Everything that can go wrong talking to etcd.
enum class EtcdErrorKind {
  kUnavailable,  // no endpoint answered, no leader, timed out: may work later
  kCompacted,    // the revision asked for is compacted: read everything again
  kTooLarge,     // over etcd's request size (--max-request-bytes) or txn op limit
  kNotFound,     // etcd said not found (a lease that expired or was revoked)
  kInvalid,      // etcd refused the request (bad argument, future revision)
  kProtocol,     // the reply is not what etcd sends
  kOther,
};

/// Names the endpoint and what etcd said, e.g.
/// "etcd http://198.18.3.11:2379: etcdserver: request is too large (gRPC code 3)".
class EtcdError : public std::runtime_error {
 public:
  EtcdError(EtcdErrorKind kind, std::string endpoint, std::string message, int grpc_code = -1);

  EtcdErrorKind kind() const { return kind_; }
  const std::string& endpoint() const { return endpoint_; }
  /// What etcd (or curl) said, without the endpoint.
  const std::string& detail() const { return detail_; }
  int grpcCode() const { return grpc_code_; }
  /// For kCompacted from a watch: the oldest revision still available.
  int64_t compactRevision() const { return compact_revision_; }
  void setCompactRevision(int64_t revision) { compact_revision_ = revision; }
  /// A write that timed out or lost its connection after it was sent: etcd
  /// may still commit it. False for reads and for writes known not applied.
  bool mayHaveApplied() const { return may_have_applied_; }
  void setMayHaveApplied(bool value) { may_have_applied_ = value; }

 private:
  EtcdErrorKind kind_;
  std::string endpoint_;
  std::string detail_;
  int grpc_code_;
  int64_t compact_revision_ = 0;
  bool may_have_applied_ = false;
};

/// The kind for a gRPC status code and message as etcd returns them
/// (OutOfRange "...compacted" -> kCompacted, InvalidArgument "...too large"
/// -> kTooLarge, Unavailable -> kUnavailable, ...).
EtcdErrorKind errorKindOf(int grpc_code, const std::string& message);

/// Parses "http://host:port[,http://host:port...]" (https too). Each URL
/// needs a host and a port; a trailing slash is dropped. Throws
/// std::invalid_argument naming the bad URL.
std::vector<std::string> parseEndpoints(const std::string& list);

}  // namespace meridian::cluster
