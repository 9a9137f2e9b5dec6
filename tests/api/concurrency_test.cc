// Several clients writing at once: every acknowledged write is stored, none
// is lost or half-written, and the server keeps answering.

#include <doctest/doctest.h>

#include <thread>

#include "tests/api/api_test_util.h"
#include "zones/database.h"

namespace meridian::test {

TEST_CASE("api: concurrent writers each get their writes stored") {
  ApiFixture api;
  api.seed();
  constexpr int kThreads = 6;
  constexpr int kPerThread = 25;
  std::vector<std::vector<long>> statuses(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // +=, not "literal" + temporary: g++ 12 -O3 false -Wrestrict
        std::string name = "t";
        name += std::to_string(t);
        name += '-';
        name += std::to_string(i);
        const nlohmann::json body = {
            {"name", name},
            {"region", t % 2 ? "eu-west" : "us-east"},
            {"address", "198.51.100." + std::to_string(t * kPerThread + i + 1)}};
        try {
          statuses[t].push_back(api.call("POST", "/api/v1/endpoints", body).status);
        } catch (const std::exception&) {
          statuses[t].push_back(-1);
        }
      }
    });
  }
  // A writer racing for the same name: exactly one of them wins.
  std::vector<long> racers(4);
  std::vector<std::thread> race;
  for (int r = 0; r < 4; ++r) {
    race.emplace_back([&, r] {
      racers[r] = api.call("POST", "/api/v1/endpoints",
                           nlohmann::json{{"name", "contested"},
                                          {"region", "eu-west"},
                                          {"address", "192.0.2." + std::to_string(r + 1)}})
                      .status;
    });
  }
  for (auto& t : threads) t.join();
  for (auto& t : race) t.join();

  int acknowledged = 0;
  for (const auto& list : statuses) {
    for (long s : list) {
      CHECK(s == 201);
      acknowledged += s == 201;
    }
  }
  CHECK(std::count(racers.begin(), racers.end(), 201) == 1);
  CHECK(std::count(racers.begin(), racers.end(), 409) == 3);

  const nlohmann::json list = api.call("GET", "/api/v1/endpoints").json();
  CHECK(list.size() == static_cast<size_t>(acknowledged + 1));
  zones::Database db(api.dbPath());
  zones::Statement count = db.prepare("SELECT count(*) FROM endpoints");
  count.step();
  CHECK(count.columnInt(0) == kThreads * kPerThread + 1);
  zones::Statement check = db.prepare("PRAGMA integrity_check");
  check.step();
  CHECK(check.columnText(0) == "ok");
  CHECK(api.changedCalls() >= kThreads * kPerThread + 1);
}

}  // namespace meridian::test
