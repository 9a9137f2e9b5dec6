// The --geodb file attacked on disk while meridiand serves from it: a broken
// file copied over it in place, the file truncated to nothing, and good files
// copied over it in place again and again under load. meridiand must neither
// crash (its database used to be a mapping of that very file, so a shorter
// file meant SIGBUS on the next lookup) nor answer from a half-written tree;
// it keeps the previous database until a complete, valid file has settled.

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/api/api_test_util.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;

namespace {

const std::string kGeoData = std::string(MERIDIAN_SOURCE_DIR) + "/tests/data/geoip/";

// A client in each region's continent (MaxMind's City test data) and the
// endpoint that `nearest` hands it. An unlocated client gets the first listed
// region (eu-west), so the American and Asian clients show a lost database.
struct Client {
  const char* name;
  std::vector<uint8_t> subnet;
  uint8_t prefix;
  const char* expected;
};
const std::vector<Client> kClients = {
    {"London", {81, 2, 69, 142}, 32, "192.0.2.10"},
    {"Milton, US", {216, 160, 83, 56}, 32, "198.51.100.10"},
    {"China", {175, 16, 199}, 24, "203.0.113.10"},  // ECS sends prefix/8 octets
};

uint64_t inodeOf(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

// The API token (at least 32 characters, as meridiand requires).
constexpr const char* kToken = "geo-replace-test-token-0123456789";

// meridiand serving gslb.example. with a nearest-policy name over three
// regions, locating clients with a copy of GeoIP2-City-Test.mmdb in its
// work directory (the file the tests attack).
struct GeoDeployment {
  TempDir dir;
  std::string token_file = dir.file("token");
  std::string geodb = dir.file("geo.mmdb");
  std::unique_ptr<MeridiandProcess> meridiand;

  GeoDeployment() {
    writeFile(token_file, std::string(kToken) + "\n");
    runCommand("cp " + kGeoData + "GeoIP2-City-Test.mmdb " + geodb);
    meridiand = std::make_unique<MeridiandProcess>(
        dir.file("m.db"), dir.path(),
        // --rrl-rate 0: the load below asks one name from 127.0.0.1 far
        // faster than a real client, which is what rate limiting is for.
        std::vector<std::string>{"--api-token-file", token_file, "--geodb", geodb, "--rrl-rate",
                                 "0"});
    REQUIRE(call("POST", "/api/v1/zones",
                 {{"name", "gslb.example."}, {"nameservers", {"ns1.gslb.example."}}})
                .status == 201);
    for (const auto& [name, lat, lon] : std::vector<std::tuple<std::string, double, double>>{
             {"eu-west", 53.35, -6.26}, {"us-east", 38.9, -77.04}, {"ap-east", 35.68, 139.75}}) {
      REQUIRE(
          call("POST", "/api/v1/regions", {{"name", name}, {"latitude", lat}, {"longitude", lon}})
              .status == 201);
    }
    for (const auto& [name, region, address] :
         std::vector<std::tuple<std::string, std::string, std::string>>{
             {"eu-1", "eu-west", "192.0.2.10"},
             {"us-1", "us-east", "198.51.100.10"},
             {"ap-1", "ap-east", "203.0.113.10"}}) {
      REQUIRE(call("POST", "/api/v1/endpoints",
                   {{"name", name}, {"region", region}, {"address", address}})
                  .status == 201);
    }
    REQUIRE(call("PUT", "/api/v1/zones/gslb.example./steering/www",
                 {{"type", "A"},
                  {"policy", "nearest"},
                  {"regions", {"eu-west", "us-east", "ap-east"}},
                  {"ttl", 20}})
                    .status /
                100 ==
            2);
    // Served within a moment of the write.
    for (int i = 0; i < 200 && answer(kClients[1]) != kClients[1].expected; ++i) {
      std::this_thread::sleep_for(10ms);
    }
    REQUIRE(answer(kClients[1]) == kClients[1].expected);
  }

  HttpReply call(const std::string& method, const std::string& path, const nlohmann::json& body) {
    const std::string url = "http://127.0.0.1:" + std::to_string(meridiand->apiPort()) + path;
    return httpRequest(
        method, url, body.dump(),
        {std::string("Authorization: Bearer ") + kToken, "Content-Type: application/json"});
  }

  // The A record www.gslb.example answers for `client`'s subnet, "" when none
  // (no reply at all: meridiand died or did not answer within a second).
  std::string answer(const Client& client) const {
    QueryOptions options;
    options.edns = true;
    options.ecs = true;
    options.ecs_source = client.prefix;
    options.ecs_address = client.subnet;
    const auto reply =
        udpExchange(meridiand->dnsPort(), makeQuery("www.gslb.example", options), 1000ms);
    if (!reply) return "";
    const Response r = decode(*reply);
    if (r.answer.size() != 1) return "";
    return r.answer[0].substr(r.answer[0].rfind(' ') + 1);
  }

  // -1 while meridiand runs, else its exit status (135: killed by SIGBUS).
  int exitStatus() { return meridiand->process().wait(0ms); }
  std::string log() const { return meridiand->log(); }

  size_t count(const std::string& text) const {
    const std::string l = log();
    size_t n = 0;
    for (size_t at = l.find(text); at != std::string::npos; at = l.find(text, at + 1)) ++n;
    return n;
  }

  // Asks every client for `duration`; returns how many answers were wrong.
  int askFor(std::chrono::milliseconds duration, int* asked = nullptr) {
    int wrong = 0;
    const auto end = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < end) {
      for (const Client& c : kClients) {
        const std::string got = answer(c);
        if (asked) ++*asked;
        if (got != c.expected) {
          if (wrong < 3) {
            MESSAGE(std::string(c.name)
                    << ": got '" << got << "', expected " << std::string(c.expected));
          }
          ++wrong;
        }
      }
    }
    return wrong;
  }
};

#define CHECK_ALIVE(d)                                                      \
  do {                                                                      \
    const int status = (d).exitStatus();                                    \
    CHECK_MESSAGE(status == -1, "meridiand exited with status " << status); \
  } while (false)

bool waitForLog(GeoDeployment& d, const std::string& text, size_t at_least,
                std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (d.count(text) < at_least) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

}  // namespace

TEST_CASE(
    "geo attack: a broken file copied over --geodb in place, then ECS queries: no crash, "
    "no answer from the broken file") {
  GeoDeployment d;
  const uint64_t inode = inodeOf(d.geodb);
  runCommand("cp " + kGeoData + "MaxMind-DB-test-broken-pointers-24.mmdb " + d.geodb);
  REQUIRE(inodeOf(d.geodb) == inode);  // written in place, not renamed over
  // Straight away (the old mapping now ends at 1,289 bytes), and on through
  // the reload that refuses the file.
  CHECK(d.askFor(1500ms) == 0);
  CHECK_ALIVE(d);
  CHECK(waitForLog(d, "geo database not reloaded, keeping the previous one", 1, 5000ms));
  CHECK(d.askFor(300ms) == 0);
  CHECK_ALIVE(d);
}

TEST_CASE("geo attack: --geodb truncated to 0 bytes in place, then ECS queries: no crash") {
  GeoDeployment d;
  runCommand("truncate -s 0 " + d.geodb);
  CHECK(d.askFor(1500ms) == 0);
  CHECK_ALIVE(d);
  CHECK(waitForLog(d, "file is empty", 1, 5000ms));
  CHECK(d.askFor(300ms) == 0);
  CHECK_ALIVE(d);

  // A good file renamed over it (the safe way) is picked up.
  const size_t loaded = d.count("geo database GeoIP2-Country");
  runCommand("cp " + kGeoData + "GeoIP2-Country-Test.mmdb " + d.geodb + ".new && mv " + d.geodb +
             ".new " + d.geodb);
  CHECK(waitForLog(d, "geo database GeoIP2-Country", loaded + 1, 5000ms));
}

TEST_CASE(
    "geo attack: good files copied over --geodb in place under load: no answer from a "
    "half-written tree") {
  GeoDeployment d;
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0}, asked{0};
  std::thread load([&] {
    while (!stop.load()) {
      int n = 0;
      wrong += d.askFor(50ms, &n);
      asked += n;
    }
  });
  const size_t loaded_before = d.count("geo database GeoIP2-City");
  const uint64_t inode = inodeOf(d.geodb);
  for (int i = 0; i < 8; ++i) {
    // The same database each time, so any other answer came from a file
    // caught half-written.
    runCommand("cp " + kGeoData + "GeoIP2-City-Test.mmdb " + d.geodb);
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 100 * (i % 4)));
  }
  CHECK(inodeOf(d.geodb) == inode);
  std::this_thread::sleep_for(2s);  // the last copy settles and is loaded
  stop = true;
  load.join();
  MESSAGE(asked.load() << " answers during 8 in-place copies, " << wrong.load() << " wrong");
  CHECK(asked.load() > 100);
  CHECK(wrong.load() == 0);
  CHECK_ALIVE(d);
  // The final file was loaded (it is complete and valid), not ignored.
  CHECK(d.count("geo database GeoIP2-City") > loaded_before);
}
