// common/ip_address.h: the one parser of IP address text, and the one rule
// that turns a socket peer into a client address.

#include "common/ip_address.h"

#include <doctest/doctest.h>
#include <sys/un.h>

#include <string>

using meridian::common::formatIpAddress;
using meridian::common::IpAddress;
using meridian::common::ipAddressFromSockaddr;
using meridian::common::isV4Mapped;
using meridian::common::parseIpAddress;

namespace {

IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress address;
  address.family = 4;
  address.bytes[0] = a;
  address.bytes[1] = b;
  address.bytes[2] = c;
  address.bytes[3] = d;
  return address;
}

}  // namespace

TEST_CASE("parseIpAddress reads IPv4 into the first four octets") {
  const auto parsed = parseIpAddress("192.0.2.1");
  REQUIRE(parsed);
  CHECK(*parsed == v4(192, 0, 2, 1));
  CHECK(parsed->bits() == 32);
  CHECK(parsed->width() == 4);
  for (int i = 4; i < 16; ++i) CHECK(parsed->bytes[i] == 0);
  CHECK(*parseIpAddress("0.0.0.0") == v4(0, 0, 0, 0));
  CHECK(*parseIpAddress("255.255.255.255") == v4(255, 255, 255, 255));
}

TEST_CASE("parseIpAddress reads IPv6, and keeps ::ffff:a.b.c.d as IPv6") {
  const auto parsed = parseIpAddress("2001:db8::53");
  REQUIRE(parsed);
  CHECK(parsed->family == 6);
  CHECK(parsed->bits() == 128);
  const uint8_t expected[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53};
  for (int i = 0; i < 16; ++i) CHECK(parsed->bytes[i] == expected[i]);
  CHECK(parseIpAddress("::")->family == 6);
  CHECK(parseIpAddress("::1")->bytes[15] == 1);
  // Text says what the user wrote: the mapped form stays IPv6 here (zones
  // refuses it as an answer with its own message).
  const auto mapped = parseIpAddress("::ffff:192.0.2.1");
  REQUIRE(mapped);
  CHECK(mapped->family == 6);
  CHECK(isV4Mapped(mapped->bytes));
  // The longest valid text (45 characters) fits.
  const std::string longest = "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255";
  REQUIRE(longest.size() == 45);
  CHECK(parseIpAddress(longest));
}

TEST_CASE("parseIpAddress refuses everything that is not exactly one address") {
  for (const char* bad :
       {"", " ", "192.0.2", "192.0.2.256", "192.0.2.1.5", "01.2.3.4", "0x7f.0.0.1", " 192.0.2.1",
        "192.0.2.1 ", "192.0.2.1/24", "[::1]", "fe80::1%eth0", "2001:db8::/32", "2001:db8:::1",
        "2001:db8::g", "example.com", "localhost", "1:2:3:4:5:6:7:8:9"}) {
    INFO(bad);
    CHECK_FALSE(parseIpAddress(bad));
  }
  // Longer than any address, and an embedded NUL that inet_pton would stop at.
  CHECK_FALSE(parseIpAddress(std::string(46, '1')));
  CHECK_FALSE(parseIpAddress(std::string("192.0.2.1\0junk", 14)));
}

TEST_CASE("parseIpAddress reads only the view it is given") {
  const std::string text = "192.0.2.15";
  CHECK(*parseIpAddress(std::string_view(text).substr(0, 9)) == v4(192, 0, 2, 1));
  CHECK_FALSE(parseIpAddress(std::string_view(text).substr(0, 8)));  // "192.0.2."
}

TEST_CASE("formatIpAddress writes the canonical text") {
  CHECK(formatIpAddress(v4(198, 51, 100, 7)) == "198.51.100.7");
  CHECK(formatIpAddress(*parseIpAddress("2001:DB8:0:0::1")) == "2001:db8::1");
  CHECK(formatIpAddress(*parseIpAddress("::ffff:192.0.2.1")) == "::ffff:192.0.2.1");
  CHECK(formatIpAddress(IpAddress{}) == "");
}

TEST_CASE("ipAddressFromSockaddr: IPv4, IPv6, and IPv4-mapped IPv6 as IPv4") {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(53);
  std::memcpy(&sin.sin_addr, parseIpAddress("192.0.2.10")->bytes, 4);
  CHECK(ipAddressFromSockaddr(reinterpret_cast<const sockaddr*>(&sin)) == v4(192, 0, 2, 10));

  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  std::memcpy(&sin6.sin6_addr, parseIpAddress("2001:db8::53")->bytes, 16);
  CHECK(ipAddressFromSockaddr(reinterpret_cast<const sockaddr*>(&sin6)) ==
        *parseIpAddress("2001:db8::53"));

  // What a dual-stack IPv6 socket reports for an IPv4 client.
  std::memcpy(&sin6.sin6_addr, parseIpAddress("::ffff:192.0.2.10")->bytes, 16);
  CHECK(ipAddressFromSockaddr(reinterpret_cast<const sockaddr*>(&sin6)) == v4(192, 0, 2, 10));
  // Only ::ffff:0:0/96 is mapped; ::192.0.2.10 (deprecated IPv4-compatible) stays IPv6.
  std::memcpy(&sin6.sin6_addr, parseIpAddress("::192.0.2.10")->bytes, 16);
  CHECK(ipAddressFromSockaddr(reinterpret_cast<const sockaddr*>(&sin6)).family == 6);

  CHECK(ipAddressFromSockaddr(nullptr).family == 0);
  sockaddr_un unix_address{};
  unix_address.sun_family = AF_UNIX;
  CHECK(ipAddressFromSockaddr(reinterpret_cast<const sockaddr*>(&unix_address)).family == 0);
}

TEST_CASE("isV4Mapped is exactly ::ffff:0:0/96") {
  CHECK(isV4Mapped(parseIpAddress("::ffff:0.0.0.0")->bytes));
  CHECK(isV4Mapped(parseIpAddress("::ffff:255.255.255.255")->bytes));
  CHECK_FALSE(isV4Mapped(parseIpAddress("::fffe:192.0.2.1")->bytes));
  CHECK_FALSE(isV4Mapped(parseIpAddress("1::ffff:192.0.2.1")->bytes));
  CHECK_FALSE(isV4Mapped(parseIpAddress("::")->bytes));
}
