#include "common/socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstring>

namespace meridian::common {

namespace {

// Messages are appended piece by piece, never `"literal" + std::string&&`:
// g++ 12 at -O3 reports that pattern as a -Wrestrict overlap (a false
// positive, GCC bug 105329), which would fail a Release build with -Werror.
[[noreturn]] void fail(std::string_view what, std::string_view text, std::string_view problem,
                       std::string_view detail = "") {
  std::string message(what);
  message += " \"";
  message += text;
  message += "\" ";
  message += problem;
  message += detail;
  throw AddressError(message);
}

constexpr std::string_view kNotHostPort =
    "is not ADDR:PORT (it needs a port; write IPv6 as [::1]:53)";

}  // namespace

HostPort splitHostPort(std::string_view text, std::string_view what) {
  HostPort result;
  size_t colon;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      fail(what, text, "has no ']' after the IPv6 address (write IPv6 as [::1]:53)");
    }
    if (close + 1 == text.size() || text[close + 1] != ':') fail(what, text, kNotHostPort);
    result.host = text.substr(1, close - 1);
    colon = close + 1;
  } else {
    colon = text.rfind(':');
    if (colon == std::string_view::npos) fail(what, text, kNotHostPort);
    result.host = text.substr(0, colon);
    if (result.host.find(':') != std::string::npos) {
      fail(what, text, "is ambiguous: put an IPv6 address in brackets, as [::1]:53");
    }
  }
  const std::string_view port = text.substr(colon + 1);
  if (port.empty()) fail(what, text, kNotHostPort);
  // Decimal digits only (no sign, no spaces), at most 65535.
  const bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(),
                                                      [](char c) { return c >= '0' && c <= '9'; });
  unsigned value = 0;
  if (digits) {
    for (const char c : port) value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (!digits || value > 65535) {
    std::string problem = "has an invalid port \"";
    problem += port;
    fail(what, text, problem, "\" (0-65535)");
  }
  result.port = static_cast<uint16_t>(value);
  return result;
}

ListenAddress parseListenAddress(std::string_view text, std::string_view what) {
  const HostPort split = splitHostPort(text, what);
  const bool bracketed = text.front() == '[';  // splitHostPort refused empty text
  const std::optional<IpAddress> address = parseIpAddress(split.host);
  if (bracketed && (!address || address->family != 6)) {
    fail(what, text, "has an invalid IPv6 address");
  }
  if (!bracketed && (!address || address->family != 4)) {
    fail(what, text, "has an invalid IPv4 address (write IPv6 as [::1]:53)");
  }
  ListenAddress result;
  result.address = socketAddress(*address, split.port);
  result.text = text;
  return result;
}

sockaddr_storage socketAddress(const IpAddress& address, uint16_t port) noexcept {
  sockaddr_storage storage;
  std::memset(&storage, 0, sizeof storage);
  if (address.family == 6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(port);
    std::memcpy(&in6->sin6_addr, address.bytes, 16);
  } else if (address.family == 4) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    std::memcpy(&in->sin_addr, address.bytes, 4);
  }
  return storage;
}

socklen_t socketAddressLength(const sockaddr_storage& address) noexcept {
  return address.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

uint16_t portOf(const sockaddr_storage& address) noexcept {
  if (address.ss_family == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&address)->sin6_port);
  }
  return ntohs(reinterpret_cast<const sockaddr_in*>(&address)->sin_port);
}

void setPort(sockaddr_storage& address, uint16_t port) noexcept {
  if (address.ss_family == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&address)->sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in*>(&address)->sin_port = htons(port);
  }
}

std::string formatSocketAddress(const sockaddr_storage& address) {
  IpAddress ip;
  if (address.ss_family == AF_INET6) {
    ip.family = 6;
    std::memcpy(ip.bytes, &reinterpret_cast<const sockaddr_in6*>(&address)->sin6_addr, 16);
  } else if (address.ss_family == AF_INET) {
    ip.family = 4;
    std::memcpy(ip.bytes, &reinterpret_cast<const sockaddr_in*>(&address)->sin_addr, 4);
  }
  std::string text;
  if (ip.family == 6) text += '[';
  text += formatIpAddress(ip);
  if (ip.family == 6) text += ']';
  text += ':';
  text += std::to_string(portOf(address));
  return text;
}

}  // namespace meridian::common
