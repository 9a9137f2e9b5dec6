// GeoDatabase::lookup walks its own copy of the search tree (geo/mmdb.h):
// a flat array and a 16-bit first step per family, built at open. These
// tests hold it to libmaxminddb's own MMDB_lookup_sockaddr on the same file,
// address by address: found or not, the record's country, continent,
// subdivision and AS number, and the prefix (libmaxminddb's netmask, in the
// queried family's bits). Addresses: every network of MaxMind's source JSON
// (its first and last address and the ones just outside), IPv4-mapped
// forms, and seeded random IPv4 and IPv6 addresses.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <maxminddb.h>
#include <netinet/in.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "geo/mmdb.h"
#include "geo_test_util.h"

using meridian::geo::GeoDatabase;
using meridian::geo::GeoRecord;
using meridian::test::geoipTestFile;
using meridian::test::parseAddress;

namespace {

struct Address {
  uint8_t octets[16] = {};
  int family = 0;
};

// What libmaxminddb says about one address, in GeoRecord's terms.
struct Reference {
  bool found = false;
  unsigned prefix = 0;
  std::string country, continent, subdivision;
  uint32_t asn = 0;
};

std::string text(MMDB_entry_s& entry, const char* const* path) {
  MMDB_entry_data_s data{};
  if (MMDB_aget_value(&entry, &data, path) != MMDB_SUCCESS || !data.has_data ||
      data.type != MMDB_DATA_TYPE_UTF8_STRING) {
    return "";
  }
  return std::string(data.utf8_string, data.data_size);
}

Reference lookUpWithLibrary(const MMDB_s& mmdb, const Address& a) {
  Reference r;
  const bool v4 = a.family == 4 || meridian::common::isV4Mapped(a.octets);
  sockaddr_in sin{};
  sockaddr_in6 sin6{};
  const sockaddr* sa;
  if (v4) {
    sin.sin_family = AF_INET;
    std::memcpy(&sin.sin_addr, a.family == 4 ? a.octets : a.octets + 12, 4);
    sa = reinterpret_cast<const sockaddr*>(&sin);
  } else {
    sin6.sin6_family = AF_INET6;
    std::memcpy(&sin6.sin6_addr, a.octets, 16);
    sa = reinterpret_cast<const sockaddr*>(&sin6);
  }
  int error = MMDB_SUCCESS;
  MMDB_lookup_result_s result = MMDB_lookup_sockaddr(&mmdb, sa, &error);
  if (error != MMDB_SUCCESS) return r;  // IPv6 in an IPv4 tree: not found, prefix 0
  r.prefix = result.netmask;
  if (v4 && mmdb.metadata.ip_version == 6) r.prefix = r.prefix >= 96 ? r.prefix - 96 : 0;
  r.found = result.found_entry;
  if (!r.found) return r;
  static const char* const kCountry[] = {"country", "iso_code", nullptr};
  static const char* const kContinent[] = {"continent", "code", nullptr};
  static const char* const kSubdivision[] = {"subdivisions", "0", "iso_code", nullptr};
  static const char* const kAsn[] = {"autonomous_system_number", nullptr};
  r.country = text(result.entry, kCountry);
  r.continent = text(result.entry, kContinent);
  r.subdivision = text(result.entry, kSubdivision);
  MMDB_entry_data_s data{};
  if (MMDB_aget_value(&result.entry, &data, kAsn) == MMDB_SUCCESS && data.has_data &&
      data.type == MMDB_DATA_TYPE_UINT32) {
    r.asn = data.uint32;
  }
  return r;
}

std::string show(const Address& a) {
  char buffer[INET6_ADDRSTRLEN] = "?";
  inet_ntop(a.family == 4 ? AF_INET : AF_INET6, a.octets, buffer, sizeof buffer);
  return buffer;
}

// Adds `delta` (+1 or -1) to the address, wrapping.
Address step(Address a, int delta) {
  const int width = a.family == 4 ? 4 : 16;
  for (int i = width - 1; i >= 0; --i) {
    const int v = a.octets[i] + delta;
    a.octets[i] = static_cast<uint8_t>(v & 0xff);
    if (v >= 0 && v <= 0xff) break;
  }
  return a;
}

// The first and last address of every network in MaxMind's source JSON for
// the test databases, and the addresses either side of them.
std::vector<Address> networkEdges(const std::string& json_file) {
  std::vector<Address> out;
  std::ifstream in(json_file);
  REQUIRE_MESSAGE(in.good(), json_file);
  const nlohmann::json doc = nlohmann::json::parse(in);
  for (const auto& item : doc) {
    for (const auto& [network, unused] : item.items()) {
      const size_t slash = network.find('/');
      Address first;
      first.family = parseAddress(network.substr(0, slash), first.octets);
      REQUIRE_MESSAGE(first.family != 0, network);
      const int length = std::stoi(network.substr(slash + 1));
      const int width = first.family == 4 ? 32 : 128;
      Address last = first;
      for (int bit = length; bit < width; ++bit) last.octets[bit / 8] |= uint8_t(0x80 >> (bit % 8));
      for (const Address& a : {first, last, step(first, -1), step(last, +1)}) out.push_back(a);
    }
  }
  return out;
}

std::vector<Address> randomAddresses(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Address> out;
  for (size_t i = 0; i < count; ++i) {
    Address a;
    const uint64_t r = rng();
    if (i % 3 == 0) {
      a.family = 4;
      std::memcpy(a.octets, &r, 4);
    } else {
      a.family = 6;
      const uint64_t r2 = rng();
      std::memcpy(a.octets, &r, 8);
      std::memcpy(a.octets + 8, &r2, 8);
      // Most of the data sits in 2000::/3; keep a third anywhere.
      if (i % 3 == 1) a.octets[0] = static_cast<uint8_t>(0x20 | (a.octets[0] & 0x1f));
    }
    out.push_back(a);
  }
  return out;
}

// With IPv4-mapped forms of every IPv4 address.
void addMapped(std::vector<Address>& addresses) {
  const size_t n = addresses.size();
  for (size_t i = 0; i < n; ++i) {
    if (addresses[i].family != 4) continue;
    Address m;
    m.family = 6;
    m.octets[10] = m.octets[11] = 0xff;
    std::memcpy(m.octets + 12, addresses[i].octets, 4);
    addresses.push_back(m);
  }
}

// Opens `path` both ways and compares every address; returns how many were
// found (so a test can insist the comparison saw data, not only misses).
size_t compareWithLibrary(const std::string& path, std::vector<Address> addresses,
                          meridian::geo::Content content = meridian::geo::Content::kGeo) {
  addMapped(addresses);
  const auto db = GeoDatabase::open(path, content);
  MMDB_s mmdb{};
  REQUIRE(MMDB_open(path.c_str(), MMDB_MODE_MMAP, &mmdb) == MMDB_SUCCESS);
  size_t found = 0, mismatches = 0;
  for (const Address& a : addresses) {
    const Reference want = lookUpWithLibrary(mmdb, a);
    GeoRecord got;
    const bool hit = db->lookup(a.octets, a.family, got);
    const bool same =
        hit == want.found && got.prefix == want.prefix &&
        (!hit || (got.country == want.country && got.continent == want.continent &&
                  got.asn == want.asn && want.subdivision.compare(0, 3, got.subdivision) == 0));
    if (!same && ++mismatches <= 5) {
      FAIL_CHECK(path << " " << show(a) << ": library found=" << want.found << " /" << want.prefix
                      << " " << want.country << " AS" << want.asn << "; compiled found=" << hit
                      << " /" << unsigned(got.prefix) << " " << got.country << " AS" << got.asn);
    }
    found += hit ? 1 : 0;
  }
  MMDB_close(&mmdb);
  CHECK_MESSAGE(mismatches == 0, path << ": " << mismatches << " of " << addresses.size());
  return found;
}

}  // namespace

