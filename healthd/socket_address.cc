#include "healthd/socket_address.h"

#include <uv.h>

#include <cstring>

namespace meridian::healthd {

std::optional<sockaddr_storage> socketAddress(const std::string& address, int port) {
  sockaddr_storage storage;
  std::memset(&storage, 0, sizeof storage);
  if (address.find(':') != std::string::npos) {
    if (uv_ip6_addr(address.c_str(), port, reinterpret_cast<sockaddr_in6*>(&storage)) != 0) {
      return std::nullopt;
    }
  } else if (uv_ip4_addr(address.c_str(), port, reinterpret_cast<sockaddr_in*>(&storage)) != 0) {
    return std::nullopt;
  }
  return storage;
}

}  // namespace meridian::healthd
