// Live reload under load: while clients query without pause, a zone change
// is committed; the new answer must be served (within a second in practice:
// tools/bench reload measures it), and no query may be lost or answered from
// anything but the old or the new data.

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <signal.h>
#include <thread>

#include "tests/support/dns_test_util.h"
#include "tests/support/example_zone.h"
#include "tests/support/net.h"
#include "tests/support/process.h"
#include "zones/database.h"
#include "zones/zone_io.h"

using namespace meridian;
using namespace meridian::test;
using namespace std::chrono_literals;

namespace {

std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// A client that queries www.example.com A in a loop and classifies answers.
struct LoadClient {
  std::atomic<uint64_t> sent{0}, old_answers{0}, new_answers{0}, bad{0}, lost{0};
  std::atomic<bool> went_back{false};  // an old answer after a new one
  std::atomic<bool> stop{false};

  void run(uint16_t port) {
    bool seen_new = false;
    uint16_t id = 0;
    while (!stop) {
      QueryOptions o;
      o.id = ++id;
      ++sent;
      const auto reply = udpExchange(port, makeQuery("www.example.com", o), 1000ms);
      if (!reply) {
        ++lost;
        continue;
      }
      const Response r = decode(*reply);
      std::vector<std::string> answer = r.answer;
      std::sort(answer.begin(), answer.end());
      if (r.rcode == 0 && r.id == id && answer.size() == 2 &&
          answer[0] == "www.example.com. 3600 IN A 192.0.2.10" &&
          answer[1] == "www.example.com. 3600 IN A 192.0.2.11") {
        ++old_answers;
        if (seen_new) went_back = true;
      } else if (r.rcode == 0 && r.id == id && answer.size() == 1 &&
                 answer[0] == "www.example.com. 60 IN A 192.0.2.12") {
        ++new_answers;
        seen_new = true;
      } else {
        ++bad;
      }
    }
  }
};

}  // namespace

TEST_CASE("a committed zone change is served under load, with no query lost") {
  TempDir dir;
  const std::string db_path = dir.file("meridian.db");
  zones::Database db(db_path);
  zones::storeZone(db, zones::parseZoneText(kExampleZone, "test", "example.com."));
  // Poll at the default rate, as in production. --rrl-rate 0: three
  // clients on one address asking one name without pause is what response
  // rate limiting limits; this test is about reloads.
  Process process({buildPath("server/meridiand"), "--db", db_path, "--dns-listen", "127.0.0.1:0",
                   "--no-api", "--threads", "2", "--ready-file", dir.file("ready.json"),
                   "--rrl-rate", "0"},
                  dir.file("meridiand.log"));
  std::string ready;
  for (int i = 0; i < 500 && ready.empty(); ++i) {
    std::this_thread::sleep_for(20ms);
    ready = readFile(dir.file("ready.json"));
  }
  REQUIRE_FALSE(ready.empty());
  const uint16_t port = static_cast<uint16_t>(
      std::stoi(ready.substr(ready.rfind(':') + 1, ready.find('"', ready.rfind(':')) - ready.rfind(':') - 1)));

  LoadClient clients[3];
  std::vector<std::thread> threads;
  for (auto& c : clients) threads.emplace_back([&c, port] { c.run(port); });
  std::this_thread::sleep_for(500ms);

  // A bigger zone alongside, so the rebuild takes real work.
  std::string bulk = "$ORIGIN bulk.example.\n$TTL 300\n@ SOA ns host 1 2 3 4 5\n@ NS ns\n";
  for (int i = 0; i < 20000; ++i) {
    // +=, not "literal" + temporary: g++ 12 -O3 false -Wrestrict
    bulk += 'h';
    bulk += std::to_string(i);
    bulk += " A 192.0.2.";
    bulk += std::to_string(i % 250);
    bulk += '\n';
  }
  zones::storeZone(db, zones::parseZoneText(bulk, "bulk", "bulk.example."));

  std::string changed = replaced(kExampleZone, "www      IN A    192.0.2.10\nwww      IN A    192.0.2.11\n",
                                 "www   60 IN A    192.0.2.12\n");
  const auto committed = std::chrono::steady_clock::now();
  zones::storeZone(db, zones::parseZoneText(changed, "test", "example.com."));
  std::chrono::milliseconds visible_after{-1};
  // Two full rebuilds may stand between the commit and the answer (the bulk
  // zone's, then this one's): under ASan on a 2-core machine at load 9 this
  // took 5.5 and 5.7 s in 2 of 50 runs, hence a deadline well past that.
  while (std::chrono::steady_clock::now() - committed < 20s) {
    if (dig(port, "+short www.example.com") == "192.0.2.12") {
      visible_after = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - committed);
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  std::this_thread::sleep_for(500ms);
  for (auto& c : clients) c.stop = true;
  for (auto& t : threads) t.join();

  MESSAGE("new answer visible after " << visible_after.count() << " ms");
  // The 1 s promise itself is measured by `tools/bench reload`; the 20 s
  // deadline above only separates "served" from "lost" (-1).
  CHECK(visible_after.count() >= 0);
  for (auto& c : clients) {
    CHECK(c.sent > 100);
    CHECK(c.lost == 0);
    CHECK(c.bad == 0);
    CHECK(c.old_answers > 0);
    CHECK(c.new_answers > 0);
    CHECK_FALSE(c.went_back);
  }
  CHECK(dig(port, "+short h19999.bulk.example") == "192.0.2.249");
  process.signal(SIGTERM);
  CHECK(process.wait(5000ms) == 0);
}

TEST_CASE("a change that cannot be compiled keeps the previous snapshot serving") {
  TempDir dir;
  const std::string db_path = dir.file("meridian.db");
  zones::Database db(db_path);
  zones::storeZone(db, zones::parseZoneText(kExampleZone, "test", "example.com."));
  MeridiandProcess meridiand(db_path, dir.path());
  // Bypass the store's validation to commit data the compiler refuses: the
  // zone loses its SOA.
  db.exec("DELETE FROM records WHERE type = 6");
  std::this_thread::sleep_for(500ms);
  CHECK(dig(meridiand.dnsPort(), "+short www.example.com") == "192.0.2.10\n192.0.2.11");
  CHECK(meridiand.log().find("reload failed, still serving generation 1") != std::string::npos);
}
