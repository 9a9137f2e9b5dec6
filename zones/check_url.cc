#include "zones/check_url.h"

#include <arpa/inet.h>

#include <cctype>
#include <cstring>
#include <string_view>

#include "zones/validation.h"

namespace meridian::zones {

namespace {

[[noreturn]] void invalid(const std::string& field, const std::string& why) {
  throw ValidationError(field, "is not a valid URL: " + why);
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool isDigits(std::string_view text) {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// RFC 3986 pchar minus pct-encoded, plus '/' and '?' (path and query):
// unreserved "-._~", sub-delims "!$&'()*+,;=", ":@/?".
bool isTargetChar(char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) return true;
  return c != '\0' && std::strchr("-._~!$&'()*+,;=:@/?", c) != nullptr;
}

std::string describe(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u == ' ') return "a space";
  if (u < 0x20 || u >= 0x7f) {
    static const char* kHex = "0123456789ABCDEF";
    return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 15];
  }
  return std::string("'") + c + "'";
}

void checkHostName(std::string_view host, const std::string& field) {
  if (host.size() > 253) invalid(field, "the host is longer than 253 characters");
  bool numeric = true;  // every label all digits: then it must be an IPv4 address
  size_t label_start = 0;
  for (size_t i = 0; i <= host.size(); ++i) {
    if (i == host.size() || host[i] == '.') {
      const size_t length = i - label_start;
      // A trailing dot (absolute name) is fine; an empty label elsewhere is not.
      if (length == 0 && !(i == host.size() && i > 0)) {
        invalid(field, "the host \"" + std::string(host) + "\" has an empty label");
      }
      if (length > 63) invalid(field, "a label of the host is longer than 63 characters");
      label_start = i + 1;
      continue;
    }
    const char c = host[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      invalid(field, "the host may not contain " + describe(c) +
                         " (a DNS name, an IPv4 address or [IPv6])");
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) numeric = false;
  }
  unsigned char address[4];
  if (numeric && inet_pton(AF_INET, std::string(host).c_str(), address) != 1) {
    invalid(field, "the host \"" + std::string(host) + "\" is not an IPv4 address");
  }
}

}  // namespace

CheckUrl parseCheckUrl(const std::string& url, const std::string& field) {
  CheckUrl out;
  const size_t separator = url.find("://");
  if (separator == std::string::npos) {
    invalid(field, "expected http://HOST[:PORT][/PATH] or https://...");
  }
  out.scheme = lower(std::string_view(url).substr(0, separator));
  if (out.scheme != "http" && out.scheme != "https") {
    invalid(field, "the scheme must be http or https, not \"" + url.substr(0, separator) + "\"");
  }
  const std::string_view rest = std::string_view(url).substr(separator + 3);
  const size_t authority_end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, authority_end);
  const std::string_view target =
      authority_end == std::string_view::npos ? std::string_view() : rest.substr(authority_end);

  if (authority.find('@') != std::string_view::npos) {
    invalid(field, "user:password@ is not accepted (credentials do not belong in a check URL)");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) invalid(field, "the IPv6 address has no closing ']'");
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') invalid(field, "expected ':PORT' or '/' after ']'");
      port = after.substr(1);
      if (port.empty()) invalid(field, "the port after ':' is empty");
    }
    if (host.find('%') != std::string_view::npos) {
      invalid(field, "IPv6 zone ids (%...) are not accepted");
    }
    unsigned char address[16];
    if (inet_pton(AF_INET6, std::string(host).c_str(), address) != 1) {
      invalid(field, "\"" + std::string(host) + "\" is not an IPv6 address");
    }
    out.ipv6 = true;
  } else {
    const size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) invalid(field, "the port after ':' is empty");
    }
    if (host.empty()) invalid(field, "the host is missing");
    checkHostName(host, field);
  }
  out.host = std::string(host);

  if (!port.empty()) {
    if (!isDigits(port)) invalid(field, "the port \"" + std::string(port) + "\" is not a number");
    const unsigned long value = port.size() > 5 ? 0 : std::stoul(std::string(port));
    if (value < 1 || value > 65535) {
      invalid(field, "port " + std::string(port) + " is out of range (1-65535)");
    }
    out.port = static_cast<uint16_t>(value);
  } else {
    out.port = out.scheme == "https" ? 443 : 80;
  }

  if (!target.empty() && target.front() != '/' && target.front() != '?') {
    invalid(field, "a #fragment is not accepted (it is never sent)");
  }
  for (size_t i = 0; i < target.size(); ++i) {
    const char c = target[i];
    if (c == '#') invalid(field, "a #fragment is not accepted (it is never sent)");
    if (c == '%') {
      if (i + 2 >= target.size() || !std::isxdigit(static_cast<unsigned char>(target[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(target[i + 2]))) {
        invalid(field, "'%' must start an escape of two hex digits (%20)");
      }
      i += 2;
      continue;
    }
    if (!isTargetChar(c)) {
      invalid(field, "the path may not contain " + describe(c) + " (escape it as %XX)");
    }
  }
  // Appended, not "/" + std::string(...) nor = "/": g++ 12 at -O3 reports a
  // false -Wrestrict overlap for either (GCC bug 105329).
  if (target.empty() || target.front() == '?') out.target.push_back('/');
  out.target += target;
  return out;
}

}  // namespace meridian::zones
