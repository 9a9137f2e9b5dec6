#include "healthd/socket_address.h"

#include "common/socket_address.h"

namespace meridian::healthd {

std::optional<sockaddr_storage> socketAddress(const std::string& address, int port) {
  const std::optional<common::IpAddress> ip = common::parseIpAddress(address);
  if (!ip) return std::nullopt;
  // The check spec's port is 1-65535 by now (zones/check_spec.cc validates it).
  return common::socketAddress(*ip, static_cast<uint16_t>(port));
}

}  // namespace meridian::healthd
