#pragma once
// DNS cookies (RFC 7873) with the interoperable server cookie of RFC 9018:
//
//   server cookie = Version (1) | Reserved (3 octets, 0) | Timestamp (4) | Hash (8)
//   Hash = SipHash-2-4(secret, client cookie | Version | Reserved | Timestamp | client IP)
//
// so that any node of a cluster (or another implementation) holding the same
// secret accepts a cookie another node minted. SipHash comes from OpenSSL 3's
// EVP_MAC. A cookie is valid for an hour and up to five minutes ahead
// (RFC 9018 4.3). Cookies are minted with the primary secret and accepted
// when made with the primary or the staging one, which is how a cluster
// rolls its secret without failing anyone (README: "DNS cookies").

#include <cstddef>
#include <cstdint>
#include <string>

struct evp_mac_st;
struct evp_mac_ctx_st;

namespace meridian::server {

inline constexpr size_t kCookieSecretLength = 16;  // SipHash-2-4 key
inline constexpr size_t kServerCookieLength = 16;  // what we mint (RFC 9018 4)
/// RFC 9018 4.3: accepted up to an hour old and five minutes ahead.
inline constexpr uint32_t kCookieMaxAgeSeconds = 3600;
inline constexpr uint32_t kCookieMaxAheadSeconds = 300;

struct CookieSecrets {
  uint8_t primary[kCookieSecretLength] = {};  // mints and verifies
  bool has_staging = false;
  uint8_t staging[kCookieSecretLength] = {};  // verifies only
};

/// Parses a --cookie-secret-file: the primary secret on the first line and
/// optionally a staging secret on the second, each 32 hex digits (16
/// octets); blank lines and lines starting with '#' are skipped. Throws
/// std::invalid_argument naming the line and the problem.
CookieSecrets parseCookieSecrets(const std::string& text);

/// A random primary secret (getrandom), no staging one: the default, so
/// cookies survive nothing but the process.
CookieSecrets randomCookieSecrets();

enum class CookieVerdict : uint8_t {
  kValid,  // ours (either secret), within the time window
  kStale,  // ours, but its timestamp is outside the window
  kBad,    // not ours: wrong length, version or hash
};

/// One query thread's SipHash state: an EVP_MAC_CTX per secret, keyed once
/// at construction. Construct and destroy off the query path (it allocates);
/// mint() and verify() run on the owning thread only and allocate nothing.
///
/// Why EVP_MAC on pre-keyed contexts: EVP_MAC_init(ctx, NULL, 0, NULL)
/// resets a keyed SipHash context to its key, and init/update/final then
/// make no allocation at all; checked with valgrind (the same heap total
/// for 1 and 1,000 hashes) and pinned by tests/server/cookies_test.cc,
/// which counts OpenSSL's own allocations with CRYPTO_set_mem_functions.
/// EVP_MAC_CTX_dup per query, the other way to get a keyed context,
/// allocates every time.
class CookieEngine {
 public:
  /// Throws std::runtime_error when OpenSSL has no SIPHASH.
  explicit CookieEngine(const CookieSecrets& secrets);
  ~CookieEngine();
  CookieEngine(const CookieEngine&) = delete;
  CookieEngine& operator=(const CookieEngine&) = delete;

  /// Writes a fresh 16-octet server cookie for this client cookie and client
  /// address (4 or 16 octets) at Unix time `now` into `out`.
  void mint(const uint8_t* client_cookie, const uint8_t* address, size_t address_length,
            uint32_t now, uint8_t* out) noexcept;

  /// Checks a server cookie the client sent back. The Reserved octets are
  /// hashed as received (RFC 9018 4.2), so another implementation's cookie
  /// made with our secret verifies too.
  CookieVerdict verify(const uint8_t* client_cookie, const uint8_t* server_cookie,
                       size_t server_cookie_length, const uint8_t* address, size_t address_length,
                       uint32_t now) noexcept;

 private:
  // SipHash-2-4 of `input` with the context's key, 8 octets into `out`.
  static bool hash(evp_mac_ctx_st* context, const uint8_t* input, size_t length,
                   uint8_t* out) noexcept;

  evp_mac_st* mac_ = nullptr;
  evp_mac_ctx_st* primary_ = nullptr;
  evp_mac_ctx_st* staging_ = nullptr;  // null without a staging secret
};

}  // namespace meridian::server
