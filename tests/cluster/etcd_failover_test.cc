// The etcd client when members fail, against a real 3-member etcd in
// network namespaces: kill -9 of the leader under a stream of writes (the
// watch resumes from the right revision: nothing lost, nothing twice), and a
// member cut off by its link (it has no quorum, and a client next to it
// hears so within a bounded time; the majority goes on; it rejoins).

#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "cluster/etcd_client.h"
#include "cluster/etcd_watch.h"
#include "tests/support/dns_test_util.h"
#include "tests/support/etcd_cluster.h"

using namespace meridian::cluster;
using namespace meridian::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::string keyOf(int i) {
  char key[32];
  std::snprintf(key, sizeof key, "k/%05d", i);
  return key;
}

// What a watch delivered, and what it said about its connection.
struct Recorder {
  std::mutex mutex;
  std::vector<WatchEvent> events;
  std::vector<std::string> connection_log;
  std::atomic<bool> connected{false};
  std::atomic<bool> ended{false};

  WatchHandlers handlers() {
    return {.on_events =
                [this](WatchBatch&& batch) {
                  std::lock_guard lock(mutex);
                  events.insert(events.end(), batch.events.begin(), batch.events.end());
                },
            .on_connection =
                [this](bool up, const std::string& detail) {
                  std::lock_guard lock(mutex);
                  connection_log.push_back((up ? "up " : "down ") + detail);
                  connected = up;
                },
            .on_end = [this](const EtcdError&) { ended = true; }};
  }
  std::vector<WatchEvent> snapshot() {
    std::lock_guard lock(mutex);
    return events;
  }
  std::string log() {
    std::lock_guard lock(mutex);
    std::string out;
    for (const auto& line : connection_log) out += line + "\n";
    return out;
  }
};

// Every event in strictly increasing revision order (one put per revision
// here), none twice.
void checkOrder(const std::vector<WatchEvent>& events) {
  for (size_t i = 1; i < events.size(); ++i) {
    CAPTURE(i);
    CHECK(events[i - 1].kv.mod_revision < events[i].kv.mod_revision);
  }
}

}  // namespace

