#pragma once
// A small etcd v3 client over etcd's JSON gateway (HTTP/1.1 + JSON through
// libcurl; docs/architecture.md, "Cluster mode: the etcd client", says why
// not gRPC). Keys and values are raw bytes in std::string.
//
// Endpoints: every call starts at the endpoint that last answered and moves
// on to the next when one does not answer. A read (range, status, lease
// keep-alive/revoke) is tried on every endpoint in turn. A write (put,
// delete, txn, lease grant, compact) moves on only when etcd certainly did
// not get it (the connection was refused, or the member answered "no
// leader"); once sent, a timeout or a cut connection throws an EtcdError
// with mayHaveApplied(), since etcd may still commit it.
//
// Errors: every call throws EtcdError naming the endpoint and what etcd
// said; when no endpoint answered, the message lists each endpoint's error.
//
// Threads: any thread may call any method, concurrently; each call borrows
// an HTTP session of its own (kept between calls, so connections are reused).
// Every call blocks for at most about request_timeout per endpoint tried.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "cluster/etcd_http.h"
#include "cluster/etcd_types.h"

namespace meridian::cluster {

struct EtcdClientOptions {
  /// "http://host:port" URLs (parseEndpoints checks a --etcd list); the
  /// order is the preference order.
  std::vector<std::string> endpoints;
  std::chrono::milliseconds connect_timeout{1000};
  /// For one request on one endpoint. A linearizable request on a member
  /// that has just lost its leader waits up to this long.
  std::chrono::milliseconds request_timeout{5000};
  /// A reply larger than this is an error (a range over a huge prefix
  /// should use RangeOptions::limit and page).
  size_t max_reply_bytes = 256u << 20;
};

class EtcdClient {
 public:
  /// Throws std::invalid_argument when there is no endpoint or one is not an
  /// http(s)://HOST:PORT URL. Does not connect.
  explicit EtcdClient(EtcdClientOptions options);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  const EtcdClientOptions& options() const { return options_; }

  /// The key (or the range/prefix in `options`) as of options.revision.
  RangeResult get(const std::string& key, const RangeOptions& options = {});
  /// Returns the revision of the put.
  int64_t put(const std::string& key, const std::string& value, int64_t lease = 0);
  /// Deletes the key, or every key starting with it when `prefix`.
  DeleteResult del(const std::string& key, bool prefix = false);
  /// Runs `success` if every compare holds, else `failure`, atomically at one
  /// revision. "Apply these puts only if the config revision is still R":
  ///   txn({Compare::modRevision("cfg/rev", Compare::Result::kEqual, R)}, puts)
  /// and result.succeeded == false means someone else wrote first.
  TxnResult txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                const std::vector<TxnOp>& failure = {});

  /// Grants a lease; etcd raises a TTL below its minimum (about 2 s by default).
  LeaseGrant leaseGrant(std::chrono::seconds ttl);
  /// Renews the lease once; returns the TTL left, 0 when the lease is gone
  /// (expired or revoked).
  int64_t leaseKeepAlive(int64_t lease_id);
  /// Revokes the lease and deletes its keys. A lease already gone is not an
  /// error.
  void leaseRevoke(int64_t lease_id);

  /// Discards the history before `revision` (physical: waits until the
  /// member has removed it). Watches and reads from before it then fail
  /// with kCompacted.
  void compact(int64_t revision, bool physical = true);

  /// Asks one endpoint (not necessarily one of options().endpoints) about
  /// its own member; no failover. A member without a leader answers too
  /// (leader 0).
  MemberStatus status(const std::string& endpoint);

  /// The endpoint the next call starts with.
  std::string preferredEndpoint() const;

 private:
  // kRead: safe to try on every endpoint. kLocalRead: the same, and a
  // member without a leader may answer it alone. kWrite: see above.
  enum class Kind { kRead, kLocalRead, kWrite };
  class SessionLease;
  /// POSTs `body` to `path` by the failover rule above; returns the decoded
  /// reply of the endpoint that answered, with that endpoint.
  nlohmann::json call(const char* path, const nlohmann::json& body, Kind kind,
                      std::string* answered_by = nullptr);
  nlohmann::json callOne(const std::string& endpoint, const char* path, const std::string& body,
                         Kind kind);

  EtcdClientOptions options_;
  HttpLimits limits_;
  std::atomic<size_t> preferred_{0};
  mutable std::mutex sessions_mutex_;
  std::vector<std::unique_ptr<HttpSession>> idle_sessions_;
};

}  // namespace meridian::cluster
