#include "cluster/etcd_types.h"

#include <charconv>

namespace meridian::cluster {

std::string prefixEnd(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    const auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

Compare Compare::modRevision(std::string key, Result result, int64_t revision) {
  Compare c;
  c.key = std::move(key);
  c.target = Target::kModRevision;
  c.result = result;
  c.number = revision;
  return c;
}

Compare Compare::version(std::string key, Result result, int64_t version) {
  Compare c = modRevision(std::move(key), result, version);
  c.target = Target::kVersion;
  return c;
}

Compare Compare::createRevision(std::string key, Result result, int64_t revision) {
  Compare c = modRevision(std::move(key), result, revision);
  c.target = Target::kCreateRevision;
  return c;
}

Compare Compare::valueIs(std::string key, Result result, std::string value) {
  Compare c;
  c.key = std::move(key);
  c.target = Target::kValue;
  c.result = result;
  c.value = std::move(value);
  return c;
}

TxnOp TxnOp::put(std::string key, std::string value, int64_t lease) {
  TxnOp op;
  op.kind = Kind::kPut;
  op.key = std::move(key);
  op.value = std::move(value);
  op.lease = lease;
  return op;
}

TxnOp TxnOp::del(std::string key) {
  TxnOp op;
  op.kind = Kind::kDelete;
  op.key = std::move(key);
  return op;
}

TxnOp TxnOp::delPrefix(std::string prefix) {
  TxnOp op = del(std::move(prefix));
  op.range_end = prefixEnd(op.key);
  return op;
}

TxnOp TxnOp::get(std::string key, RangeOptions options) {
  TxnOp op;
  op.kind = Kind::kRange;
  op.key = std::move(key);
  op.range_end = options.prefix ? prefixEnd(op.key) : options.range_end;
  op.range = std::move(options);
  return op;
}

EtcdError::EtcdError(EtcdErrorKind kind, std::string endpoint, std::string message, int grpc_code)
    : std::runtime_error("etcd" + (endpoint.empty() ? std::string() : " " + endpoint) + ": " +
                         message +
                         (grpc_code >= 0 ? " (gRPC code " + std::to_string(grpc_code) + ")"
                                         : std::string())),
      kind_(kind),
      endpoint_(std::move(endpoint)),
      detail_(std::move(message)),
      grpc_code_(grpc_code) {}

EtcdErrorKind errorKindOf(int grpc_code, const std::string& message) {
  auto says = [&](const char* text) { return message.find(text) != std::string::npos; };
  switch (grpc_code) {
    case 1:   // Canceled: the stream or request was cut, usually a member going away
    case 4:   // DeadlineExceeded
    case 14:  // Unavailable: no leader, request timed out, leader changed, stopping
      return EtcdErrorKind::kUnavailable;
    case 3:  // InvalidArgument
      if (says("request is too large") || says("too many operations")) {
        return EtcdErrorKind::kTooLarge;
      }
      return EtcdErrorKind::kInvalid;
    case 5:  // NotFound
      return EtcdErrorKind::kNotFound;
    case 8:  // ResourceExhausted: gRPC's message limit (the space quota is kOther)
      return says("larger than max") ? EtcdErrorKind::kTooLarge : EtcdErrorKind::kOther;
    case 11:  // OutOfRange: compacted, or a future revision
      return says("compacted") ? EtcdErrorKind::kCompacted : EtcdErrorKind::kInvalid;
    default:
      return EtcdErrorKind::kOther;
  }
}

namespace {

bool validPort(std::string_view text) {
  unsigned port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  return ec == std::errc() && end == text.data() + text.size() && port >= 1 && port <= 65535;
}

std::string checkEndpoint(std::string url) {
  auto bad = [&](const std::string& why) {
    return std::invalid_argument("etcd endpoint '" + url + "': " + why +
                                 " (expected http://HOST:PORT or https://HOST:PORT)");
  };
  while (!url.empty() && url.back() == '/') url.pop_back();
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) throw bad("no scheme");
  const std::string scheme = url.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") throw bad("scheme '" + scheme + "' is not http or https");
  const std::string authority = url.substr(scheme_end + 3);
  if (authority.find_first_of("/?#@ ") != std::string::npos) {
    throw bad("only a host and a port may follow the scheme");
  }
  size_t port_colon;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos || close == 1) throw bad("unterminated IPv6 address");
    if (close + 1 >= authority.size() || authority[close + 1] != ':') throw bad("no port");
    port_colon = close + 1;
  } else {
    port_colon = authority.rfind(':');
    if (port_colon == std::string::npos) throw bad("no port");
    if (port_colon == 0) throw bad("no host");
    if (authority.find(':') != port_colon) throw bad("an IPv6 address needs [brackets]");
  }
  if (!validPort(std::string_view(authority).substr(port_colon + 1))) {
    throw bad("the port is not a number from 1 to 65535");
  }
  return url;
}

}  // namespace

std::vector<std::string> parseEndpoints(const std::string& list) {
  std::vector<std::string> endpoints;
  size_t start = 0;
  for (;;) {
    const size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? comma : comma - start);
    if (item.empty()) {
      throw std::invalid_argument("etcd endpoints '" + list + "': an empty URL in the list");
    }
    endpoints.push_back(checkEndpoint(std::move(item)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return endpoints;
}

}  // namespace meridian::cluster
