// GeoDatabase against MaxMind's test databases: exact answers for known
// addresses, IPv4-mapped IPv6, misses, Country DBs, metadata, and every
// broken or unusable file refused at open with an error that names it.
#include "geo/mmdb.h"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "geo_test_util.h"
#include "tests/support/dns_test_util.h"

using meridian::geo::GeoDatabase;
using meridian::geo::GeoError;
using meridian::geo::GeoRecord;
using meridian::test::geoipTestFile;
using meridian::test::parseAddress;

namespace {

GeoRecord mustFind(const GeoDatabase& db, const std::string& ip) {
  uint8_t address[16] = {};
  const int family = parseAddress(ip, address);
  REQUIRE_MESSAGE(family != 0, ip);
  GeoRecord record;
  CHECK_MESSAGE(db.lookup(address, family, record), ip);
  return record;
}

// The message open() throws for `path`, or "" when it opened.
std::string openError(const std::string& path) {
  try {
    GeoDatabase::open(path);
  } catch (const GeoError& e) {
    return e.what();
  }
  return "";
}

struct Expected {
  const char* ip;
  const char* country;
  const char* continent;
  const char* subdivision;
  double latitude, longitude;
  unsigned prefix;  // in the queried family's bits
};

// From GeoIP2-City-Test.json (network in the IPv6 tree -> prefix in IPv4 bits):
// ::81.2.69.142/127 -> 31, ::216.160.83.56/125 -> 29, ::175.16.199.0/120 -> 24,
// ::89.160.20.112/124 -> 28, ::2.125.160.216/125 -> 29, 2001:218::/32, 2a02:d300::/29.
const Expected kCity[] = {
    {"81.2.69.142", "GB", "EU", "ENG", 51.5142, -0.0931, 31},
    {"81.2.69.143", "GB", "EU", "ENG", 51.5142, -0.0931, 31},
    {"216.160.83.56", "US", "NA", "WA", 47.2513, -122.3149, 29},
    {"216.160.83.63", "US", "NA", "WA", 47.2513, -122.3149, 29},
    {"175.16.199.0", "CN", "AS", "22", 43.88, 125.3228, 24},
    {"175.16.199.255", "CN", "AS", "22", 43.88, 125.3228, 24},
    {"89.160.20.112", "SE", "EU", "E", 58.4167, 15.6167, 28},
    {"2.125.160.216", "GB", "EU", "ENG", 51.75, -1.25, 29},
    {"2001:218::", "JP", "AS", "", 35.68536, 139.75309, 32},
    {"2001:218:ffff:ffff::1", "JP", "AS", "", 35.68536, 139.75309, 32},
    {"2a02:d300::1", "UA", "EU", "", 49, 32, 29},
};

void checkRecord(const GeoRecord& r, const Expected& e) {
  INFO(e.ip);
  CHECK(std::string(r.country) == e.country);
  CHECK(std::string(r.continent) == e.continent);
  CHECK(std::string(r.subdivision) == e.subdivision);
  CHECK(r.has_location);
  CHECK_FALSE(r.location_from_country);
  CHECK(r.latitude == doctest::Approx(e.latitude).epsilon(1e-9));
  CHECK(r.longitude == doctest::Approx(e.longitude).epsilon(1e-9));
  CHECK(unsigned(r.prefix) == e.prefix);
}

}  // namespace

TEST_CASE("City test DB: exact country, continent, subdivision, location and prefix") {
  auto db = GeoDatabase::open(geoipTestFile("GeoIP2-City-Test.mmdb"));
  for (const Expected& e : kCity) checkRecord(mustFind(*db, e.ip), e);
}

TEST_CASE("GeoLite2 City test DB gives the same answers for the shared networks") {
  auto db = GeoDatabase::open(geoipTestFile("GeoLite2-City-Test.mmdb"));
  checkRecord(mustFind(*db, "81.2.69.142"), kCity[0]);
  checkRecord(mustFind(*db, "216.160.83.56"), kCity[2]);
}

