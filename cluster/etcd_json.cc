#include "cluster/etcd_json.h"

#include <charconv>

#include "cluster/base64.h"

namespace meridian::cluster::gateway {

using nlohmann::json;

namespace {

std::string b64(const std::string& bytes) { return base64Encode(bytes); }

// --- reading untrusted replies ------------------------------------------------

const json* member(const json& object, const char* name) {
  if (!object.is_object()) throw GatewayFormatError("expected a JSON object");
  const auto it = object.find(name);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

const json& objectField(const json& object, const char* name) {
  static const json kEmpty = json::object();
  const json* value = member(object, name);
  if (value == nullptr) return kEmpty;
  if (!value->is_object()) throw GatewayFormatError(std::string("'") + name + "' is not an object");
  return *value;
}

// 64-bit integers arrive as strings ("12"); accept plain numbers too.
int64_t int64Field(const json& object, const char* name) {
  const json* value = member(object, name);
  if (value == nullptr) return 0;
  if (value->is_number_integer()) return value->get<int64_t>();
  if (!value->is_string()) throw GatewayFormatError(std::string("'") + name + "' is not a number");
  const auto& text = value->get_ref<const std::string&>();
  int64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw GatewayFormatError(std::string("'") + name + "' is not a decimal integer: '" +
                             text.substr(0, 40) + "'");
  }
  return number;
}

// Member ids are unsigned 64-bit.
uint64_t uint64Field(const json& object, const char* name) {
  const json* value = member(object, name);
  if (value == nullptr) return 0;
  if (value->is_number_unsigned()) return value->get<uint64_t>();
  if (!value->is_string()) throw GatewayFormatError(std::string("'") + name + "' is not a number");
  const auto& text = value->get_ref<const std::string&>();
  uint64_t number = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    throw GatewayFormatError(std::string("'") + name + "' is not an unsigned integer");
  }
  return number;
}

bool boolField(const json& object, const char* name) {
  const json* value = member(object, name);
  if (value == nullptr) return false;
  if (!value->is_boolean()) throw GatewayFormatError(std::string("'") + name + "' is not a boolean");
  return value->get<bool>();
}

std::string stringField(const json& object, const char* name) {
  const json* value = member(object, name);
  if (value == nullptr) return {};
  if (!value->is_string()) throw GatewayFormatError(std::string("'") + name + "' is not a string");
  return value->get<std::string>();
}

std::string bytesField(const json& object, const char* name) {
  const std::string text = stringField(object, name);
  auto bytes = base64Decode(text);
  if (!bytes) throw GatewayFormatError(std::string("'") + name + "' is not base64");
  return std::move(*bytes);
}

const json& arrayField(const json& object, const char* name) {
  static const json kEmpty = json::array();
  const json* value = member(object, name);
  if (value == nullptr) return kEmpty;
  if (!value->is_array()) throw GatewayFormatError(std::string("'") + name + "' is not an array");
  return *value;
}

KeyValue decodeKeyValue(const json& object) {
  KeyValue kv;
  kv.key = bytesField(object, "key");
  kv.value = bytesField(object, "value");
  kv.create_revision = int64Field(object, "create_revision");
  kv.mod_revision = int64Field(object, "mod_revision");
  kv.version = int64Field(object, "version");
  kv.lease = int64Field(object, "lease");
  return kv;
}

// --- writing requests -----------------------------------------------------------

const char* targetName(Compare::Target target) {
  switch (target) {
    case Compare::Target::kVersion: return "VERSION";
    case Compare::Target::kCreateRevision: return "CREATE";
    case Compare::Target::kModRevision: return "MOD";
    case Compare::Target::kValue: return "VALUE";
    case Compare::Target::kLease: return "LEASE";
  }
  return "MOD";
}

const char* resultName(Compare::Result result) {
  switch (result) {
    case Compare::Result::kEqual: return "EQUAL";
    case Compare::Result::kGreater: return "GREATER";
    case Compare::Result::kLess: return "LESS";
    case Compare::Result::kNotEqual: return "NOT_EQUAL";
  }
  return "EQUAL";
}

json compareJson(const Compare& c) {
  json out = {{"key", b64(c.key)}, {"target", targetName(c.target)}, {"result", resultName(c.result)}};
  if (!c.range_end.empty()) out["range_end"] = b64(c.range_end);
  const std::string number = std::to_string(c.number);
  switch (c.target) {
    case Compare::Target::kVersion: out["version"] = number; break;
    case Compare::Target::kCreateRevision: out["create_revision"] = number; break;
    case Compare::Target::kModRevision: out["mod_revision"] = number; break;
    case Compare::Target::kLease: out["lease"] = number; break;
    case Compare::Target::kValue: out["value"] = b64(c.value); break;
  }
  return out;
}

json opJson(const TxnOp& op) {
  switch (op.kind) {
    case TxnOp::Kind::kPut: return {{"request_put", putRequest(op.key, op.value, op.lease)}};
    case TxnOp::Kind::kDelete: return {{"request_delete_range", deleteRequest(op.key, op.range_end)}};
    case TxnOp::Kind::kRange: {
      RangeOptions options = op.range;
      options.prefix = false;
      options.range_end = op.range_end;
      return {{"request_range", rangeRequest(op.key, options)}};
    }
  }
  return json::object();
}

json opsJson(const std::vector<TxnOp>& ops) {
  json out = json::array();
  for (const TxnOp& op : ops) out.push_back(opJson(op));
  return out;
}

}  // namespace

