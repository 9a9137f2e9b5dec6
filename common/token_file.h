#pragma once
// The API bearer token file, read by one rule for every program: meridiand
// (--api-token-file, or <db>.token), meridianctl (--token-file) and the API
// benchmark.
//
// The rule:
//  - a regular file, at most 4096 bytes;
//  - one token: leading and trailing whitespace (the usual final newline) is
//    dropped; what is left must be non-empty printable ASCII without spaces
//    (it is sent in an "Authorization: Bearer" header);
//  - not writable by others: any local user could choose the API's secret,
//    so such a file is refused;
//  - readable by others is allowed (files written with the usual umask 022
//    are 0644), but reported in TokenFile::warning so the caller can say so;
//  - group bits are the administrator's choice (an operators' group).
//
// Control plane; any thread may call it.

#include <string>

namespace meridian::common {

/// The largest token file accepted.
inline constexpr size_t kMaxTokenFileBytes = 4096;

struct TokenFile {
  std::string token;
  /// Non-empty when the file is readable by others ("token file F is
  /// readable by others (mode 0644); chmod 600 F"); the token is still good.
  std::string warning;
};

/// Reads `path` by the rule above. Throws std::runtime_error whose message
/// names the file and the problem ("token file /x/t: is empty").
TokenFile readTokenFile(const std::string& path);

}  // namespace meridian::common
