#pragma once
// Helpers shared by the tests: build queries, decode responses with ldns into
// plain values that doctest can compare, and make throwaway databases.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace meridian::test {

/// A query built by hand, so tests control every byte.
struct QueryOptions {
  uint16_t id = 0x1234;
  uint16_t qtype = 1;
  uint16_t qclass = 1;
  bool rd = false;
  bool edns = false;
  uint16_t udp_payload = 1232;
  uint8_t edns_version = 0;
  bool dnssec_ok = false;
  // ECS: family 1/2, source prefix and address octets as sent (may be wrong on purpose).
  bool ecs = false;
  uint16_t ecs_family = 1;
  uint8_t ecs_source = 24;
  uint8_t ecs_scope = 0;
  std::vector<uint8_t> ecs_address;
  // COOKIE option data (client cookie, then server cookie), sent as given
  // (any length, to test bad ones) when set; needs `edns`.
  std::optional<std::vector<uint8_t>> cookie;
  // NSID option data (RFC 5001: empty asks for the server's id), when set;
  // needs `edns`.
  std::optional<std::vector<uint8_t>> nsid;
};

/// Encodes a query for `name` (presentation text, case kept as given).
std::vector<uint8_t> makeQuery(const std::string& name, const QueryOptions& options = {});

/// A decoded response: header fields and each section as "owner ttl TYPE rdata" lines.
struct Response {
  bool ok = false;  // ldns could decode it
  uint16_t id = 0;
  uint16_t rcode = 0;  // extended, when an OPT is present
  bool qr = false, aa = false, tc = false, rd = false;
  std::string question;  // "name TYPE"
  std::vector<std::string> answer, authority, additional;
  bool has_opt = false;
  uint16_t opt_payload = 0;
  // ECS echoed in the response, when present.
  bool has_ecs = false;
  uint16_t ecs_family = 0;
  uint8_t ecs_source = 0, ecs_scope = 0;
  std::vector<uint8_t> ecs_address;
  // COOKIE option in the response, when present: its data as sent.
  bool has_cookie = false;
  std::vector<uint8_t> cookie;
  // NSID option in the response, when present: its data as text.
  bool has_nsid = false;
  std::string nsid;
};

Response decode(const uint8_t* data, size_t length);
inline Response decode(const std::vector<uint8_t>& bytes) { return decode(bytes.data(), bytes.size()); }

/// `prefix` followed by `n` in decimal: numbered("h", 3) == "h3". Not
/// "h" + std::to_string(n): g++ 12 at -O3 falsely warns (-Wrestrict, GCC
/// bug 105329) on a short literal plus a temporary string.
inline std::string numbered(std::string prefix, long n) {
  prefix += std::to_string(n);
  return prefix;
}

/// A fresh path under the system temp dir, removed (with -wal/-shm) by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Writes `content` to `path`.
void writeFile(const std::string& path, const std::string& content);

}  // namespace meridian::test