TEST_CASE("IPv4-mapped IPv6 is looked up as IPv4, prefix in IPv4 bits") {
  auto db = GeoDatabase::open(geoipTestFile("GeoIP2-City-Test.mmdb"));
  checkRecord(mustFind(*db, "::ffff:81.2.69.142"), kCity[0]);
  checkRecord(mustFind(*db, "::ffff:175.16.199.7"), kCity[4]);
}

TEST_CASE("IPv4 through ClientSubnet, and an unknown client") {
  auto db = GeoDatabase::open(geoipTestFile("GeoIP2-City-Test.mmdb"));
  const uint8_t ecs[] = {175, 16, 199};
  const auto client = meridian::geo::clientFromEcs(1, 24, ecs, sizeof ecs);
  GeoRecord r;
  REQUIRE(db->lookup(client, r));
  CHECK(std::string(r.country) == "CN");
  CHECK(r.prefix == 24);
  r.country[0] = 'X';
  CHECK_FALSE(db->lookup(meridian::geo::ClientSubnet{}, r));
  CHECK(r.country[0] == 0);
}

TEST_CASE("address not in the DB: false, empty record, prefix of the empty network") {
  auto db = GeoDatabase::open(geoipTestFile("GeoIP2-City-Test.mmdb"));
  uint8_t address[16];
  GeoRecord r;
  r.has_location = true;
  REQUIRE(parseAddress("10.1.2.3", address) == 4);
  CHECK_FALSE(db->lookup(address, 4, r));
  CHECK(std::string(r.country).empty());
  CHECK(std::string(r.continent).empty());
  CHECK_FALSE(r.has_location);
  CHECK(r.prefix == 8);  // 10.0.0.0/8 is reserved, so empty in the tree

  REQUIRE(parseAddress("2c0f:ff00::1", address) == 6);
  CHECK_FALSE(db->lookup(address, 6, r));
  CHECK_FALSE(db->lookup(address, 5, r));  // bad family
  CHECK(r.prefix == 0);
  CHECK_FALSE(db->lookup(nullptr, 4, r));
}

TEST_CASE("every network of GeoIP2-City-Test.json is found with its data and prefix") {
  auto db = GeoDatabase::open(geoipTestFile("GeoIP2-City-Test.mmdb"));
  std::ifstream in(geoipTestFile("GeoIP2-City-Test.json"));
  REQUIRE(in);
  const auto source = nlohmann::json::parse(in);
  size_t checked = 0;
  // The file is [{"network": record}, ...]; networks look like "::81.2.69.142/127"
  // (IPv4 under ::/96), "214.1.1.0/24" or "2001:218::/32".
  for (const auto& item : source) {
    for (auto it = item.begin(); it != item.end(); ++it) {
      // Not a structured binding: clang 14 cannot capture one in INFO's lambda.
      const std::string network = it.key();
      const auto& record = it.value();
      INFO(network);
      std::string ip = network.substr(0, network.find('/'));
      unsigned prefix = std::stoul(network.substr(network.find('/') + 1));
      if (ip.rfind("::", 0) == 0 && ip.find('.') != std::string::npos) {
        ip = ip.substr(2);
        prefix -= 96;
      }
      uint8_t address[16];
      const int family = parseAddress(ip, address);
      REQUIRE(family != 0);
      GeoRecord r;
      REQUIRE(db->lookup(address, family, r));
      CHECK(unsigned(r.prefix) == prefix);
      CHECK(std::string(r.country) == record.value("/country/iso_code"_json_pointer, ""));
      CHECK(std::string(r.continent) == record.value("/continent/code"_json_pointer, ""));
      CHECK(std::string(r.subdivision) ==
            record.value("/subdivisions/0/iso_code"_json_pointer, ""));
      if (record.contains("location")) {
        CHECK(r.latitude == doctest::Approx(record["location"]["latitude"].get<double>()));
        CHECK(r.longitude == doctest::Approx(record["location"]["longitude"].get<double>()));
        CHECK_FALSE(r.location_from_country);
      }
      ++checked;
    }
  }
  CHECK(checked > 200);
}

