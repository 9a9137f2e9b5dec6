#pragma once
// The query's source address as the data path wants it: family 4 or 6, and
// IPv4-mapped IPv6 (::ffff:a.b.c.d) as plain IPv4. The rule itself is
// common::ipAddressFromSockaddr, shared with geo::clientFromSockaddr. Any
// thread; noexcept, no allocation (called for every packet).

#include <sys/socket.h>

#include <cstring>

#include "common/ip_address.h"
#include "server/query_handler.h"

namespace meridian::server {

inline void clientFromSockaddr(const sockaddr* from, ClientAddress& client) noexcept {
  const common::IpAddress peer = common::ipAddressFromSockaddr(from);
  if (peer.family == 0) return;  // not an IP socket: leave the default (0.0.0.0)
  client.family = peer.family;
  std::memcpy(client.bytes, peer.bytes, sizeof client.bytes);
}

}  // namespace meridian::server
