#pragma once
// etcd's v3 JSON gateway, request and reply bodies. The gateway maps each
// gRPC message to JSON with the .proto field names: bytes fields in base64,
// 64-bit integers as decimal strings, and fields at their default value (0,
// false, "", the PUT event type) left out. Reply decoders treat the reply as
// untrusted: a field of the wrong type, a bad number or bad base64 throws
// GatewayFormatError naming the field; a missing field is its default.
//
// Used by EtcdClient and EtcdWatch; pure functions, any thread.

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/etcd_types.h"

namespace meridian::cluster::gateway {

/// A reply that is not what etcd sends; the caller adds the endpoint.
class GatewayFormatError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// --- requests ---------------------------------------------------------------

nlohmann::json rangeRequest(const std::string& key, const RangeOptions& options);
nlohmann::json putRequest(const std::string& key, const std::string& value, int64_t lease);
nlohmann::json deleteRequest(const std::string& key, const std::string& range_end);
nlohmann::json txnRequest(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                          const std::vector<TxnOp>& failure);
/// A WatchRequest's create_request; start_revision 0 means "from now".
nlohmann::json watchCreateRequest(const std::string& key, const std::string& range_end,
                                  int64_t start_revision);

// --- replies ----------------------------------------------------------------

/// The gRPC status of a gateway error body: {"error": "...", "message":
/// "...", "code": N} from a unary call, or {"error": {"grpc_code": N,
/// "message": "..."}} inside a stream.
struct GatewayStatus {
  int code = -1;
  std::string message;
};
GatewayStatus decodeStatus(const nlohmann::json& body);

int64_t headerRevision(const nlohmann::json& reply);
RangeResult decodeRange(const nlohmann::json& reply);
DeleteResult decodeDelete(const nlohmann::json& reply);
TxnResult decodeTxn(const nlohmann::json& reply);
LeaseGrant decodeLeaseGrant(const nlohmann::json& reply);
/// A keep-alive stream's one reply: the TTL left, 0 when the lease is gone.
int64_t decodeKeepAliveTtl(const nlohmann::json& reply);
MemberStatus decodeMemberStatus(const nlohmann::json& reply);

/// One line of the watch stream.
struct WatchMessage {
  enum class Kind { kCreated, kEvents, kProgress, kCanceled, kError };
  Kind kind = Kind::kProgress;
  int64_t header_revision = 0;
  std::vector<WatchEvent> events;  // kEvents
  int64_t compact_revision = 0;    // kCanceled: > 0 when the start was compacted
  std::string reason;              // kCanceled, kError
  int grpc_code = -1;              // kError
};
WatchMessage decodeWatchLine(std::string_view line);

}  // namespace meridian::cluster::gateway
