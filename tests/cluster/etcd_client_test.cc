// The etcd client against a real 3-member etcd, one member per test host
// (network namespaces; tests/support/etcd_cluster.h): reads and writes,
// transactions that lose to a concurrent writer, leases that expire, a
// watch replaying history and reporting compaction, etcd's request size
// limits, and errors that name the endpoint. One cluster serves every test
// case here (each uses keys of its own); members are not killed in this
// file (etcd_failover_test.cc does that).

#include "cluster/etcd_client.h"

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>

#include "cluster/etcd_lease.h"
#include "cluster/etcd_watch.h"
#include "tests/support/dns_test_util.h"
#include "tests/support/etcd_cluster.h"

using namespace meridian::cluster;
using namespace meridian::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Built by the first test case that needs it, on the main thread; torn down
// at exit (members killed by PID, namespaces removed).
struct Shared {
  TempDir dir;
  TestNetwork net{3};
  EtcdCluster etcd{net, dir.path()};
};

Shared& shared() {
  static Shared instance;
  return instance;
}

EtcdClientOptions clientOptions() {
  EtcdClientOptions options;
  options.endpoints = shared().etcd.clientUrls();
  return options;
}

// The shared cluster, started by the first test that needs it.
#define REQUIRE_SHARED_ETCD() \
  REQUIRE_ETCD();             \
  shared()

// Catches the EtcdError a call throws (and fails the test if none).
template <typename Call>
EtcdError errorOf(Call call) {
  try {
    call();
  } catch (const EtcdError& e) {
    return e;
  }
  FAIL("expected an EtcdError");
  return EtcdError(EtcdErrorKind::kOther, "", "none");
}

}  // namespace

TEST_CASE("etcd client: put, get by key, by prefix and at a past revision, delete by prefix") {
  REQUIRE_SHARED_ETCD();
  EtcdClient client(clientOptions());
  const int64_t r1 = client.put("t1/a", "1");
  const std::string binary("\0\xff\n", 3);
  const int64_t r2 = client.put("t1/b", binary);
  const int64_t r3 = client.put("t1/a", "3");
  client.put("t10", "outside the prefix");
  CHECK(r1 < r2);
  CHECK(r2 < r3);

  const RangeResult a = client.get("t1/a");
  REQUIRE(a.kvs.size() == 1);
  CHECK(a.kvs[0].value == "3");
  CHECK(a.kvs[0].version == 2);
  CHECK(a.kvs[0].create_revision == r1);
  CHECK(a.kvs[0].mod_revision == r3);
  CHECK(a.revision >= r3);

  const RangeResult all = client.get("t1/", {.prefix = true});
  REQUIRE(all.kvs.size() == 2);
  CHECK(all.kvs[0].key == "t1/a");  // in key order
  CHECK(all.kvs[1].key == "t1/b");
  CHECK(all.kvs[1].value == binary);

  CHECK(client.get("t1/a", {.revision = r2}).kvs.at(0).value == "1");
  const RangeResult page = client.get("t1/", {.prefix = true, .limit = 1});
  CHECK(page.kvs.size() == 1);
  CHECK(page.more);
  CHECK(page.count == 2);
  CHECK(client.get("t1/missing").kvs.empty());
  CHECK(client.get("t1/", {.prefix = true, .serializable = true}).kvs.size() == 2);

  const DeleteResult deleted = client.del("t1/", true);
  CHECK(deleted.deleted == 2);
  CHECK(client.get("t1/", {.prefix = true}).kvs.empty());
  CHECK(client.get("t10").kvs.size() == 1);
}

