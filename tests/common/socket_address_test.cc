// common/socket_address.h: the one "HOST:PORT" parser behind --dns-listen and
// --api-listen, and the sockaddr helpers.

#include "common/socket_address.h"

#include <doctest/doctest.h>
#include <netinet/in.h>

using meridian::common::AddressError;
using meridian::common::formatSocketAddress;
using meridian::common::parseIpAddress;
using meridian::common::parseListenAddress;
using meridian::common::portOf;
using meridian::common::setPort;
using meridian::common::socketAddress;
using meridian::common::socketAddressLength;
using meridian::common::splitHostPort;

TEST_CASE("parseListenAddress: IPv4 and bracketed IPv6, with the port") {
  const auto v4 = parseListenAddress("127.0.0.1:53");
  CHECK(v4.text == "127.0.0.1:53");
  REQUIRE(v4.address.ss_family == AF_INET);
  const auto* in = reinterpret_cast<const sockaddr_in*>(&v4.address);
  CHECK(ntohl(in->sin_addr.s_addr) == 0x7f000001u);
  CHECK(portOf(v4.address) == 53);
  CHECK(socketAddressLength(v4.address) == sizeof(sockaddr_in));
  CHECK(formatSocketAddress(v4.address) == "127.0.0.1:53");

  const auto v6 = parseListenAddress("[::1]:5353");
  REQUIRE(v6.address.ss_family == AF_INET6);
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&v6.address);
  CHECK(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
  CHECK(portOf(v6.address) == 5353);
  CHECK(socketAddressLength(v6.address) == sizeof(sockaddr_in6));
  CHECK(formatSocketAddress(v6.address) == "[::1]:5353");

  // Port 0 asks for any free port; the wildcard addresses are fine.
  CHECK(portOf(parseListenAddress("0.0.0.0:0").address) == 0);
  CHECK(formatSocketAddress(parseListenAddress("[::]:65535").address) == "[::]:65535");
  CHECK(formatSocketAddress(parseListenAddress("[2001:DB8::0:1]:53").address) ==
        "[2001:db8::1]:53");
}

TEST_CASE("parseListenAddress: each bad form gets an error naming the text") {
  auto error = [](const std::string& text) {
    try {
      parseListenAddress(text);
    } catch (const AddressError& e) {
      return std::string(e.what());
    }
    return std::string("no error for ") + text;
  };
  CHECK(error("nonsense") ==
        "listen address \"nonsense\" is not ADDR:PORT (it needs a port; write IPv6 as [::1]:53)");
  CHECK(error("") ==
        "listen address \"\" is not ADDR:PORT (it needs a port; write IPv6 as [::1]:53)");
  CHECK(error("127.0.0.1:").find("\"127.0.0.1:\" is not ADDR:PORT") != std::string::npos);
  CHECK(error("[::1]").find("\"[::1]\" is not ADDR:PORT") != std::string::npos);
  CHECK(error("[::1]53").find("\"[::1]53\" is not ADDR:PORT") != std::string::npos);
  CHECK(error("[::1:53").find("\"[::1:53\" has no ']'") != std::string::npos);
  CHECK(error("::1:53") ==
        "listen address \"::1:53\" is ambiguous: put an IPv6 address in brackets, as [::1]:53");
  CHECK(error("127.0.0.1:65536") ==
        "listen address \"127.0.0.1:65536\" has an invalid port \"65536\" (0-65535)");
  for (const char* port : {"-1", "+53", " 53", "53 ", "0x35", "5e1", "100000"}) {
    INFO(port);
    CHECK(error(std::string("127.0.0.1:") + port).find("has an invalid port") != std::string::npos);
  }
  CHECK(error("localhost:53") ==
        "listen address \"localhost:53\" has an invalid IPv4 address (write IPv6 as [::1]:53)");
  CHECK(error("192.0.2.256:53").find("invalid IPv4 address") != std::string::npos);
  CHECK(error(":53").find("\":53\" has an invalid IPv4 address") != std::string::npos);
  CHECK(error("[127.0.0.1]:53") == "listen address \"[127.0.0.1]:53\" has an invalid IPv6 address");
  CHECK(error("[fe80::1%eth0]:53").find("invalid IPv6 address") != std::string::npos);
}

TEST_CASE("splitHostPort keeps host names and the empty host for getaddrinfo") {
  const auto named = splitHostPort("localhost:8053", "API listen address");
  CHECK(named.host == "localhost");
  CHECK(named.port == 8053);
  const auto any = splitHostPort(":8053", "API listen address");
  CHECK(any.host == "");
  CHECK(any.port == 8053);
  const auto v6 = splitHostPort("[::]:0", "API listen address");
  CHECK(v6.host == "::");
  CHECK(v6.port == 0);
  CHECK_THROWS_WITH_AS(splitHostPort("localhost", "API listen address"),
                       "API listen address \"localhost\" is not ADDR:PORT (it needs a port; write "
                       "IPv6 as [::1]:53)",
                       AddressError);
}

TEST_CASE("socketAddress and setPort build what bind() wants") {
  sockaddr_storage s = socketAddress(*parseIpAddress("192.0.2.1"), 5300);
  CHECK(s.ss_family == AF_INET);
  CHECK(formatSocketAddress(s) == "192.0.2.1:5300");
  setPort(s, 53);
  CHECK(formatSocketAddress(s) == "192.0.2.1:53");
  s = socketAddress(*parseIpAddress("2001:db8::1"), 0);
  CHECK(s.ss_family == AF_INET6);
  setPort(s, 8053);
  CHECK(portOf(s) == 8053);
  CHECK(formatSocketAddress(s) == "[2001:db8::1]:8053");
}
