#include "healthd/socket_address.h"

#include "common/socket_address.h"

namespace meridian::healthd {

std::optional<sockaddr_storage> socketAddress(const std::string& address, int port) {
  const std::optional<common::IpAddress> ip = common::parseIpAddress(address);
  if (!ip) return std::nullopt;
  // Check ports are 1-65535 by the time a probe is built (zones/check_spec).
  return common::socketAddress(*ip, static_cast<uint16_t>(port));
}

}  // namespace meridian::healthd