TEST_CASE("etcd client: a transaction applies only while the revision it compares is unchanged") {
  REQUIRE_SHARED_ETCD();
  EtcdClient client(clientOptions());
  client.put("t2/config-rev", "");
  const int64_t seen = client.get("t2/config-rev").kvs.at(0).mod_revision;

  // "Apply these puts only if the config revision is still R": two writers
  // who both read R; the first wins, the second learns who did.
  auto write = [&](const std::string& value) {
    return client.txn({Compare::modRevision("t2/config-rev", Compare::Result::kEqual, seen)},
                      {TxnOp::put("t2/config-rev", ""), TxnOp::put("t2/x", value)},
                      {TxnOp::get("t2/config-rev")});
  };
  const TxnResult first = write("A");
  CHECK(first.succeeded);
  const TxnResult second = write("B");
  CHECK_FALSE(second.succeeded);
  REQUIRE(second.responses.size() == 1);
  CHECK(second.responses[0].range.kvs.at(0).mod_revision == first.revision);
  CHECK(client.get("t2/x").kvs.at(0).value == "A");

  // Eight writers racing on the same revision: exactly one wins.
  const int64_t now = client.get("t2/config-rev").kvs.at(0).mod_revision;
  std::atomic<int> won{0}, lost{0};
  std::vector<std::thread> writers;
  for (int i = 0; i < 8; ++i) {
    writers.emplace_back([&, i] {
      const TxnResult r =
          client.txn({Compare::modRevision("t2/config-rev", Compare::Result::kEqual, now)},
                     {TxnOp::put("t2/config-rev", ""), TxnOp::put("t2/y", std::to_string(i))});
      (r.succeeded ? won : lost)++;
    });
  }
  for (auto& t : writers) t.join();
  CHECK(won == 1);
  CHECK(lost == 7);

  // Create only if absent: version 0.
  const auto create = [&] {
    return client
        .txn({Compare::version("t2/new", Compare::Result::kEqual, 0)}, {TxnOp::put("t2/new", "1")})
        .succeeded;
  };
  CHECK(create());
  CHECK_FALSE(create());
}

TEST_CASE(
    "etcd client: a lease's keys vanish when it expires, stay while kept alive, go at revoke") {
  REQUIRE_SHARED_ETCD();
  EtcdClient client(clientOptions());
  std::atomic<bool> lost{false};
  std::mutex lost_mutex;
  std::string lost_why;
  EtcdLease kept(client, 2s, [&](const EtcdError& e) {
    std::lock_guard lock(lost_mutex);
    lost_why = e.what();
    lost = true;
  });
  CHECK(kept.ttlSeconds() >= 2);
  client.put("t3/kept", "x", kept.id());

  const LeaseGrant bare = client.leaseGrant(2s);  // nobody renews this one
  const auto granted = Clock::now();
  client.put("t3/gone", "x", bare.id);
  CHECK(waitUntil([&] { return client.get("t3/gone").kvs.empty(); }, 20s));
  const auto expired_after = Clock::now() - granted;
  CHECK(expired_after >= 1500ms);  // not before its TTL (2 s, less our own latency)
  CHECK(client.leaseKeepAlive(bare.id) == 0);
  // Three TTLs in, the renewed lease's key is still there.
  std::this_thread::sleep_until(granted + 6s);
  CHECK(client.get("t3/kept").kvs.size() == 1);
  CHECK(kept.alive());
  CHECK(kept.renewals() >= 3);

  // Revoked behind its owner's back: the key goes at once, the owner hears.
  client.leaseRevoke(kept.id());
  CHECK(client.get("t3/kept").kvs.empty());
  CHECK(waitUntil([&] { return lost.load(); }, 15s));
  CHECK_FALSE(kept.alive());
  std::lock_guard lock(lost_mutex);
  CHECK(lost_why.find("expired or was revoked") != std::string::npos);
}

