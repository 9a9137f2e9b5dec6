#include "common/ip_address.h"

#include <arpa/inet.h>

namespace meridian::common {

std::optional<IpAddress> parseIpAddress(std::string_view text) {
  // inet_pton wants a NUL-terminated string; the longest valid text is
  // INET6_ADDRSTRLEN - 1 characters ("ffff:...:255.255.255.255"). An embedded
  // NUL would make inet_pton read a prefix of the text, so refuse it.
  char buffer[INET6_ADDRSTRLEN];
  if (text.empty() || text.size() >= sizeof buffer || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  std::memcpy(buffer, text.data(), text.size());
  buffer[text.size()] = '\0';
  IpAddress address;
  if (inet_pton(AF_INET, buffer, address.bytes) == 1) {
    address.family = 4;
    return address;
  }
  if (inet_pton(AF_INET6, buffer, address.bytes) == 1) {
    address.family = 6;
    return address;
  }
  return std::nullopt;
}

std::string formatIpAddress(const IpAddress& address) {
  if (address.family != 4 && address.family != 6) return "";
  char text[INET6_ADDRSTRLEN] = {};
  inet_ntop(address.family == 4 ? AF_INET : AF_INET6, address.bytes, text, sizeof text);
  return text;
}

}  // namespace meridian::common
