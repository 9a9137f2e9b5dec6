// query_path_bench: thread CPU per query of handleQuery() alone, in process,
// with the abuse defences off and on. `tools/bench static --rrl` runs it
// next to its dnsperf figures: on a busy shared machine the end-to-end CPU
// per query (mostly the kernel's) varies by more than the 5% it is asked to
// resolve, while the minimum over many short runs of the query path itself
// is stable to a nanosecond or two.
//
//   query_path_bench [--rounds 40] [--queries 200000]
//
// Prints one JSON object: nanoseconds per query (minimum over rounds) for
//   off       plain queries (1,000 names), no rate limiter, no cookies
//   rrl       the same with the rate limiter and the system clock (rate
//             1,000,000 so this loop is never limited: the path is the one
//             every answer below the rate takes)
//   edns      EDNS queries, no cookies
//   cookie    EDNS queries with a valid server cookie: verified, a fresh one
//             minted, exempt from the rate limiter

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/server/test_zone.h"

using namespace meridian;
using namespace meridian::test;

namespace {

double threadSeconds() {
  timespec now;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 40;
  int queries = 200000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--rounds") == 0) rounds = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--queries") == 0) queries = std::atoi(argv[i + 1]);
  }
  std::string zone = kExampleZone;
  std::vector<std::vector<uint8_t>> plain;
  for (int i = 0; i < 1000; ++i) {
    zone += numbered("h", i) + " IN A 198.18.0." + std::to_string(i % 250) + "\n";
    plain.push_back(makeQuery(numbered("h", i) + ".example.com"));
  }
  TempDir dir;
  const server::Snapshot snapshot = snapshotFor(dir, zone);
  QueryRunner runner;
  server::SystemClock clock;
  server::RrlSettings settings;
  settings.rate = 1000000;
  server::RateLimiter rrl(settings, clock.monotonicMicros());
  server::CookieEngine cookies(server::randomCookieSecrets());
  server::ClientAddress client;
  client.family = 4;
  client.bytes[0] = 127;
  client.bytes[3] = 1;

  QueryOptions edns_options;
  edns_options.edns = true;
  const auto edns = makeQuery("www.example.com", edns_options);
  QueryOptions cookie_options = edns_options;
  cookie_options.cookie = std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8};
  runner.context.cookies = &cookies;
  runner.context.clock = &clock;
  const auto first = makeQuery("www.example.com", cookie_options);
  const size_t length =
      server::handleQuery(snapshot, runner.context, first.data(), first.size(), client,
                          server::Transport::kUdp, runner.buffer.data(), runner.buffer.size());
  cookie_options.cookie = decode(runner.buffer.data(), length).cookie;
  const auto with_cookie = makeQuery("www.example.com", cookie_options);

  auto run = [&](const std::vector<uint8_t>* one, bool limiter, bool cookie) {
    runner.context.rrl = limiter ? &rrl : nullptr;
    runner.context.cookies = cookie ? &cookies : nullptr;
    const double start = threadSeconds();
    for (int i = 0; i < queries; ++i) {
      const auto& q = one ? *one : plain[static_cast<size_t>(i) % plain.size()];
      server::handleQuery(snapshot, runner.context, q.data(), q.size(), client,
                          server::Transport::kUdp, runner.buffer.data(), runner.buffer.size());
    }
    return (threadSeconds() - start) * 1e9 / queries;
  };
  double off = 1e9, limited = 1e9, plain_edns = 1e9, cookie = 1e9;
  for (int r = 0; r < rounds; ++r) {  // interleaved, so drifts hit all four
    off = std::min(off, run(nullptr, false, false));
    limited = std::min(limited, run(nullptr, true, false));
    plain_edns = std::min(plain_edns, run(&edns, false, false));
    cookie = std::min(cookie, run(&with_cookie, true, true));
  }
  uint64_t over = runner.counters.rrl_limited_positive.get();
  std::printf(
      "{\"off_ns\": %.1f, \"rrl_ns\": %.1f, \"edns_ns\": %.1f, \"cookie_ns\": %.1f, "
      "\"rounds\": %d, \"queries\": %d, \"limited\": %llu, \"valid_cookies\": %llu}\n",
      off, limited, plain_edns, cookie, rounds, queries, static_cast<unsigned long long>(over),
      static_cast<unsigned long long>(runner.counters.cookies_valid.get()));
  return 0;
}