TEST_CASE("Country test DB: location is the country table's representative point") {
  auto db = GeoDatabase::open(geoipTestFile("GeoIP2-Country-Test.mmdb"));
  CHECK(db->info().type == "GeoIP2-Country");
  const GeoRecord gb = mustFind(*db, "81.2.69.142");
  CHECK(std::string(gb.country) == "GB");
  CHECK(std::string(gb.continent) == "EU");
  CHECK(std::string(gb.subdivision).empty());
  CHECK(gb.has_location);
  CHECK(gb.location_from_country);
  CHECK(gb.latitude == doctest::Approx(51.5083));  // London, tzdata zone.tab
  CHECK(gb.longitude == doctest::Approx(-0.1253));
  CHECK(gb.prefix == 31);
  const GeoRecord jp = mustFind(*db, "2001:218::1");
  CHECK(std::string(jp.country) == "JP");
  CHECK(jp.location_from_country);
  CHECK(jp.latitude == doctest::Approx(35.6544));  // Tokyo
  CHECK(jp.prefix == 32);
}

TEST_CASE("metadata is exposed for logging") {
  auto db = GeoDatabase::open(geoipTestFile("GeoIP2-City-Test.mmdb"));
  const auto& info = db->info();
  CHECK(info.type == "GeoIP2-City");
  CHECK(info.ip_version == 6);
  CHECK(info.record_size == 28);
  CHECK(info.node_count == 1547);
  CHECK(info.build_epoch > 1400000000);
  CHECK(info.data_records > 50);
  CHECK(info.description.find("GeoIP2 City Test") != std::string::npos);
  CHECK(info.path == geoipTestFile("GeoIP2-City-Test.mmdb"));
  CHECK(info.summary().find("GeoIP2-City (IPv6 tree, 1547 nodes") == 0);
}

TEST_CASE("broken DB refused at open: GeoIP2-City-Test-Broken-Double-Format") {
  const std::string path = geoipTestFile("GeoIP2-City-Test-Broken-Double-Format.mmdb");
  const std::string error = openError(path);
  CHECK(error.find(path) != std::string::npos);
  CHECK(error.find("corrupt: data record at offset") != std::string::npos);
}

TEST_CASE("broken DB refused at open: GeoIP2-City-Test-Invalid-Node-Count") {
  const std::string path = geoipTestFile("GeoIP2-City-Test-Invalid-Node-Count.mmdb");
  const std::string error = openError(path);
  CHECK(error.find(path) != std::string::npos);
  CHECK(error.find("invalid metadata") != std::string::npos);
}

TEST_CASE("broken DB refused at open: MaxMind-DB-test-broken-pointers-24") {
  const std::string path = geoipTestFile("MaxMind-DB-test-broken-pointers-24.mmdb");
  const std::string error = openError(path);
  CHECK(error.find(path) != std::string::npos);
  CHECK(error.find("corrupt: search tree node") != std::string::npos);
}

TEST_CASE("missing file refused with 'does not exist'") {
  meridian::test::TempDir dir;
  const std::string path = dir.file("nope.mmdb");
  CHECK(openError(path) == "geo database '" + path + "': file does not exist");
}

TEST_CASE("truncated copy of a good DB refused") {
  meridian::test::TempDir dir;
  const std::string good = geoipTestFile("GeoIP2-City-Test.mmdb");
  const auto size = std::filesystem::file_size(good);
  REQUIRE(size > 1000);

  // Cut in half: the metadata at the end is gone.
  const std::string half = dir.file("half.mmdb");
  std::filesystem::copy_file(good, half);
  std::filesystem::resize_file(half, size / 2);
  CHECK(openError(half) ==
        "geo database '" + half +
            "': truncated, or not a MaxMind DB file: no metadata marker at the end");

  // Cut the last 40 bytes: the marker is still there, the metadata map is not whole.
  const std::string tail = dir.file("tail.mmdb");
  std::filesystem::copy_file(good, tail);
  std::filesystem::resize_file(tail, size - 40);
  const std::string error = openError(tail);
  CHECK(error.find(tail) != std::string::npos);
  CHECK(error.find("corrupt or truncated") != std::string::npos);
}

