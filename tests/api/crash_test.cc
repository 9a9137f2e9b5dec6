// kill -9 of the API's process during a burst of writes: the database
// reopens consistent, with every acknowledged write present.

#include <doctest/doctest.h>
#include <signal.h>

#include <set>
#include <thread>

#include "tests/api/api_test_util.h"
#include "tests/support/process.h"
#include "zones/database.h"
#include "zones/steering_store.h"

namespace meridian::test {

TEST_CASE("api: SIGKILL during a write burst loses no acknowledged write") {
  TempDir dir;
  const std::string db = dir.file("crash.db");
  const std::string ready = dir.file("ready.json");
  Process server({buildPath("tests/api/api-test-server"), db, ready}, dir.file("server.log"));
  std::string json;
  for (int i = 0; i < 500 && json.empty(); ++i) {
    json = readFile(ready);
    if (json.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE_FALSE(json.empty());
  const std::string port =
      json.substr(json.rfind(':') + 1, json.find('"', json.rfind(':')) - json.rfind(':') - 1);
  const std::string base = "http://127.0.0.1:" + port;
  const std::string token = readFile(db + ".token").substr(0, 64);
  const std::vector<std::string> headers = {"Authorization: Bearer " + token,
                                            "Content-Type: application/json"};
  REQUIRE(httpRequest("POST", base + "/api/v1/regions",
                      R"({"name":"r","latitude":1,"longitude":2})", headers)
              .status == 201);

  // Two writers; the server is killed while they run.
  std::vector<std::vector<std::string>> acknowledged(2);
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < 100000; ++i) {
        // +=, not "literal" + temporary: g++ 12 -O3 false -Wrestrict
        std::string name = "w";
        name += std::to_string(w);
        name += '-';
        name += std::to_string(i);
        const nlohmann::json body = {
            {"name", name},
            {"region", "r"},
            {"address", "198.51." + std::to_string(w) + "." + std::to_string(i % 250 + 1)}};
        try {
          if (httpRequest("POST", base + "/api/v1/endpoints", body.dump(), headers).status != 201) {
            return;
          }
        } catch (const std::exception&) {
          return;  // the server is gone
        }
        acknowledged[w].push_back(name);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  server.signal(SIGKILL);
  for (auto& t : writers) t.join();
  CHECK(server.wait(std::chrono::milliseconds(5000)) == 128 + SIGKILL);

  const size_t total = acknowledged[0].size() + acknowledged[1].size();
  MESSAGE("acknowledged before the kill: " << total);
  CHECK(total > 10);
  zones::Database reopened(db, false);
  zones::Statement check = reopened.prepare("PRAGMA integrity_check");
  REQUIRE(check.step());
  CHECK(check.columnText(0) == "ok");
  const auto stored = zones::listEndpoints(reopened);
  std::set<std::string> names;
  for (const auto& e : stored) names.insert(e.name);
  size_t missing = 0;
  for (const auto& list : acknowledged) {
    for (const auto& name : list) missing += names.count(name) == 0;
  }
  CHECK(missing == 0);
  // At most the one in flight per writer can be stored without its answer.
  CHECK(stored.size() <= total + 2);
}

}  // namespace meridian::test
