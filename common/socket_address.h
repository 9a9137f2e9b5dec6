#pragma once
// Socket addresses: "HOST:PORT" text as meridiand's --dns-listen and
// --api-listen take it, and the sockaddr form that bind() and connect() want.
// One parser, so both listeners accept the same forms and say the same thing
// about a bad one:
//   "127.0.0.1:53"  "0.0.0.0:53"  "[::1]:5353"  "[::]:53"    (port 0 = any free port)
//
// Thread rules: pure functions; any thread. Control plane only (they allocate
// and throw).

#include <sys/socket.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

#include "common/ip_address.h"

namespace meridian::common {

/// A listen address text that cannot be used; what() names the text and the
/// problem, e.g. `listen address "nonsense" is not ADDR:PORT (it needs a port; ...)`.
class AddressError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// "HOST:PORT" split in two; the host loses its brackets and may be empty
/// (":8053"). An IPv6 host must be in brackets ("[::1]:53"): "::1:53" is
/// refused, since it could equally be the address ::1:53 with no port. The
/// port is 0-65535 in decimal. `what` starts each error message ("listen
/// address", "API listen address"). Throws AddressError.
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
HostPort splitHostPort(std::string_view text, std::string_view what);

/// A numeric service address: the parsed socket address and the text as
/// configured (for messages).
struct ListenAddress {
  sockaddr_storage address{};
  std::string text;
};
/// splitHostPort, then the host must be an IPv4 address, or an IPv6 address
/// in brackets. Throws AddressError naming the text.
ListenAddress parseListenAddress(std::string_view text, std::string_view what = "listen address");

/// `address` and `port` as a sockaddr_in or sockaddr_in6 in the storage.
sockaddr_storage socketAddress(const IpAddress& address, uint16_t port) noexcept;
/// sizeof(sockaddr_in) or sizeof(sockaddr_in6), for bind() and connect().
socklen_t socketAddressLength(const sockaddr_storage& address) noexcept;
/// The port of an IPv4 or IPv6 socket address (host byte order).
uint16_t portOf(const sockaddr_storage& address) noexcept;
void setPort(sockaddr_storage& address, uint16_t port) noexcept;
/// "192.0.2.1:53" or "[2001:db8::1]:53": text that parseListenAddress reads back.
std::string formatSocketAddress(const sockaddr_storage& address);

}  // namespace meridian::common