TEST_CASE("etcd watch: kill -9 of the leader under writes: the watch resumes, nothing lost or repeated") {
  REQUIRE_ETCD();
  TempDir dir;
  TestNetwork net(3);
  EtcdCluster etcd(net, dir.path());
  const int leader = etcd.leader();
  // The watch (and the writer) start on the leader, so killing it breaks
  // the watch's stream.
  EtcdClientOptions options;
  options.endpoints.push_back(etcd.clientUrl(leader));
  for (int m = 1; m <= 3; ++m) {
    if (m != leader) options.endpoints.push_back(etcd.clientUrl(m));
  }
  EtcdClient client(options);
  const int64_t first = client.put(keyOf(0), "0");

  Recorder recorder;
  EtcdWatch watch(client,
                  {.key = "k/", .prefix = true, .start_revision = first, .check_interval = 500ms,
                   .check_timeout = 1500ms},
                  recorder.handlers());

  // The writer: every acknowledged put is recorded with its revision; a put
  // that failed after it was sent may or may not be in etcd.
  std::mutex writes_mutex;
  std::map<std::string, int64_t> acknowledged;
  std::set<std::string> uncertain;
  std::atomic<int> acked_after_kill{0};
  std::atomic<bool> killed{false}, stop{false};
  std::atomic<int> acked{0};
  std::thread writer([&] {
    for (int i = 1; !stop && i < 5000; ++i) {
      const std::string key = keyOf(i);
      try {
        const int64_t revision = client.put(key, std::to_string(i));
        std::lock_guard lock(writes_mutex);
        acknowledged[key] = revision;
        ++acked;
        if (killed) ++acked_after_kill;
      } catch (const EtcdError& e) {
        std::lock_guard lock(writes_mutex);
        if (e.mayHaveApplied()) uncertain.insert(key);
        std::this_thread::sleep_for(50ms);
      }
    }
  });
  const bool wrote = waitUntil([&] { return acked >= 30; }, 30s);
  CHECK(wrote);
  etcd.kill(leader);
  killed = true;
  const bool wrote_after = waitUntil([&] { return acked_after_kill >= 30; }, 40s);
  stop = true;
  writer.join();
  REQUIRE_MESSAGE(wrote_after, "writes did not resume after the leader was killed; logs:\n" << etcd.logTails());

  // What etcd holds now is what the watch must have delivered: each key
  // once, at its revision, in order.
  const RangeResult final_state = client.get("k/", {.prefix = true});
  int64_t newest = 0;
  for (const KeyValue& kv : final_state.kvs) newest = std::max(newest, kv.mod_revision);
  REQUIRE_MESSAGE(waitUntil([&] { return watch.nextRevision() > newest; }, 30s),
                  "the watch stopped at revision " << watch.nextRevision() << " of " << newest
                                                   << "; connection log:\n" << recorder.log());
  const std::vector<WatchEvent> events = recorder.snapshot();
  checkOrder(events);
  std::map<std::string, int64_t> watched;
  for (const WatchEvent& e : events) {
    CHECK_MESSAGE(watched.count(e.kv.key) == 0, "delivered twice: " << e.kv.key);
    watched[e.kv.key] = e.kv.mod_revision;
  }
  std::map<std::string, int64_t> stored;
  for (const KeyValue& kv : final_state.kvs) stored[kv.key] = kv.mod_revision;
  CHECK(watched == stored);
  std::lock_guard lock(writes_mutex);
  for (const auto& [key, revision] : acknowledged) {
    CAPTURE(key);
    CHECK(stored.count(key) == 1);
    CHECK(stored[key] == revision);
  }
  for (const auto& [key, revision] : stored) {
    CAPTURE(key);
    CHECK((acknowledged.count(key) == 1 || uncertain.count(key) == 1 || key == keyOf(0)));
  }
  CHECK_MESSAGE(watch.streamsOpened() >= 2, "the watch never reconnected; log:\n" << recorder.log());
  CHECK(recorder.log().find("down " + etcd.clientUrl(leader)) != std::string::npos);
  CHECK_FALSE(recorder.ended);

  // The killed member comes back on its data and catches up.
  etcd.restart(leader);
  EtcdClient back({.endpoints = {etcd.clientUrl(leader)}});
  CHECK(back.put("k/after", "x") > newest);
  CHECK(back.get("k/", {.prefix = true}).kvs.size() == final_state.kvs.size() + 1);
}

