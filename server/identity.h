#pragma once
// Which node answered: the node name in an NSID option (RFC 5001) and in
// the TXT answer to CH TXT id.server and hostname.bind (RFC 4892 and BIND's
// convention). The wire forms are built once at start (makeNodeIdentity);
// the query path only copies bytes, never allocates.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace meridian::server {

struct AnswerOutcome;
struct QueryContext;

/// The node name and whether to tell it. Plain bytes, so AnswerSettings
/// (copied into every QueryContext) stays allocation-free.
struct NodeIdentity {
  /// A host name label's length, and short enough for one TXT string.
  static constexpr size_t kMaxName = 63;
  bool enabled = false;
  uint8_t length = 0;
  char name[kMaxName] = {};

  std::string_view view() const { return {name, length}; }
};

/// The host name (gethostname), cut at the first dot ("ns1.example.net" ->
/// "ns1") when the whole is not a valid node name; "meridian" when there is
/// none. Any thread.
std::string defaultNodeName();

/// Throws std::invalid_argument saying what is wrong unless `name` is 1 to
/// 63 characters of letters, digits, '-', '_' and '.' (it is also the etcd
/// key /meridian/v1/nodes/NAME, so no '/').
void checkNodeName(std::string_view name);

/// `name` (checked as above) ready for the query path.
NodeIdentity makeNodeIdentity(std::string_view name, bool enabled);

/// Octets the NSID option takes in the OPT record: 4 + the name.
inline size_t nsidOptionSize(const NodeIdentity& identity) noexcept {
  return 4u + identity.length;
}

/// Writes the NSID option (code 3, the name) at `out`, which has room for
/// nsidOptionSize(); returns the octets written. Query threads; no
/// allocation.
size_t writeNsidOption(const NodeIdentity& identity, uint8_t* out) noexcept;

/// When identity is on and the question is CH id.server or hostname.bind,
/// answers it (TXT: the node name, TTL 0, AA; another type: NODATA) into
/// `outcome` and returns true; otherwise changes nothing and returns false
/// (the question is answered as before: other CH names are REFUSED).
/// Query threads; no allocation.
bool answerIdentity(QueryContext& context, AnswerOutcome& outcome) noexcept;

}  // namespace meridian::server
