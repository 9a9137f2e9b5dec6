#include "cluster/etcd_client.h"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <utility>

#include "cluster/etcd_json.h"

namespace meridian::cluster {

using nlohmann::json;

namespace {

// Idle sessions kept for reuse; more concurrent callers than this still
// work, their extra sessions are closed afterwards.
constexpr size_t kMaxIdleSessions = 8;

// What to show of a reply that is not JSON: printable ASCII, at most 80.
std::string snippet(const std::string& body) {
  std::string out;
  for (char c : body.substr(0, 80)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

bool isNoLeader(const std::string& message) {
  return message.find("no leader") != std::string::npos;
}

// Decoders throw GatewayFormatError; the caller knows the endpoint.
template <typename Decode>
auto decodeFrom(const std::string& endpoint, Decode decode) {
  try {
    return decode();
  } catch (const gateway::GatewayFormatError& e) {
    throw EtcdError(EtcdErrorKind::kProtocol, endpoint, std::string("unexpected reply: ") + e.what());
  }
}

}  // namespace

// One HttpSession borrowed from the pool for the length of a call.
class EtcdClient::SessionLease {
 public:
  explicit SessionLease(EtcdClient& client) : client_(client) {
    {
      std::lock_guard lock(client_.sessions_mutex_);
      if (!client_.idle_sessions_.empty()) {
        session_ = std::move(client_.idle_sessions_.back());
        client_.idle_sessions_.pop_back();
      }
    }
    if (!session_) session_ = std::make_unique<HttpSession>();
  }
  ~SessionLease() {
    std::lock_guard lock(client_.sessions_mutex_);
    if (client_.idle_sessions_.size() < kMaxIdleSessions) {
      client_.idle_sessions_.push_back(std::move(session_));
    }
  }
  SessionLease(const SessionLease&) = delete;
  SessionLease& operator=(const SessionLease&) = delete;
  HttpSession* operator->() { return session_.get(); }

 private:
  EtcdClient& client_;
  std::unique_ptr<HttpSession> session_;
};

EtcdClient::EtcdClient(EtcdClientOptions options) : options_(std::move(options)) {
  if (options_.endpoints.empty()) throw std::invalid_argument("etcd client: no endpoint given");
  std::string list;
  for (const std::string& endpoint : options_.endpoints) list += (list.empty() ? "" : ",") + endpoint;
  options_.endpoints = parseEndpoints(list);  // checks each URL, drops trailing slashes
  if (options_.connect_timeout.count() <= 0 || options_.request_timeout.count() <= 0) {
    throw std::invalid_argument("etcd client: timeouts must be positive");
  }
  limits_ = {options_.connect_timeout, options_.request_timeout, options_.max_reply_bytes};
  curlGlobalInit();
}

EtcdClient::~EtcdClient() = default;

std::string EtcdClient::preferredEndpoint() const {
  return options_.endpoints[preferred_.load() % options_.endpoints.size()];
}

json EtcdClient::callOne(const std::string& endpoint, const char* path, const std::string& body,
                         Kind kind) {
  HttpResult reply;
  {
    SessionLease session(*this);
    reply = session->post(endpoint + path, body, limits_, kind != Kind::kLocalRead);
  }
  if (reply.too_large) {
    throw EtcdError(EtcdErrorKind::kTooLarge, endpoint,
                    "the reply is larger than the client's limit of " +
                        std::to_string(limits_.max_reply_bytes) +
                        " bytes (read a large range in pages with RangeOptions::limit)");
  }
  if (reply.curl != CURLE_OK) {
    EtcdError error(EtcdErrorKind::kUnavailable, endpoint, reply.curl_error);
    error.setMayHaveApplied(kind == Kind::kWrite && reply.sent);
    throw error;
  }
  json doc = json::parse(reply.body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    throw EtcdError(EtcdErrorKind::kProtocol, endpoint,
                    "HTTP " + std::to_string(reply.status) + " with a reply that is not a JSON object: '" +
                        snippet(reply.body) + "'");
  }
  if (reply.status != 200) {
    const gateway::GatewayStatus status = gateway::decodeStatus(doc);
    if (status.code < 0) {
      throw EtcdError(EtcdErrorKind::kProtocol, endpoint,
                      "HTTP " + std::to_string(reply.status) + " without a gRPC status: '" +
                          snippet(reply.body) + "'");
    }
    const EtcdErrorKind error_kind = errorKindOf(status.code, status.message);
    EtcdError error(error_kind, endpoint, status.message, status.code);
    // "no leader" is refused before anything is proposed; other unavailable
    // answers (request timed out, leader changed) may still commit.
    error.setMayHaveApplied(kind == Kind::kWrite && error_kind == EtcdErrorKind::kUnavailable &&
                            !isNoLeader(status.message));
    throw error;
  }
  return doc;
}

json EtcdClient::call(const char* path, const json& body, Kind kind, std::string* answered_by) {
  const std::string text = body.dump();
  const size_t count = options_.endpoints.size();
  const size_t first = preferred_.load() % count;
  std::string failures;
  for (size_t i = 0; i < count; ++i) {
    const size_t index = (first + i) % count;
    const std::string& endpoint = options_.endpoints[index];
    try {
      json reply = callOne(endpoint, path, text, kind);
      if (index != first) preferred_.store(index);
      if (answered_by != nullptr) *answered_by = endpoint;
      return reply;
    } catch (const EtcdError& e) {
      const bool unavailable = e.kind() == EtcdErrorKind::kUnavailable;
      if (!unavailable || e.mayHaveApplied() || count == 1) {
        // The next call starts with another endpoint than one that did not
        // answer (this call cannot move on: its write may be applied).
        if (unavailable) preferred_.store((index + 1) % count);
        throw;
      }
      failures += (failures.empty() ? "" : "; ") + endpoint + ": " + e.detail();
    }
  }
  // Start the next call with the endpoint after this one's first.
  preferred_.store((first + 1) % count);
  throw EtcdError(EtcdErrorKind::kUnavailable, "", "no endpoint answered: " + failures);
}

RangeResult EtcdClient::get(const std::string& key, const RangeOptions& options) {
  std::string endpoint;
  const json reply = call("/v3/kv/range", gateway::rangeRequest(key, options),
                          options.serializable ? Kind::kLocalRead : Kind::kRead, &endpoint);
  return decodeFrom(endpoint, [&] { return gateway::decodeRange(reply); });
}

int64_t EtcdClient::put(const std::string& key, const std::string& value, int64_t lease) {
  std::string endpoint;
  const json reply = call("/v3/kv/put", gateway::putRequest(key, value, lease), Kind::kWrite, &endpoint);
  return decodeFrom(endpoint, [&] { return gateway::headerRevision(reply); });
}

DeleteResult EtcdClient::del(const std::string& key, bool prefix) {
  std::string endpoint;
  const json reply = call("/v3/kv/deleterange",
                          gateway::deleteRequest(key, prefix ? prefixEnd(key) : std::string()),
                          Kind::kWrite, &endpoint);
  return decodeFrom(endpoint, [&] { return gateway::decodeDelete(reply); });
}

TxnResult EtcdClient::txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                          const std::vector<TxnOp>& failure) {
  std::string endpoint;
  const json reply = call("/v3/kv/txn", gateway::txnRequest(compares, success, failure), Kind::kWrite,
                          &endpoint);
  return decodeFrom(endpoint, [&] { return gateway::decodeTxn(reply); });
}

LeaseGrant EtcdClient::leaseGrant(std::chrono::seconds ttl) {
  if (ttl.count() <= 0) throw std::invalid_argument("etcd lease TTL must be at least 1 second");
  std::string endpoint;
  const json reply =
      call("/v3/lease/grant", json{{"TTL", std::to_string(ttl.count())}}, Kind::kWrite, &endpoint);
  return decodeFrom(endpoint, [&] { return gateway::decodeLeaseGrant(reply); });
}

int64_t EtcdClient::leaseKeepAlive(int64_t lease_id) {
  std::string endpoint;
  const json reply =
      call("/v3/lease/keepalive", json{{"ID", std::to_string(lease_id)}}, Kind::kRead, &endpoint);
  // A stream: its errors come inside an HTTP 200 as {"error": {...}}.
  if (reply.contains("error")) {
    const gateway::GatewayStatus status = gateway::decodeStatus(reply);
    throw EtcdError(errorKindOf(status.code, status.message), endpoint, status.message, status.code);
  }
  return decodeFrom(endpoint, [&] { return gateway::decodeKeepAliveTtl(reply); });
}

void EtcdClient::leaseRevoke(int64_t lease_id) {
  try {
    call("/v3/lease/revoke", json{{"ID", std::to_string(lease_id)}}, Kind::kRead);
  } catch (const EtcdError& e) {
    if (e.kind() != EtcdErrorKind::kNotFound) throw;
  }
}

void EtcdClient::compact(int64_t revision, bool physical) {
  json body = {{"revision", std::to_string(revision)}};
  if (physical) body["physical"] = true;
  call("/v3/kv/compaction", body, Kind::kWrite);
}

MemberStatus EtcdClient::status(const std::string& endpoint) {
  const json reply = callOne(endpoint, "/v3/maintenance/status", "{}", Kind::kLocalRead);
  MemberStatus status = decodeFrom(endpoint, [&] { return gateway::decodeMemberStatus(reply); });
  status.endpoint = endpoint;
  return status;
}

}  // namespace meridian::cluster