TEST_CASE("etcd watch: history replays in revision order; a compacted start revision is reported") {
  REQUIRE_SHARED_ETCD();
  EtcdClient client(clientOptions());
  const int64_t start = client.put("t4/00", "0");
  for (int i = 1; i < 20; ++i)
    client.put("t4/" + std::string(i < 10 ? "0" : "") + std::to_string(i), "v");
  const TxnResult three =
      client.txn({}, {TxnOp::put("t4/x", "1"), TxnOp::put("t4/y", "2"), TxnOp::put("t4/z", "3")});
  client.del("t4/x");
  const int64_t last = client.put("t40", "outside");

  std::mutex mutex;
  std::vector<WatchBatch> batches;
  EtcdWatch watch(client, {.key = "t4/", .prefix = true, .start_revision = start},
                  {.on_events = [&](WatchBatch&& batch) {
                    std::lock_guard lock(mutex);
                    batches.push_back(std::move(batch));
                  }});
  auto events = [&] {
    std::lock_guard lock(mutex);
    std::vector<WatchEvent> all;
    for (const auto& b : batches) all.insert(all.end(), b.events.begin(), b.events.end());
    return all;
  };
  REQUIRE(waitUntil([&] { return events().size() >= 24; }, 15s));
  const std::vector<WatchEvent> seen = events();
  CHECK(seen.size() == 24);  // 20 puts, 3 in the transaction, 1 delete; not t40
  CHECK(seen.front().kv.key == "t4/00");
  CHECK(seen.front().kv.mod_revision == start);
  for (size_t i = 1; i < seen.size(); ++i)
    CHECK(seen[i - 1].kv.mod_revision <= seen[i].kv.mod_revision);
  // The transaction's three events share one revision, in one batch.
  {
    std::lock_guard lock(mutex);
    bool together = false;
    for (const auto& b : batches) {
      size_t at_txn = 0;
      for (const auto& e : b.events) at_txn += e.kv.mod_revision == three.revision;
      together |= at_txn == 3;
    }
    CHECK(together);
  }
  CHECK(seen.back().type == WatchEvent::Type::kDelete);
  CHECK(seen.back().kv.key == "t4/x");
  CHECK(watch.nextRevision() == seen.back().kv.mod_revision + 1);
  CHECK(watch.nextRevision() <= last);

  // Compact everything up to now: the old start is gone for reads and watches.
  client.compact(last);
  const EtcdError read = errorOf([&] { client.get("t4/00", {.revision = start}); });
  CHECK(read.kind() == EtcdErrorKind::kCompacted);
  CHECK(std::string(read.what()).find("compacted") != std::string::npos);

  std::atomic<bool> ended{false};
  std::mutex end_mutex;
  EtcdErrorKind end_kind = EtcdErrorKind::kOther;
  int64_t compact_revision = 0;
  EtcdWatch old(client, {.key = "t4/", .prefix = true, .start_revision = start},
                {.on_end = [&](const EtcdError& e) {
                  std::lock_guard lock(end_mutex);
                  end_kind = e.kind();
                  compact_revision = e.compactRevision();
                  ended = true;
                }});
  REQUIRE(waitUntil([&] { return ended.load(); }, 15s));
  std::lock_guard lock(end_mutex);
  CHECK(end_kind == EtcdErrorKind::kCompacted);
  CHECK(compact_revision == last);
  CHECK(old.ended());
}

