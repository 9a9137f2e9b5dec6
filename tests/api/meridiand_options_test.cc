// meridiand checks every option before it opens the database, binds a socket
// or answers a query: a bad option is exit status 1 and one error line that
// names the option and the file, and the DNS port never answers meanwhile.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "tests/api/api_test_util.h"
#include "tests/support/net.h"
#include "tests/support/process.h"

namespace meridian::test {

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A socket bound to 127.0.0.1:port (0 = any free port); closed on destruction.
struct BoundSocket {
  explicit BoundSocket(int type, uint16_t want = 0) {
    fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(want);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    if (type == SOCK_STREAM) REQUIRE(listen(fd, 4) == 0);
    socklen_t length = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
  }
  ~BoundSocket() { close(fd); }
  int fd = -1;
  uint16_t port = 0;
};

uint16_t freeUdpPort() {
  return BoundSocket(SOCK_DGRAM).port;
}

struct Outcome {
  int status = -1;
  std::string log;
  int answered = 0;  // DNS replies seen on the port while meridiand ran
  bool db_created = false;
  bool ready_written = false;
};

// Runs meridiand with `extra` on 127.0.0.1:dns_port until it exits, asking
// for the demo zone's SOA on that port the whole time.
Outcome runMeridiand(const TempDir& dir, uint16_t dns_port, const std::vector<std::string>& extra) {
  std::vector<std::string> argv = {buildPath("server/meridiand"),
                                   "--db",
                                   dir.file("m.db"),
                                   "--dns-listen",
                                   "127.0.0.1:" + std::to_string(dns_port),
                                   "--threads",
                                   "1",
                                   "--demo"};
  bool api_given = false;
  bool ready_given = false;
  bool geodb_given = false;
  for (const std::string& arg : extra) {
    api_given |= arg == "--api-listen" || arg == "--no-api";
    ready_given |= arg == "--ready-file";
    geodb_given |= arg == "--geodb";
  }
  if (!geodb_given) argv.push_back("--no-geodb");
  if (!api_given) argv.insert(argv.end(), {"--api-listen", "127.0.0.1:0"});
  if (!ready_given) argv.insert(argv.end(), {"--ready-file", dir.file("ready.json")});
  argv.insert(argv.end(), extra.begin(), extra.end());

  Outcome outcome;
  Process process(argv, dir.file("meridiand.log"));
  const std::vector<uint8_t> query = makeQuery("demo.meridian.example.", {.qtype = 6});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (process.running() && std::chrono::steady_clock::now() < deadline) {
    if (udpExchange(dns_port, query, std::chrono::milliseconds(20))) ++outcome.answered;
  }
  outcome.status = process.wait(std::chrono::seconds(10));
  outcome.log = readFile(dir.file("meridiand.log"));
  outcome.db_created = std::filesystem::exists(dir.file("m.db"));
  outcome.ready_written = std::filesystem::exists(dir.file("ready.json"));
  return outcome;
}

void checkRefusedEarly(const Outcome& outcome) {
  CHECK(outcome.status == 1);
  CHECK(outcome.answered == 0);
  CHECK_FALSE(contains(outcome.log, "serving"));
  CHECK_FALSE(outcome.db_created);  // refused before the database was even opened
  CHECK_FALSE(outcome.ready_written);
  // One error line, nothing else logged.
  CHECK(std::count(outcome.log.begin(), outcome.log.end(), '\n') == 1);
}

}  // namespace

TEST_CASE("meridiand: a missing --api-token-file is refused before DNS is served") {
  TempDir dir;
  const std::string missing = dir.file("missing.token");
  const Outcome outcome = runMeridiand(dir, freeUdpPort(), {"--api-token-file", missing});
  INFO(outcome.log);
  checkRefusedEarly(outcome);
  CHECK(contains(outcome.log, "error meridiand: --api-token-file: token file " + missing +
                                  ": cannot read: No such file or directory"));
}

TEST_CASE("meridiand: the token is checked before the DNS port is even tried") {
  // We hold the DNS port. Binding first would fail with "address already in
  // use"; the token's error shows the options were checked before that.
  TempDir dir;
  BoundSocket udp(SOCK_DGRAM);
  const std::string missing = dir.file("missing.token");
  const Outcome outcome = runMeridiand(dir, udp.port, {"--api-token-file", missing});
  INFO(outcome.log);
  CHECK(outcome.status == 1);
  CHECK(contains(outcome.log, "--api-token-file: token file " + missing));
  CHECK_FALSE(contains(outcome.log, "already in use"));
}