TEST_CASE("empty file, directory and non-MMDB file refused") {
  meridian::test::TempDir dir;
  meridian::test::writeFile(dir.file("empty.mmdb"), "");
  CHECK(openError(dir.file("empty.mmdb")).find("file is empty") != std::string::npos);
  CHECK(openError(dir.path()).find("not a regular file") != std::string::npos);
  meridian::test::writeFile(dir.file("text.mmdb"), "1.2.3.0/24,GB\n");
  CHECK(openError(dir.file("text.mmdb")).find("no metadata marker") != std::string::npos);
}

TEST_CASE("concurrent lookups from several threads agree") {
  auto db = GeoDatabase::open(geoipTestFile("GeoIP2-City-Test.mmdb"));
  uint8_t gb[16], jp[16];
  REQUIRE(parseAddress("81.2.69.142", gb) == 4);
  REQUIRE(parseAddress("2001:218::1", jp) == 6);
  std::vector<int> wrong(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      GeoRecord r;
      for (int i = 0; i < 20000; ++i) {
        if (!db->lookup(gb, 4, r) || r.country[0] != 'G' || r.prefix != 31) ++wrong[t];
        if (!db->lookup(jp, 6, r) || r.country[0] != 'J' || r.prefix != 32) ++wrong[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(wrong == std::vector<int>(4, 0));
}

// The attacks of issue 9 on the file behind an open database. open() used to
// have libmaxminddb map the file itself, so these changed what lookups read:
// SIGBUS past the new end of file, or a half-written tree.
TEST_CASE("geo attack: the file truncated to 0 bytes after open does not reach lookups") {
  meridian::test::TempDir dir;
  const std::string path = dir.file("geo.mmdb");
  std::filesystem::copy_file(geoipTestFile("GeoIP2-City-Test.mmdb"), path);
  const auto db = GeoDatabase::open(path);
  std::filesystem::resize_file(path, 0);
  checkRecord(mustFind(*db, "175.16.199.0"), kCity[4]);
  checkRecord(mustFind(*db, "2a02:d300::1"), kCity[10]);
}

TEST_CASE("geo attack: a broken file copied over the open one in place does not reach lookups") {
  meridian::test::TempDir dir;
  const std::string path = dir.file("geo.mmdb");
  std::filesystem::copy_file(geoipTestFile("GeoIP2-City-Test.mmdb"), path);
  const auto db = GeoDatabase::open(path);
  const auto inode = db->info().stamp.inode;
  {
    // What `cp broken.mmdb geo.mmdb` does: truncate and rewrite the same inode.
    std::ifstream in(geoipTestFile("MaxMind-DB-test-broken-pointers-24.mmdb"), std::ios::binary);
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
  }
  REQUIRE(meridian::geo::stampFile(path)->inode == inode);
  for (const Expected& e : kCity) checkRecord(mustFind(*db, e.ip), e);
}

TEST_CASE("open records the version of the file it read") {
  meridian::test::TempDir dir;
  const std::string path = dir.file("geo.mmdb");
  std::filesystem::copy_file(geoipTestFile("GeoIP2-City-Test.mmdb"), path);
  const auto db = GeoDatabase::open(path);
  const auto stamp = meridian::geo::stampFile(path);
  REQUIRE(stamp.has_value());
  CHECK(db->info().stamp == *stamp);
  CHECK(stamp->size == static_cast<int64_t>(std::filesystem::file_size(path)));
  CHECK_FALSE(meridian::geo::stampFile(dir.file("missing.mmdb")).has_value());
}
