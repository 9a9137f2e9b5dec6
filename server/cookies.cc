#include "server/cookies.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <sstream>
#include <stdexcept>

namespace meridian::server {

namespace {

constexpr uint8_t kVersion = 1;               // RFC 9018 4.1
constexpr size_t kHashOffset = 8;             // Version, Reserved, Timestamp come first
constexpr size_t kHashInputMax = 8 + 8 + 16;  // client cookie, 8 header octets, IPv6

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// 32 hex digits into 16 octets, or an error naming the line.
void parseSecret(const std::string& text, size_t line, uint8_t* out) {
  const std::string where = "line " + std::to_string(line) + ": ";
  if (text.size() != 2 * kCookieSecretLength) {
    throw std::invalid_argument(where + "a secret is 32 hex digits (16 octets), got " +
                                std::to_string(text.size()) + " characters");
  }
  for (size_t i = 0; i < kCookieSecretLength; ++i) {
    const int high = hexValue(text[2 * i]);
    const int low = hexValue(text[2 * i + 1]);
    if (high < 0 || low < 0)
      throw std::invalid_argument(where + "not a hex digit in \"" + text + "\"");
    out[i] = static_cast<uint8_t>(high << 4 | low);
  }
}

evp_mac_ctx_st* keyedContext(EVP_MAC* mac, const uint8_t* key) {
  EVP_MAC_CTX* context = EVP_MAC_CTX_new(mac);
  if (context == nullptr) throw std::runtime_error("cookies: EVP_MAC_CTX_new failed");
  // SipHash's default output is 16 octets; RFC 9018 uses SipHash-2-4's
  // 64-bit output (c = 2, d = 4 are OpenSSL's defaults).
  size_t size = 8;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                               OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(context, key, kCookieSecretLength, params) != 1) {
    EVP_MAC_CTX_free(context);
    throw std::runtime_error("cookies: cannot key SipHash-2-4");
  }
  return context;
}

}  // namespace

CookieSecrets parseCookieSecrets(const std::string& text) {
  CookieSecrets secrets;
  std::istringstream in(text);
  std::string line;
  size_t number = 0;
  int found = 0;
  while (std::getline(in, line)) {
    ++number;
    const size_t begin = line.find_first_not_of(" \t\r");
    if (begin == std::string::npos || line[begin] == '#') continue;
    const std::string secret = line.substr(begin, line.find_last_not_of(" \t\r") + 1 - begin);
    if (found == 2) {
      throw std::invalid_argument("line " + std::to_string(number) +
                                  ": more than two secrets (primary, then staging)");
    }
    parseSecret(secret, number, found == 0 ? secrets.primary : secrets.staging);
    ++found;
  }
  if (found == 0) throw std::invalid_argument("no secret (32 hex digits) in the file");
  secrets.has_staging = found == 2;
  return secrets;
}

CookieSecrets randomCookieSecrets() {
  CookieSecrets secrets;
  if (getrandom(secrets.primary, sizeof secrets.primary, 0) !=
      static_cast<ssize_t>(sizeof secrets.primary)) {
    throw std::runtime_error(std::string("cookies: getrandom: ") + std::strerror(errno));
  }
  return secrets;
}

CookieEngine::CookieEngine(const CookieSecrets& secrets) {
  mac_ = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  if (mac_ == nullptr) throw std::runtime_error("cookies: OpenSSL offers no SIPHASH");
  try {
    primary_ = keyedContext(mac_, secrets.primary);
    if (secrets.has_staging) staging_ = keyedContext(mac_, secrets.staging);
  } catch (...) {
    EVP_MAC_CTX_free(primary_);
    EVP_MAC_free(mac_);
    throw;
  }
}

CookieEngine::~CookieEngine() {
  EVP_MAC_CTX_free(staging_);
  EVP_MAC_CTX_free(primary_);
  EVP_MAC_free(mac_);
}

bool CookieEngine::hash(evp_mac_ctx_st* context, const uint8_t* input, size_t length,
                        uint8_t* out) noexcept {
  size_t written = 0;
  return EVP_MAC_init(context, nullptr, 0, nullptr) == 1 &&
         EVP_MAC_update(context, input, length) == 1 &&
         EVP_MAC_final(context, out, &written, 8) == 1 && written == 8;
}

void CookieEngine::mint(const uint8_t* client_cookie, const uint8_t* address, size_t address_length,
                        uint32_t now, uint8_t* out) noexcept {
  // E.g. RFC 9018 A.1: client cookie 2464c4abcf10c957, 198.51.100.100 at
  // 1559731985 (0x5cf79f11) hashes
  //   2464c4abcf10c957 01 000000 5cf79f11 c6336464
  // to 1f8130c3eee29480, so the cookie is 010000005cf79f11 1f8130c3eee29480.
  uint8_t input[kHashInputMax];
  out[0] = kVersion;
  out[1] = out[2] = out[3] = 0;
  out[4] = static_cast<uint8_t>(now >> 24);
  out[5] = static_cast<uint8_t>(now >> 16);
  out[6] = static_cast<uint8_t>(now >> 8);
  out[7] = static_cast<uint8_t>(now);
  std::memcpy(input, client_cookie, 8);
  std::memcpy(input + 8, out, kHashOffset);
  std::memcpy(input + 16, address, address_length);
  if (!hash(primary_, input, 16 + address_length, out + kHashOffset)) {
    // Cannot happen with a keyed context; a zero hash never verifies, so
    // the client simply gets a fresh cookie next time.
    std::memset(out + kHashOffset, 0, 8);
  }
}

CookieVerdict CookieEngine::verify(const uint8_t* client_cookie, const uint8_t* server_cookie,
                                   size_t server_cookie_length, const uint8_t* address,
                                   size_t address_length, uint32_t now) noexcept {
  if (server_cookie_length != kServerCookieLength || server_cookie[0] != kVersion) {
    return CookieVerdict::kBad;
  }
  uint8_t input[kHashInputMax];
  std::memcpy(input, client_cookie, 8);
  std::memcpy(input + 8, server_cookie, kHashOffset);  // Reserved as received
  std::memcpy(input + 16, address, address_length);
  const size_t length = 16 + address_length;
  uint8_t expected[8];
  bool ours = hash(primary_, input, length, expected) &&
              CRYPTO_memcmp(expected, server_cookie + kHashOffset, 8) == 0;
  if (!ours && staging_ != nullptr) {
    ours = hash(staging_, input, length, expected) &&
           CRYPTO_memcmp(expected, server_cookie + kHashOffset, 8) == 0;
  }
  if (!ours) return CookieVerdict::kBad;
  // Serial-number arithmetic (RFC 1982), so the window holds across the
  // 32-bit wrap in 2106: age = now - timestamp as a signed 32-bit number.
  const uint32_t stamp = static_cast<uint32_t>(server_cookie[4]) << 24 |
                         static_cast<uint32_t>(server_cookie[5]) << 16 |
                         static_cast<uint32_t>(server_cookie[6]) << 8 | server_cookie[7];
  const int32_t age = static_cast<int32_t>(now - stamp);
  if (age > static_cast<int32_t>(kCookieMaxAgeSeconds) ||
      age < -static_cast<int32_t>(kCookieMaxAheadSeconds)) {
    return CookieVerdict::kStale;
  }
  return CookieVerdict::kValid;
}

}  // namespace meridian::server
