#pragma once
// An endpoint address plus port as a sockaddr, for the tcp and dns probes.

#include <sys/socket.h>

#include <optional>
#include <string>

namespace meridian::healthd {

/// Parses canonical IPv4 or IPv6 text ("192.0.2.1", "2001:db8::1", read by
/// common::parseIpAddress) and adds the port; nullopt when the text is
/// neither. Any thread.
std::optional<sockaddr_storage> socketAddress(const std::string& address, int port);

}  // namespace meridian::healthd