json rangeRequest(const std::string& key, const RangeOptions& options) {
  json out = {{"key", b64(key)}};
  const std::string end = options.prefix ? prefixEnd(key) : options.range_end;
  if (!end.empty()) out["range_end"] = b64(end);
  if (options.revision != 0) out["revision"] = std::to_string(options.revision);
  if (options.limit != 0) out["limit"] = std::to_string(options.limit);
  if (options.keys_only) out["keys_only"] = true;
  if (options.count_only) out["count_only"] = true;
  if (options.serializable) out["serializable"] = true;
  return out;
}

json putRequest(const std::string& key, const std::string& value, int64_t lease) {
  json out = {{"key", b64(key)}, {"value", b64(value)}};
  if (lease != 0) out["lease"] = std::to_string(lease);
  return out;
}

json deleteRequest(const std::string& key, const std::string& range_end) {
  json out = {{"key", b64(key)}};
  if (!range_end.empty()) out["range_end"] = b64(range_end);
  return out;
}

json txnRequest(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                const std::vector<TxnOp>& failure) {
  json out = {{"compare", json::array()}, {"success", opsJson(success)}, {"failure", opsJson(failure)}};
  for (const Compare& c : compares) out["compare"].push_back(compareJson(c));
  return out;
}

json watchCreateRequest(const std::string& key, const std::string& range_end, int64_t start_revision) {
  json create = {{"key", b64(key)}};
  if (!range_end.empty()) create["range_end"] = b64(range_end);
  if (start_revision != 0) create["start_revision"] = std::to_string(start_revision);
  return {{"create_request", std::move(create)}};
}

GatewayStatus decodeStatus(const json& body) {
  GatewayStatus status;
  if (!body.is_object()) return status;
  const auto error = body.find("error");
  if (error != body.end() && error->is_object()) {  // in a stream
    const auto code = error->find("grpc_code");
    if (code != error->end() && code->is_number_integer()) status.code = code->get<int>();
    const auto message = error->find("message");
    if (message != error->end() && message->is_string()) status.message = message->get<std::string>();
    return status;
  }
  const auto code = body.find("code");
  if (code != body.end() && code->is_number_integer()) status.code = code->get<int>();
  for (const char* name : {"message", "error"}) {
    const auto text = body.find(name);
    if (text != body.end() && text->is_string() && !text->get_ref<const std::string&>().empty()) {
      status.message = text->get<std::string>();
      break;
    }
  }
  return status;
}

int64_t headerRevision(const json& reply) { return int64Field(objectField(reply, "header"), "revision"); }

