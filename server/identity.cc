#include "server/identity.h"

#include <unistd.h>

#include <cstring>
#include <stdexcept>

#include "server/answer.h"
#include "server/query_handler.h"

namespace meridian::server {

namespace {

bool nameCharacter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// The names that ask for the server's identity, lowercase wire form (the
// parser lowercases the question).
constexpr uint8_t kIdServer[] = {2, 'i', 'd', 6, 's', 'e', 'r', 'v', 'e', 'r', 0};
constexpr uint8_t kHostnameBind[] = {8, 'h', 'o', 's', 't', 'n', 'a', 'm', 'e', 4, 'b', 'i', 'n', 'd', 0};

bool sameName(const uint8_t* a, size_t a_length, const uint8_t* b, size_t b_length) noexcept {
  return a_length == b_length && std::memcmp(a, b, a_length) == 0;
}

}  // namespace

void checkNodeName(std::string_view name) {
  if (name.empty()) throw std::invalid_argument("is empty");
  if (name.size() > NodeIdentity::kMaxName) {
    throw std::invalid_argument("has " + std::to_string(name.size()) + " characters; at most " +
                                std::to_string(NodeIdentity::kMaxName) + " are allowed");
  }
  for (char c : name) {
    if (!nameCharacter(c)) {
      throw std::invalid_argument(
          std::string("holds '") + c +
          "'; a node name is letters, digits, '-', '_' and '.' (it is an etcd key)");
    }
  }
}

std::string defaultNodeName() {
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0 || host[0] == '\0') return "meridian";
  std::string name(host);
  try {
    checkNodeName(name);
    return name;
  } catch (const std::invalid_argument&) {
  }
  name = name.substr(0, name.find('.'));
  try {
    checkNodeName(name);
    return name;
  } catch (const std::invalid_argument&) {
    return "meridian";
  }
}

NodeIdentity makeNodeIdentity(std::string_view name, bool enabled) {
  checkNodeName(name);
  NodeIdentity identity;
  identity.enabled = enabled;
  identity.length = static_cast<uint8_t>(name.size());
  std::memcpy(identity.name, name.data(), name.size());
  return identity;
}

size_t writeNsidOption(const NodeIdentity& identity, uint8_t* out) noexcept {
  wire::writeU16(out, wire::edns::kOptionNsid);
  wire::writeU16(out + 2, identity.length);
  std::memcpy(out + 4, identity.name, identity.length);
  return nsidOptionSize(identity);
}

bool answerIdentity(QueryContext& context, AnswerOutcome& outcome) noexcept {
  const NodeIdentity& identity = context.settings.identity;
  const wire::Query& q = context.query;
  if (!identity.enabled || q.qclass != wire::qclass::CH) return false;
  if (!sameName(q.qname, q.qname_length, kIdServer, sizeof kIdServer) &&
      !sameName(q.qname, q.qname_length, kHostnameBind, sizeof kHostnameBind)) {
    return false;
  }
  outcome = AnswerOutcome{};
  if (q.qtype != wire::type::TXT && q.qtype != wire::type::ANY) return true;  // NODATA
  // Owner (a pointer to the question), TXT CH, TTL 0 (never cached: it
  // names whichever node answered), one character-string.
  wire::MessageWriter& w = context.writer;
  const size_t start = w.size();
  uint8_t fixed[11];
  wire::writeU16(fixed, wire::type::TXT);
  wire::writeU16(fixed + 2, wire::qclass::CH);
  wire::writeU32(fixed + 4, 0);
  wire::writeU16(fixed + 8, static_cast<uint16_t>(1 + identity.length));
  fixed[10] = identity.length;
  if (!w.writeName(q.qname, q.qname_length) || !w.writeBytes(fixed, sizeof fixed) ||
      !w.writeBytes(identity.name, identity.length)) {
    w.rewind(start);
    outcome.truncated = true;
    return true;
  }
  outcome.answer_count = 1;
  return true;
}

}  // namespace meridian::server