TEST_CASE(
    "etcd limits: 1.5 MiB per request (a value or a whole transaction), 128 operations per "
    "transaction") {
  REQUIRE_SHARED_ETCD();
  EtcdClient client(clientOptions());
  // etcd 3.4's --max-request-bytes default is 1.5 MiB = 1,572,864 bytes for
  // the whole encoded request: a value of 1,500,000 bytes fits ...
  client.put("t5/fits", std::string(1'500'000, 'x'));
  CHECK(client.get("t5/fits").kvs.at(0).value.size() == 1'500'000);

  // ... 1,600,000 does not: etcd refuses it before it reaches raft.
  const EtcdError over = errorOf([&] { client.put("t5/over", std::string(1'600'000, 'x')); });
  CHECK(over.kind() == EtcdErrorKind::kTooLarge);
  CHECK(over.grpcCode() == 3);
  CHECK(std::string(over.what()).find("etcdserver: request is too large") != std::string::npos);
  CHECK(std::string(over.what()).find("http://198.18.") != std::string::npos);
  CHECK_FALSE(over.mayHaveApplied());
  // Past 2 MiB (1.5 MiB + gRPC's 512 KiB allowance) gRPC itself refuses it.
  const EtcdError way_over = errorOf([&] { client.put("t5/over", std::string(2'200'000, 'x')); });
  CHECK(way_over.kind() == EtcdErrorKind::kTooLarge);
  CHECK(std::string(way_over.what()).find("larger than max") != std::string::npos);

  // The limit is per request: two values of 800,000 in one transaction fail.
  const std::string half(800'000, 'y');
  const EtcdError txn_over = errorOf([&] {
    client.txn({}, {TxnOp::put("t5/h1", half), TxnOp::put("t5/h2", half)});
  });
  CHECK(txn_over.kind() == EtcdErrorKind::kTooLarge);
  CHECK(client.get("t5/h1").kvs.empty());  // nothing of it applied

  // 128 operations in a transaction (--max-txn-ops), not 129.
  std::vector<TxnOp> ops;
  for (int i = 0; i < 128; ++i) ops.push_back(TxnOp::put("t5/op/" + std::to_string(i), "v"));
  CHECK(client.txn({}, ops).succeeded);
  ops.push_back(TxnOp::put("t5/op/128", "v"));
  const EtcdError too_many = errorOf([&] { client.txn({}, ops); });
  CHECK(too_many.kind() == EtcdErrorKind::kTooLarge);
  CHECK(std::string(too_many.what()).find("too many operations in txn request") !=
        std::string::npos);

  // Replies are not limited that way: three values of 1,400,000 in one read.
  for (int i = 0; i < 3; ++i)
    client.put("t5/big/" + std::to_string(i), std::string(1'400'000, 'z'));
  const RangeResult big = client.get("t5/big/", {.prefix = true});
  CHECK(big.kvs.size() == 3);
  client.del("t5/", true);
}

TEST_CASE("etcd client: endpoints that do not answer are skipped, and errors name each endpoint") {
  REQUIRE_SHARED_ETCD();
  Shared& s = shared();
  const std::string refused = "http://" + s.net.address(1) + ":2399";  // nothing listens there
  // No host has .99 in the test subnet: connecting times out, and the SYN
  // never leaves the bridge.
  const std::string subnet = s.net.address(1).substr(0, s.net.address(1).rfind('.') + 1);
  const std::string nobody = "http://" + subnet + "99:2379";

  EtcdClientOptions options = clientOptions();
  options.endpoints.insert(options.endpoints.begin(), refused);
  EtcdClient client(options);
  CHECK(client.put("t6/a", "1") > 0);
  CHECK(client.preferredEndpoint() != refused);  // later calls start with one that answers

  EtcdClientOptions dead;
  dead.endpoints = {refused, nobody};
  dead.connect_timeout = 500ms;
  EtcdClient none(dead);
  const auto before = Clock::now();
  const EtcdError error = errorOf([&] { none.get("t6/a"); });
  CHECK(Clock::now() - before < 10s);  // two connect timeouts, not the request timeout
  CHECK(error.kind() == EtcdErrorKind::kUnavailable);
  const std::string text = error.what();
  CHECK(text.find("no endpoint answered") != std::string::npos);
  CHECK(text.find(refused + ": ") != std::string::npos);
  CHECK(text.find(nobody + ": ") != std::string::npos);

  // A write that was never sent may move on; the put above did. One sent
  // and then lost cannot (see etcd_failover_test.cc).
  const EtcdError write = errorOf([&] { none.put("t6/b", "1"); });
  CHECK_FALSE(write.mayHaveApplied());

  const MemberStatus status = client.status(s.etcd.clientUrl(2));
  CHECK(status.member_id != 0);
  CHECK(status.leader != 0);
  CHECK(status.version.rfind("3.4.", 0) == 0);
}