RangeResult decodeRange(const json& reply) {
  RangeResult result;
  result.revision = headerRevision(reply);
  for (const json& kv : arrayField(reply, "kvs")) result.kvs.push_back(decodeKeyValue(kv));
  result.more = boolField(reply, "more");
  result.count = int64Field(reply, "count");
  return result;
}

DeleteResult decodeDelete(const json& reply) {
  return {headerRevision(reply), int64Field(reply, "deleted")};
}

TxnResult decodeTxn(const json& reply) {
  TxnResult result;
  result.revision = headerRevision(reply);
  result.succeeded = boolField(reply, "succeeded");
  for (const json& op : arrayField(reply, "responses")) {
    TxnOpResult one;
    if (const json* range = member(op, "response_range")) {
      one.kind = TxnOp::Kind::kRange;
      one.range = decodeRange(*range);
    } else if (const json* deleted = member(op, "response_delete_range")) {
      one.kind = TxnOp::Kind::kDelete;
      one.deleted = decodeDelete(*deleted).deleted;
    } else if (member(op, "response_put") != nullptr) {
      one.kind = TxnOp::Kind::kPut;
    } else {
      throw GatewayFormatError("a transaction response of an unknown kind");
    }
    result.responses.push_back(std::move(one));
  }
  return result;
}

LeaseGrant decodeLeaseGrant(const json& reply) {
  const std::string error = stringField(reply, "error");
  if (!error.empty()) throw GatewayFormatError("lease grant refused: " + error);
  LeaseGrant grant{int64Field(reply, "ID"), int64Field(reply, "TTL")};
  if (grant.id == 0) throw GatewayFormatError("lease grant without an ID");
  return grant;
}

int64_t decodeKeepAliveTtl(const json& reply) {
  return int64Field(objectField(reply, "result"), "TTL");
}

MemberStatus decodeMemberStatus(const json& reply) {
  MemberStatus status;
  status.member_id = uint64Field(objectField(reply, "header"), "member_id");
  status.revision = headerRevision(reply);
  status.leader = uint64Field(reply, "leader");
  status.raft_term = uint64Field(reply, "raftTerm");
  status.db_size = int64Field(reply, "dbSize");
  status.version = stringField(reply, "version");
  return status;
}

WatchMessage decodeWatchLine(std::string_view line) {
  const json doc = json::parse(line.begin(), line.end(), nullptr, false);
  if (doc.is_discarded()) throw GatewayFormatError("a watch stream line that is not JSON");
  WatchMessage message;
  if (member(doc, "error") != nullptr) {
    const GatewayStatus status = decodeStatus(doc);
    message.kind = WatchMessage::Kind::kError;
    message.grpc_code = status.code;
    message.reason = status.message.empty() ? std::string("an error without a message") : status.message;
    return message;
  }
  const json* result = member(doc, "result");
  if (result == nullptr) throw GatewayFormatError("a watch stream line without 'result'");
  message.header_revision = headerRevision(*result);
  for (const json& event : arrayField(*result, "events")) {
    WatchEvent one;
    const std::string type = stringField(event, "type");
    if (type == "DELETE") {
      one.type = WatchEvent::Type::kDelete;
    } else if (!type.empty() && type != "PUT") {
      throw GatewayFormatError("a watch event of unknown type '" + type.substr(0, 20) + "'");
    }
    one.kv = decodeKeyValue(objectField(event, "kv"));
    message.events.push_back(std::move(one));
  }
  if (boolField(*result, "canceled")) {
    message.kind = WatchMessage::Kind::kCanceled;
    message.compact_revision = int64Field(*result, "compact_revision");
    message.reason = stringField(*result, "cancel_reason");
  } else if (boolField(*result, "created")) {
    message.kind = WatchMessage::Kind::kCreated;
  } else if (!message.events.empty()) {
    message.kind = WatchMessage::Kind::kEvents;
  } else {
    message.kind = WatchMessage::Kind::kProgress;
  }
  return message;
}

}  // namespace meridian::cluster::gateway
