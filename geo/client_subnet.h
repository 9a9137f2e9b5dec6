#pragma once
// The client address a query is answered for: the EDNS Client Subnet option
// when the query carries one (RFC 7871), else the packet's source address.
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) become plain IPv4, so geo
// lookups, ECS scopes and caches see one form of each IPv4 client.
//
// Thread rules: pure functions; any thread, including the DNS query loops
// (noexcept, no allocation).

#include <cstddef>
#include <cstdint>

#include "common/ip_address.h"

namespace meridian::geo {

struct ClientSubnet {
  uint8_t family = 0;  // 4 or 6; 0 = no client information
  uint8_t prefix = 0;  // leading bits that carry information (32 or 128 for a socket)
  // Network byte order; IPv4 uses the first 4 octets. Bits past `prefix` are zero.
  uint8_t address[16] = {};

  bool known() const noexcept { return family != 0; }
};

/// From an ECS option as parsed: `ecs_family` 1 (IPv4) or 2 (IPv6), SOURCE
/// PREFIX-LENGTH, and the address octets that arrived (`length` of them; the
/// rest count as zero). Returns family 0 ("no client information") for source
/// prefix 0 (RFC 7871 7.1.2: the client asked that its address not be used),
/// an unknown family or a prefix longer than the family. Bits past the prefix
/// are cleared. ::ffff:a.b.c.d/P with P >= 96 becomes a.b.c.d/(P-96).
ClientSubnet clientFromEcs(uint16_t ecs_family, uint8_t source_prefix, const uint8_t* address,
                           size_t length) noexcept;

/// From a socket source address (sockaddr_in or sockaddr_in6): IPv4 /32 or
/// IPv6 /128, IPv4-mapped IPv6 as IPv4 /32 (the rule is
/// common::ipAddressFromSockaddr's). Family 0 for null or other families.
ClientSubnet clientFromSockaddr(const sockaddr* address) noexcept;

/// True when the 16 octets are an IPv4-mapped IPv6 address (::ffff:0:0/96).
using common::isV4Mapped;

}  // namespace meridian::geo
