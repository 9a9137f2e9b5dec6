#pragma once
// The URLs an http or https health check may use, parsed strictly without
// libcurl (zones/ links no HTTP library). Exactly this form is accepted:
//
//   SCHEME "://" HOST [":" PORT] [PATH] ["?" QUERY]
//
//   SCHEME  http or https, in any case (RFC 3986 3.1)
//   HOST    a DNS name (letters, digits, '-', '_', '.', at most 253, no empty
//           label), a dotted-quad IPv4 address, or an IPv6 address in
//           brackets ("[2001:db8::1]"; no zone id)
//   PORT    1-65535 (absent: 80 or 443)
//   PATH    starting with '/'; QUERY after the first '?'. Both are printable
//           ASCII from RFC 3986's unreserved, sub-delims, ':', '@', '/', '?'
//           plus well-formed %XX escapes
//
// Refused on purpose: user:password@ (credentials do not belong in stored
// configuration), #fragment (never sent), spaces, other bytes unescaped. Every
// accepted URL is one libcurl parses to the same host, port and path, so the
// API never stores a URL that meridian-healthd's curl then refuses.
//
// Pure; any thread.

#include <cstdint>
#include <string>

namespace meridian::zones {

struct CheckUrl {
  std::string scheme;  // "http" or "https", lower case
  std::string host;    // as written; an IPv6 literal without its brackets
  bool ipv6 = false;
  uint16_t port = 0;   // the explicit port, or the scheme's default
  std::string target;  // path and query as sent ("/" when the URL has none)
};

/// Parses `url`. Throws ValidationError(field, "is not a valid URL: ...")
/// saying what is wrong, e.g. "check.url: is not a valid URL: port 70000 is
/// out of range (1-65535)".
CheckUrl parseCheckUrl(const std::string& url, const std::string& field);

}  // namespace meridian::zones