TEST_CASE("meridiand: every bad option is one clear error before anything is served") {
  TempDir dir;
  BoundSocket busy_api(SOCK_STREAM);
  const std::string busy = "127.0.0.1:" + std::to_string(busy_api.port);
  writeFile(dir.file("two-lines.token"), "first\nsecond\n");
  writeFile(dir.file("short.token"), "abcde\n");
  const std::string token(40, 'w');
  writeFile(dir.file("write.token"), token + "\n");
  writeFile(dir.file("same.token"), token + "\n");
  chmod(dir.file("write.token").c_str(), 0600);  // no "readable by others" warning
  chmod(dir.file("same.token").c_str(), 0600);
  writeFile(dir.file("garbage.pem"), "-----BEGIN CERTIFICATE-----\nnot base64\n");
  struct Case {
    std::vector<std::string> extra;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"--api-token-file", dir.file("two-lines.token")},
       "--api-token-file: token file " + dir.file("two-lines.token") +
           ": must hold one token on one line"},
      {{"--geodb", dir.file("none.mmdb")},
       "--geodb " + dir.file("none.mmdb") + ": cannot read: No such file or directory"},
      {{"--geodb", dir.path()}, "--geodb " + dir.path() + ": is not a regular file"},
      {{"--dns-listen", "192.0.2:53"}, "--dns-listen 192.0.2:53: listen address \"192.0.2:53\""},
      {{"--dns-listen", "127.0.0.1"},
       "--dns-listen 127.0.0.1: listen address \"127.0.0.1\" is not ADDR:PORT (it needs a port"},
      {{"--api-listen", "nonsense"},
       "--api-listen nonsense: API listen address \"nonsense\" is not ADDR:PORT"},
      {{"--api-listen", busy},
       "--api-listen " + busy + ": cannot listen on " + busy +
           " for the API: Address already in use"},
      {{"--ready-file", dir.file("no/such/ready.json")},
       "--ready-file " + dir.file("no/such/ready.json") + ": cannot write in " +
           dir.file("no/such") + ": No such file or directory"},
      {{"--log-level", "loud"}, "--log-level: log level must be debug, info, warn or error"},
      {{"--api-token-file", dir.file("short.token")},
       "--api-token-file: token file " + dir.file("short.token") +
           ": the token has 5 characters; at least 32 are required"},
      {{"--api-read-token-file", dir.file("short.token")},
       "--api-read-token-file: token file " + dir.file("short.token") + ": the token has 5"},
      {{"--api-token-file", dir.file("write.token"), "--api-read-token-file",
        dir.file("same.token")},
       "--api-read-token-file " + dir.file("same.token") +
           ": holds the same token as --api-token-file"},
      {{"--api-tls-cert", dir.file("garbage.pem")}, "--api-tls-cert needs --api-tls-key"},
      {{"--api-tls-key", dir.file("garbage.pem")}, "--api-tls-key needs --api-tls-cert"},
      {{"--api-tls-cert", dir.file("none.pem"), "--api-tls-key", dir.file("garbage.pem")},
       "--api-tls-cert " + dir.file("none.pem") + ": cannot read: No such file or directory"},
      {{"--api-tls-cert", dir.file("garbage.pem"), "--api-tls-key", dir.file("garbage.pem")},
       "--api-tls-cert " + dir.file("garbage.pem") + " --api-tls-key " + dir.file("garbage.pem") +
           ": the certificate and key cannot serve TLS"},
      {{"--api-max-connections", "4", "--api-max-connections-per-client", "8"},
       "--api-max-connections-per-client 8: is more than --api-max-connections (4)"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.message);
    TempDir run_dir;
    const Outcome outcome = runMeridiand(run_dir, freeUdpPort(), c.extra);
    INFO(outcome.log);
    checkRefusedEarly(outcome);
    CHECK(contains(outcome.log, c.message));
  }
}

TEST_CASE("meridiand: --check reads an explicit token file but binds nothing") {
  TempDir dir;
  BoundSocket busy_api(SOCK_STREAM);
  writeFile(dir.file("t"), "check-token-check-token-check-token\n");
  int status = -1;
  const std::string out = runCommand(
      buildPath("server/meridiand") + " --db " + dir.file("m.db") + " --demo --no-geodb --check" +
          " --api-listen 127.0.0.1:" + std::to_string(busy_api.port) + " --api-token-file " +
          dir.file("t") + " 2>&1",
      &status);
  INFO(out);
  CHECK(status == 0);  // a running meridiand holding the API port does not fail --check
  CHECK(contains(out, "ok: "));
  const std::string missing =
      runCommand(buildPath("server/meridiand") + " --db " + dir.file("m.db") +
                     " --no-geodb --check" + " --api-token-file " + dir.file("gone") + " 2>&1",
                 &status);
  CHECK(status == 1);
  CHECK(contains(missing, "--api-token-file: token file " + dir.file("gone")));
}

}  // namespace meridian::test
