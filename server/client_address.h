#pragma once
// The query's source address as the data path wants it: family 4 or 6, and
// IPv4-mapped IPv6 (::ffff:a.b.c.d) as plain IPv4. Any thread; noexcept.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "server/query_handler.h"

namespace meridian::server {

inline void clientFromSockaddr(const sockaddr* from, ClientAddress& client) noexcept {
  if (from->sa_family == AF_INET) {
    client.family = 4;
    std::memcpy(client.bytes, &reinterpret_cast<const sockaddr_in*>(from)->sin_addr, 4);
    return;
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(from);
  if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
    client.family = 4;
    std::memcpy(client.bytes, in6->sin6_addr.s6_addr + 12, 4);
    return;
  }
  client.family = 6;
  std::memcpy(client.bytes, in6->sin6_addr.s6_addr, 16);
}

}  // namespace meridian::server
