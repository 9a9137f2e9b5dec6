#pragma once
// IP addresses as every Meridian program handles them: family 4 or 6 plus 16
// octets in network byte order. One copy of the rules for reading address
// text (API input, zone data, stored endpoints, tools) and for turning a
// socket peer into a client address (the DNS query path, geo).
//
// Thread rules: pure functions; any thread. ipAddressFromSockaddr() and
// isV4Mapped() are inline, noexcept and allocation-free because the DNS query
// loops call them for every packet; the text functions allocate only for
// their std::string results.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace meridian::common {

/// An IPv4 or IPv6 address. IPv4 uses bytes[0..3]; bytes past the family's
/// width are zero, so two equal addresses compare equal with ==.
struct IpAddress {
  uint8_t family = 0;      // 4 or 6; 0 = no address
  uint8_t bytes[16] = {};  // network byte order

  /// 32 for IPv4, 128 for IPv6, 0 for none: the longest prefix of the family.
  int bits() const noexcept { return family == 4 ? 32 : family == 6 ? 128 : 0; }
  /// 4 or 16 (0 for none): how many of `bytes` carry the address.
  size_t width() const noexcept { return family == 4 ? 4 : family == 6 ? 16 : 0; }
  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

/// Parses "192.0.2.1" or "2001:db8::1" in inet_pton's strict forms: four
/// decimal octets for IPv4; RFC 4291 text for IPv6, with no brackets, zone
/// ("%eth0"), prefix or surrounding spaces. nullopt when the text is neither.
/// "::ffff:192.0.2.1" stays IPv6: text means what it says (see
/// ipAddressFromSockaddr for the socket rule).
std::optional<IpAddress> parseIpAddress(std::string_view text);

/// The canonical text (inet_ntop): "192.0.2.1", "2001:db8::1"; "" for family 0.
std::string formatIpAddress(const IpAddress& address);

/// True when the 16 octets are an IPv4-mapped IPv6 address (::ffff:0:0/96).
inline bool isV4Mapped(const uint8_t* bytes16) noexcept {
  static constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(bytes16, kV4MappedPrefix, sizeof kV4MappedPrefix) == 0;
}

/// A socket peer (sockaddr_in or sockaddr_in6) as an address. IPv4-mapped
/// IPv6 (::ffff:a.b.c.d, what a dual-stack IPv6 socket reports for an IPv4
/// client) becomes plain IPv4, so each IPv4 client has one form for geo
/// lookups, ECS scopes and caches whichever socket it reached. Family 0 for
/// null or any other address family.
inline IpAddress ipAddressFromSockaddr(const sockaddr* from) noexcept {
  IpAddress address;
  if (from == nullptr) return address;
  if (from->sa_family == AF_INET) {
    address.family = 4;
    std::memcpy(address.bytes, &reinterpret_cast<const sockaddr_in*>(from)->sin_addr, 4);
  } else if (from->sa_family == AF_INET6) {
    const uint8_t* bytes = reinterpret_cast<const sockaddr_in6*>(from)->sin6_addr.s6_addr;
    if (isV4Mapped(bytes)) {
      address.family = 4;
      std::memcpy(address.bytes, bytes + 12, 4);
    } else {
      address.family = 6;
      std::memcpy(address.bytes, bytes, 16);
    }
  }
  return address;
}

}  // namespace meridian::common
