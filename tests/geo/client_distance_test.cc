// Great-circle distance and the client subnet a query is answered for.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <cstring>
#include <vector>

#include "geo/client_subnet.h"
#include "geo/distance.h"

using meridian::geo::clientFromEcs;
using meridian::geo::clientFromSockaddr;
using meridian::geo::ClientSubnet;
using meridian::geo::greatCircleKm;

namespace {

std::vector<uint8_t> bytes(const ClientSubnet& c) {
  return std::vector<uint8_t>(c.address, c.address + (c.family == 4 ? 4 : 16));
}

}  // namespace

TEST_CASE("haversine distances") {
  // The worked example in geo/distance.h.
  CHECK(greatCircleKm(53.3498, -6.2603, 40.7128, -74.0060) ==
        doctest::Approx(5114.9).epsilon(1e-4));
  // London -> Seattle, the two City test DB points (81.2.69.142, 216.160.83.56).
  CHECK(greatCircleKm(51.5142, -0.0931, 47.2513, -122.3149) ==
        doctest::Approx(7732.3).epsilon(1e-4));
  // London -> Paris, the country table's points.
  CHECK(greatCircleKm(51.5083, -0.1253, 48.8667, 2.3333) == doctest::Approx(341.9).epsilon(1e-3));
  // One degree of longitude on the equator, across the antimeridian: 6371 * pi / 180.
  CHECK(greatCircleKm(0, 179.5, 0, -179.5) == doctest::Approx(111.19).epsilon(1e-4));
  // Antipodes: half the circumference, and no NaN from rounding.
  CHECK(greatCircleKm(0, 0, 0, 180) == doctest::Approx(20015.09).epsilon(1e-6));
  CHECK(greatCircleKm(90, 0, -90, 0) == doctest::Approx(20015.09).epsilon(1e-6));
  CHECK(greatCircleKm(40, -3.7, -40, 176.3) == doctest::Approx(20015.09).epsilon(1e-6));
  // Same point, and symmetry.
  CHECK(greatCircleKm(51.5, -0.12, 51.5, -0.12) == 0.0);
  CHECK(greatCircleKm(35.68, 139.75, -33.87, 151.21) ==
        doctest::Approx(greatCircleKm(-33.87, 151.21, 35.68, 139.75)));
  // Nearby points keep their precision: 0.00001 deg of latitude is 1.11 m.
  CHECK(greatCircleKm(10, 10, 10.00001, 10) * 1000 == doctest::Approx(1.112).epsilon(1e-3));
}

TEST_CASE("ECS IPv4 /24 and /20: family 4, bits past the prefix cleared") {
  const uint8_t a24[] = {198, 51, 100};
  ClientSubnet c = clientFromEcs(1, 24, a24, sizeof a24);
  CHECK(c.known());
  CHECK(c.family == 4);
  CHECK(c.prefix == 24);
  CHECK(bytes(c) == std::vector<uint8_t>{198, 51, 100, 0});

  const uint8_t a20[] = {198, 51, 100, 7};  // the worked example in client_subnet.cc
  c = clientFromEcs(1, 20, a20, sizeof a20);
  CHECK(c.prefix == 20);
  CHECK(bytes(c) == std::vector<uint8_t>{198, 51, 96, 0});

  c = clientFromEcs(1, 32, a20, sizeof a20);
  CHECK(bytes(c) == std::vector<uint8_t>{198, 51, 100, 7});
}

TEST_CASE("ECS source prefix 0, unknown family, over-long prefix: no client information") {
  const uint8_t a[16] = {198, 51, 100, 1};
  CHECK_FALSE(clientFromEcs(1, 0, a, 4).known());
  CHECK_FALSE(clientFromEcs(2, 0, a, 16).known());
  CHECK_FALSE(clientFromEcs(3, 24, a, 4).known());
  CHECK_FALSE(clientFromEcs(0, 24, a, 4).known());
  CHECK_FALSE(clientFromEcs(1, 33, a, 4).known());
  CHECK_FALSE(clientFromEcs(2, 129, a, 16).known());
}

TEST_CASE("ECS IPv6 /56, and short address octets count as zero") {
  uint8_t a[16];
  REQUIRE(inet_pton(AF_INET6, "2001:db8:1234:56ff:ffff::1", a) == 1);
  ClientSubnet c = clientFromEcs(2, 56, a, 7);
  CHECK(c.family == 6);
  CHECK(c.prefix == 56);
  uint8_t expected[16];
  REQUIRE(inet_pton(AF_INET6, "2001:db8:1234:5600::", expected) == 1);
  CHECK(std::memcmp(c.address, expected, 16) == 0);
  c = clientFromEcs(2, 64, a, 7);  // octet 8 was not sent: zero
  REQUIRE(inet_pton(AF_INET6, "2001:db8:1234:5600::", expected) == 1);
  CHECK(std::memcmp(c.address, expected, 16) == 0);
}

TEST_CASE("ECS with an IPv4-mapped IPv6 address becomes IPv4") {
  uint8_t a[16];
  REQUIRE(inet_pton(AF_INET6, "::ffff:198.51.100.77", a) == 1);
  ClientSubnet c = clientFromEcs(2, 120, a, 16);
  CHECK(c.family == 4);
  CHECK(c.prefix == 24);
  CHECK(bytes(c) == std::vector<uint8_t>{198, 51, 100, 0});
  // Shorter than /96 does not even cover the mapping prefix: stays IPv6.
  c = clientFromEcs(2, 80, a, 16);
  CHECK(c.family == 6);
  CHECK(c.prefix == 80);
}

TEST_CASE("socket source addresses: IPv4 /32, IPv6 /128, mapped IPv6 as IPv4 /32") {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  REQUIRE(inet_pton(AF_INET, "192.0.2.10", &sin.sin_addr) == 1);
  ClientSubnet c = clientFromSockaddr(reinterpret_cast<const sockaddr*>(&sin));
  CHECK(c.family == 4);
  CHECK(c.prefix == 32);
  CHECK(bytes(c) == std::vector<uint8_t>{192, 0, 2, 10});

  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  REQUIRE(inet_pton(AF_INET6, "2001:db8::53", &sin6.sin6_addr) == 1);
  c = clientFromSockaddr(reinterpret_cast<const sockaddr*>(&sin6));
  CHECK(c.family == 6);
  CHECK(c.prefix == 128);
  CHECK(std::memcmp(c.address, &sin6.sin6_addr, 16) == 0);

  REQUIRE(inet_pton(AF_INET6, "::ffff:192.0.2.10", &sin6.sin6_addr) == 1);
  c = clientFromSockaddr(reinterpret_cast<const sockaddr*>(&sin6));
  CHECK(c.family == 4);
  CHECK(c.prefix == 32);
  CHECK(bytes(c) == std::vector<uint8_t>{192, 0, 2, 10});

  CHECK_FALSE(clientFromSockaddr(nullptr).known());
  sockaddr other{};
  other.sa_family = AF_UNIX;
  CHECK_FALSE(clientFromSockaddr(&other).known());
}
