// meridiand's API against trouble with its database file: another process
// holding the write lock, the file deleted or replaced while it runs. The real
// meridiand, real HTTP (libcurl), dig, and a second SQLite connection of this
// test process holding BEGIN EXCLUSIVE.

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "tests/api/api_test_util.h"
#include "tests/support/process.h"

namespace meridian::test {

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

const std::string kGuardToken = "store-guard-e2e-token-0123456789abcdef";

struct GuardedMeridiand {
  explicit GuardedMeridiand(const TempDir& dir)
      : db(dir.file("m.db")),
        token_file((writeFile(dir.file("api.token"), kGuardToken + "\n"), dir.file("api.token"))),
        process(db, dir.path(), {"--api-token-file", token_file, "--demo", "--no-geodb"}) {}
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(process.apiPort()) + path;
  }
  HttpReply call(const std::string& method, const std::string& path, const json& body,
                 long timeout_ms = 30000) const {
    HttpOptions options;
    options.timeout_ms = timeout_ms;
    return httpRequest(method, url(path), body.dump(),
                       {"Authorization: Bearer " + kGuardToken, "Content-Type: application/json"},
                       options);
  }
  std::string db;
  std::string token_file;
  MeridiandProcess process;
};

// GET `path` without a token; the status, or 0 when no answer came within
// `timeout_ms`; `*millis` receives how long it took.
long timedGet(const std::string& url, long timeout_ms, int64_t* millis) {
  const auto start = Clock::now();
  long status = 0;
  try {
    HttpOptions options;
    options.timeout_ms = timeout_ms;
    status = httpRequest("GET", url, std::nullopt, {}, options).status;
  } catch (const std::exception&) {
  }
  *millis = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  return status;
}

bool exists(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0;
}

}  // namespace

TEST_CASE("database lock: another process holding BEGIN EXCLUSIVE stalls no liveness route") {
  TempDir dir;
  GuardedMeridiand m(dir);
  sqlite3* holder = nullptr;
  REQUIRE(sqlite3_open(m.db.c_str(), &holder) == SQLITE_OK);
  sqlite3_busy_timeout(holder, 5000);
  REQUIRE(sqlite3_exec(holder, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
  // Writers queue behind the lock (their busy timeout is 10 s): more of them
  // than the API has ever had threads.
  std::atomic<int> created{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < 6; ++i) {
    writers.emplace_back([&, i] {
      try {
        const HttpReply r =
            m.call("POST", "/api/v1/regions",
                   json{{"name", numbered("r", i)}, {"latitude", 1}, {"longitude", 2}});
        if (r.status == 201) ++created;
      } catch (const std::exception&) {
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // Liveness, readiness and metrics come from memory: each is answered at
  // once, on a fresh connection, while the lock is held. (The lock is held
  // for as long as these take; the writers wait 10 s at most.)
  for (int round = 0; round < 3; ++round) {
    for (const char* path : {"/healthz", "/readyz", "/metrics"}) {
      int64_t millis = 0;
      const long status = timedGet(m.url(path), 8000, &millis);
      CAPTURE(path);
      CHECK(status == 200);
      CHECK(millis < 1500);
    }
  }
  REQUIRE(sqlite3_exec(holder, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(holder);
  for (auto& w : writers) w.join();
  CHECK(created == 6);  // the writers only waited
}

TEST_CASE("database deleted under meridiand: writes are refused loudly, DNS keeps serving") {
  TempDir dir;
  GuardedMeridiand m(dir);
  REQUIRE(m.call("PUT", "/api/v1/zones/demo.meridian.example./rrsets/before/A",
                 json{{"ttl", 60}, {"records", {"192.0.2.99"}}})
              .status == 201);
  // Served before the file goes: a reload that finds the file deleted keeps
  // the snapshot it has, so deleting at once could leave the write unserved.
  bool served = false;
  for (int i = 0; i < 100 && !served; ++i) {
    served = dig(m.process.dnsPort(), "+short before.demo.meridian.example A") == "192.0.2.99";
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(served);
  REQUIRE(std::remove(m.db.c_str()) == 0);  // -wal and -shm stay as SQLite left them
  int refused = 0;
  for (int i = 0; i < 16; ++i) {
    const HttpReply r =
        m.call("PUT", "/api/v1/zones/demo.meridian.example./rrsets/w" + std::to_string(i) + "/A",
               json{{"ttl", 60}, {"records", {"192.0.2.1"}}});
    CAPTURE(r.body);
    if (r.status == 503 && r.content_type == "application/problem+json" &&
        r.json()["detail"].get<std::string>().find(m.db) != std::string::npos &&
        r.json()["detail"].get<std::string>().find("deleted") != std::string::npos) {
      ++refused;
    }
  }
  CHECK(refused == 16);
  CHECK_FALSE(exists(m.db));  // no new, empty database at the path
  // Reads would come from the lost file: refused as well.
  CHECK(m.call("GET", "/api/v1/zones", json()).status == 503);
  // Not ready (the check runs in the background: allow it a few seconds).
  long ready = 0;
  std::string detail;
  for (int i = 0; i < 50 && ready != 503; ++i) {
    const HttpReply r = httpRequest("GET", m.url("/readyz"));
    ready = r.status;
    detail = r.body;
    if (ready != 503) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(ready == 503);
  CHECK(detail.find(m.db) != std::string::npos);
  CHECK(httpRequest("GET", m.url("/healthz")).status == 200);
  // DNS answers from the last snapshot, which has the write made before.
  CHECK(dig(m.process.dnsPort(), "+short before.demo.meridian.example A") == "192.0.2.99");
  CHECK(dig(m.process.dnsPort(), "+short mail.demo.meridian.example A") == "192.0.2.25");
  CHECK(m.process.log().find("error") != std::string::npos);
  CHECK(m.process.log().find(m.db) != std::string::npos);
  CHECK_FALSE(exists(m.db));
}

TEST_CASE("database replaced under meridiand: writes are refused, DNS keeps the last snapshot") {
  TempDir dir;
  GuardedMeridiand m(dir);
  // Another database (empty, freshly made) renamed over the path.
  const std::string other = dir.file("other.db");
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(other.c_str(), &db) == SQLITE_OK);
    sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr);
    sqlite3_close(db);
  }
  REQUIRE(std::rename(other.c_str(), m.db.c_str()) == 0);
  const HttpReply r = m.call("PUT", "/api/v1/zones/demo.meridian.example./rrsets/x/A",
                             json{{"ttl", 60}, {"records", {"192.0.2.1"}}});
  CHECK(r.status == 503);
  CHECK(r.json()["detail"].get<std::string>().find("replaced") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // ten reload polls
  CHECK(dig(m.process.dnsPort(), "+short mail.demo.meridian.example A") == "192.0.2.25");
}

}  // namespace meridian::test
