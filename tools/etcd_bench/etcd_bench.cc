// meridian-etcd-bench: the figures behind the choice of etcd client, measured
// with meridian_cluster against a running etcd, under keys "bench/<pid>/"
// that it deletes afterwards.
//
//   meridian-etcd-bench --etcd http://127.0.0.1:2379 [--rounds 300] [--chunks 40]
//
//   put + txn     one put, then a transaction comparing its mod_revision and
//                 putting again (the write path's "only if still revision R")
//   put -> watch  from the put's start until a watch on another connection
//                 delivers its event
//   1 MB put      a 1,000,000-byte value (a chunk of a large zone)
//   bulk read     --chunks values of 1,000,000 bytes read back in pages of 4

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

#include "cluster/etcd_client.h"
#include "cluster/etcd_watch.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace meridian::cluster;

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double percentile(std::vector<double> values, double p) {
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1))];
}

void report(const char* what, const std::vector<double>& values) {
  std::printf("%-14s p50 %7.2f ms  p99 %7.2f ms  (%zu samples)\n", what, percentile(values, 0.5),
              percentile(values, 0.99), values.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::string endpoints;
  int rounds = 300;
  int chunks = 40;
  CLI::App app{"meridian-etcd-bench: round trips, watch delay and bulk reads through etcd's JSON gateway"};
  app.add_option("--etcd", endpoints, "etcd client URLs, comma-separated")->required();
  app.add_option("--rounds", rounds, "samples per latency figure")->check(CLI::Range(1, 100000));
  app.add_option("--chunks", chunks, "1 MB values for the bulk read")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  try {
    EtcdClient client({.endpoints = parseEndpoints(endpoints)});
    const std::string prefix = "bench/" + std::to_string(getpid()) + "/";

    std::vector<double> round_trips;
    for (int i = 0; i < rounds; ++i) {
      const std::string key = prefix + "rt/" + std::to_string(i);
      const auto t0 = Clock::now();
      const int64_t revision = client.put(key, "v");
      const TxnResult txn = client.txn({Compare::modRevision(key, Compare::Result::kEqual, revision)},
                                       {TxnOp::put(key, "w")});
      round_trips.push_back(ms(Clock::now() - t0));
      if (!txn.succeeded) throw std::runtime_error("the transaction lost its compare");
    }
    report("put + txn", round_trips);

    std::atomic<int64_t> sent_ns{0};
    std::atomic<int> delivered{0};
    std::vector<double> delays;
    EtcdWatch watch(client, {.key = prefix + "w/", .prefix = true},
                    {.on_events = [&](WatchBatch&& batch) {
                      const auto now = Clock::now().time_since_epoch().count();
                      for (size_t n = 0; n < batch.events.size(); ++n) {
                        delays.push_back(static_cast<double>(now - sent_ns.load()) / 1e6);
                      }
                      delivered += static_cast<int>(batch.events.size());
                    }});
    while (watch.nextRevision() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    for (int i = 0; i < rounds; ++i) {
      sent_ns = Clock::now().time_since_epoch().count();
      client.put(prefix + "w/" + std::to_string(i), "v");
      while (delivered.load() <= i) std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
    report("put -> watch", delays);

    std::vector<double> big;
    const std::string value(1'000'000, 'x');
    for (int i = 0; i < 5; ++i) {
      const auto t0 = Clock::now();
      client.put(prefix + "big", value);
      big.push_back(ms(Clock::now() - t0));
    }
    std::printf("%-14s median %6.1f ms\n", "1 MB put", percentile(big, 0.5));

    for (int i = 0; i < chunks; ++i) client.put(prefix + "chunk/" + std::to_string(1000 + i), value);
    const auto t0 = Clock::now();
    std::string from = prefix + "chunk/";
    const std::string end = prefixEnd(from);
    size_t bytes = 0;
    for (;;) {
      const RangeResult page = client.get(from, {.range_end = end, .limit = 4});
      for (const KeyValue& kv : page.kvs) bytes += kv.value.size();
      if (!page.more || page.kvs.empty()) break;
      from = page.kvs.back().key + '\0';
    }
    const double seconds = ms(Clock::now() - t0) / 1000.0;
    std::printf("%-14s %.0f MB in %.2f s: %.1f MB/s\n", "bulk read", static_cast<double>(bytes) / 1e6,
                seconds, static_cast<double>(bytes) / 1e6 / seconds);
    client.del(prefix, true);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "meridian-etcd-bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