TEST_CASE("compiled tree answers as libmaxminddb: City test DB, every network's edges") {
  auto addresses = networkEdges(geoipTestFile("GeoIP2-City-Test.json"));
  const auto random = randomAddresses(20000, 1);
  addresses.insert(addresses.end(), random.begin(), random.end());
  CHECK(compareWithLibrary(geoipTestFile("GeoIP2-City-Test.mmdb"), addresses) > 400);
  CHECK(compareWithLibrary(geoipTestFile("GeoLite2-City-Test.mmdb"), addresses) > 400);
  CHECK(compareWithLibrary(geoipTestFile("GeoIP2-Country-Test.mmdb"), addresses) > 400);
}

TEST_CASE("compiled tree answers as libmaxminddb: ASN test DB") {
  auto addresses = networkEdges(geoipTestFile("GeoLite2-ASN-Test.json"));
  const auto random = randomAddresses(20000, 2);
  addresses.insert(addresses.end(), random.begin(), random.end());
  CHECK(compareWithLibrary(geoipTestFile("GeoLite2-ASN-Test.mmdb"), addresses,
                           meridian::geo::Content::kAsn) > 100);
}

TEST_CASE("compiled tree answers as libmaxminddb: the default DB, random addresses") {
  const std::string path = MERIDIAN_DEFAULT_GEODB;
  if (!std::filesystem::exists(path)) {
    MESSAGE("no default DB at " << path << " (not built here); skipped");
    return;
  }
  // Dense: nearly every IPv4 address and much of 2000::/3 has a country.
  CHECK(compareWithLibrary(path, randomAddresses(200000, 3)) > 60000);
}

TEST_CASE("compiled tree answers as libmaxminddb: an IPv4-only tree") {
  const std::string path = std::string(MERIDIAN_TEST_DBS) + "/ipv4-only.mmdb";
  if (!std::filesystem::exists(path)) {
    MESSAGE("no " << path << " (written only where the default DB is built); skipped");
    return;
  }
  // Its two networks (tests/geo/make-test-dbs), their edges, and random
  // addresses (IPv6 ones are never found in an IPv4 tree, with prefix 0).
  std::vector<Address> addresses = randomAddresses(20000, 4);
  for (const char* text : {"81.2.69.0", "81.2.69.255", "81.2.68.255", "81.2.70.0", "1.0.0.0",
                           "1.0.0.255", "0.255.255.255", "1.0.1.0"}) {
    Address a;
    a.family = parseAddress(text, a.octets);
    addresses.push_back(a);
  }
  CHECK(compareWithLibrary(path, addresses) == 4 * 2);  // the 4 inside, and their mapped forms
}
