#include "geo/client_subnet.h"

#include <algorithm>
#include <cstring>

namespace meridian::geo {
namespace {

// Clears every bit past `prefix`. Worked example, 198.51.100.7/20: octets 0-1
// are kept whole (16 bits), octet 2 keeps its top 20 - 16 = 4 bits
// (100 = 0x64 & 0xf0 = 0x60 = 96), octets 3.. become 0: 198.51.96.0/20.
void maskTo(uint8_t* address, size_t width, uint8_t prefix) noexcept {
  size_t whole = prefix / 8;
  if (whole >= width) return;
  if (prefix % 8 != 0) {
    address[whole] &= static_cast<uint8_t>(0xff << (8 - prefix % 8));
    ++whole;
  }
  std::memset(address + whole, 0, width - whole);
}

// ::ffff:a.b.c.d/P (P >= 96) -> a.b.c.d/(P-96), in place.
void unmapV4(ClientSubnet& client) noexcept {
  if (client.family != 6 || client.prefix < 96 || !isV4Mapped(client.address)) return;
  std::memmove(client.address, client.address + 12, 4);
  std::memset(client.address + 4, 0, 12);
  client.family = 4;
  client.prefix = static_cast<uint8_t>(client.prefix - 96);
}

}  // namespace

ClientSubnet clientFromEcs(uint16_t ecs_family, uint8_t source_prefix, const uint8_t* address,
                           size_t length) noexcept {
  ClientSubnet client;
  const size_t width = ecs_family == 1 ? 4 : ecs_family == 2 ? 16 : 0;
  if (width == 0 || source_prefix == 0 || source_prefix > width * 8) return client;
  if (address != nullptr) std::memcpy(client.address, address, std::min(length, width));
  client.family = ecs_family == 1 ? 4 : 6;
  client.prefix = source_prefix;
  maskTo(client.address, width, source_prefix);
  unmapV4(client);
  return client;
}

ClientSubnet clientFromSockaddr(const sockaddr* address) noexcept {
  const common::IpAddress peer = common::ipAddressFromSockaddr(address);
  ClientSubnet client;
  client.family = peer.family;
  client.prefix = static_cast<uint8_t>(peer.bits());
  std::memcpy(client.address, peer.bytes, sizeof client.address);
  return client;
}

}  // namespace meridian::geo