TEST_CASE("etcd client: a member cut off by its link has no quorum and says so; the majority goes on") {
  REQUIRE_ETCD();
  TempDir dir;
  TestNetwork net(3);
  EtcdCluster etcd(net, dir.path());
  const int leader = etcd.leader();
  const int cut = leader == 3 ? 2 : 3;  // a follower: the majority keeps its leader
  const std::string cut_url = etcd.clientUrl(cut);

  EtcdClientOptions options;
  options.endpoints = {cut_url};
  for (int m = 1; m <= 3; ++m) {
    if (m != cut) options.endpoints.push_back(etcd.clientUrl(m));
  }
  options.connect_timeout = 1s;
  options.request_timeout = 3s;
  EtcdClient client(options);
  const int64_t start = client.put("k/before", "1");
  Recorder recorder;
  EtcdWatch watch(client,
                  {.key = "k/", .prefix = true, .start_revision = start, .check_interval = 500ms,
                   .check_timeout = 1500ms},
                  recorder.handlers());
  // A second watch "from now": it must resume after the store's revision at
  // its creation, not from whatever is current when it reconnects.
  Recorder from_now;
  EtcdWatch watch_now(client, {.key = "k/", .prefix = true, .check_interval = 500ms, .check_timeout = 1500ms},
                      from_now.handlers());
  REQUIRE(waitUntil([&] { return recorder.snapshot().size() == 1 && from_now.connected; }, 15s));

  net.linkDown(cut);

  // Next to the cut member (inside its host), with only that endpoint.
  net.inHost(cut, [&] {
    EtcdClient local({.endpoints = {cut_url}, .request_timeout = 3s});
    // Right after the cut the member still believes in its leader: the
    // write waits, and the client gives up at its request timeout.
    const auto t0 = Clock::now();
    try {
      local.put("k/lonely", "1");
      FAIL("a write without quorum succeeded");
    } catch (const EtcdError& e) {
      CHECK(e.kind() == EtcdErrorKind::kUnavailable);
      CHECK(e.endpoint() == cut_url);
    }
    CHECK(Clock::now() - t0 < 8s);
    // Once it notices (an election timeout, 1 s, without heartbeats), it
    // says so at once: "no leader".
    CHECK(waitUntil([&] { return local.status(cut_url).leader == 0; }, 15s));
    const auto t1 = Clock::now();
    try {
      local.put("k/lonely", "1");
      FAIL("a write without quorum succeeded");
    } catch (const EtcdError& e) {
      CHECK(e.kind() == EtcdErrorKind::kUnavailable);
      CHECK(std::string(e.what()) == "etcd " + cut_url + ": etcdserver: no leader (gRPC code 14)");
      CHECK_FALSE(e.mayHaveApplied());
    }
    CHECK(Clock::now() - t1 < 2s);
    try {
      local.get("k/before");
      FAIL("a linearizable read without quorum succeeded");
    } catch (const EtcdError& e) {
      CHECK(std::string(e.what()).find("no leader") != std::string::npos);
    }
    // Its own data is still there for a serializable read.
    CHECK(local.get("k/before", {.serializable = true}).kvs.size() == 1);
  });

  // The majority accepts writes. The client's connection to the cut member
  // was open, so its first write may go there and time out: etcd may still
  // apply a write it received, so the client does not resend it by itself
  // (the caller may); but its next call starts with another member.
  int64_t during = 0;
  try {
    during = client.put("k/during", "2");
  } catch (const EtcdError& e) {
    CHECK(e.endpoint() == cut_url);
    CHECK(e.mayHaveApplied());
    CHECK(client.preferredEndpoint() != cut_url);
    during = client.put("k/during", "2");
  }
  CHECK(client.preferredEndpoint() != cut_url);
  // The watch was streaming from the cut member: its status probe times
  // out, it moves to another member and resumes.
  REQUIRE_MESSAGE(waitUntil([&] { return watch.nextRevision() > during; }, 20s),
                  "the watch did not move off the cut member; log:\n" << recorder.log());
  CHECK(recorder.log().find("down " + cut_url) != std::string::npos);

  net.linkUp(cut);
  // Back on the network, the member rejoins and serves the majority's write.
  net.inHost(cut, [&] {
    EtcdClient local({.endpoints = {cut_url}, .request_timeout = 3s});
    const bool rejoined = waitUntil(
        [&] {
          try {
            return local.get("k/during").kvs.size() == 1;
          } catch (const EtcdError&) {
            return false;
          }
        },
        30s);
    CHECK(rejoined);
    CHECK(local.put("k/after", "3") > during);
  });
  REQUIRE(waitUntil([&] { return recorder.snapshot().size() >= 3; }, 20s));
  const std::vector<WatchEvent> events = recorder.snapshot();
  CHECK(events.size() == 3);  // before, during, after: each once
  checkOrder(events);
  REQUIRE(waitUntil([&] { return from_now.snapshot().size() >= 2; }, 20s));
  const std::vector<WatchEvent> later = from_now.snapshot();
  CHECK(later.size() == 2);  // during, after
  CHECK(later.at(0).kv.key == "k/during");
  CHECK(later.at(1).kv.key == "k/after");
  CHECK(watch_now.streamsOpened() >= 2);
}
