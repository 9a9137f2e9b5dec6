#pragma once
// Host names of http(s) checks, resolved off the probe loop.
//
// Why: libcurl in Debian 12 resolves with a thread per lookup, and removing a
// transfer whose lookup is still running (our timeout path) joins that
// thread, on the loop. With a name server that never answers, glibc waits
// 10 s (5 s per try, 2 tries), and every other probe and signal waits with
// it. Here getaddrinfo runs on a small fixed pool of threads instead; the
// loop never waits for it, and http_probe.cc hands the addresses to curl
// with CURLOPT_RESOLVE, so curl never starts a lookup of its own.
//
// Bounds: one lookup per distinct name however many probes ask for it (a
// name is queued at most once), on at most kMaxThreads threads. A thread
// starts when a name waits and fewer than kThreads threads are free or busy
// with young lookups. A lookup older than kSlowLookupMs waits for a name
// server that does not answer and does not count, so a name that works (in
// /etc/hosts, or served by another name server) is not kept behind dead ones
// (worked example: 4 threads stuck on dead names for over 1 s, localhost
// queued: 4 - 4 stuck = 0 < 4, so the next probe asking for localhost starts
// a 5th thread). A stuck lookup holds its thread until glibc gives up (10 s
// with the default resolv.conf); the probes asking for that name fail at
// their own timeouts meanwhile, and a name queued behind them gets its
// thread at the next probe that asks for it.
// Threads idle for kIdleExitMs end. Results are kept kOkCacheMs (addresses)
// or kErrorCacheMs (failures), so a 1 s check does not ask every second.
//
// Loop thread only, except the lookup function, which runs on the pool. The
// destructor does not wait for lookups in progress: their threads are left
// to finish on their own and touch nothing of the loop afterwards.

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace meridian::healthd {

/// What one lookup found: addresses as text ("192.0.2.1", "2001:db8::1"),
/// in getaddrinfo's order, or the reason there are none.
struct Resolved {
  std::vector<std::string> addresses;
  std::string error;  // "" when addresses is not empty
};

class Resolver {
 public:
  using Callback = std::function<void(const Resolved&)>;
  /// Resolves one name; runs on a pool thread. The default is getaddrinfo
  /// (AF_UNSPEC, SOCK_STREAM), so /etc/hosts and nsswitch.conf apply.
  using LookupFunction = std::function<Resolved(const std::string& host)>;

  static constexpr size_t kThreads = 4;
  static constexpr size_t kMaxThreads = 16;
  static constexpr int64_t kSlowLookupMs = 1000;
  static constexpr int64_t kIdleExitMs = 30000;
  static constexpr uint64_t kOkCacheMs = 10000;
  static constexpr uint64_t kErrorCacheMs = 1000;

  explicit Resolver(uv_loop_t* loop, LookupFunction lookup = {});
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  /// A result for `host` that is still fresh, if any.
  const Resolved* cached(const std::string& host);
  /// Starts (or joins) a lookup of `host`; `callback` runs on the loop when
  /// it ends, unless cancel(ticket) was called first. Never calls back
  /// before returning. Returns the ticket (never 0).
  uint64_t resolve(const std::string& host, Callback callback);
  void cancel(uint64_t ticket);

  /// Lookups running or queued now (for logs and tests).
  size_t pending() const;
  size_t threads() const;

 private:
  struct Shared;
  struct Entry {
    std::optional<Resolved> result;
    uint64_t expires_ms = 0;  // loop time
    bool in_flight = false;
    std::map<uint64_t, Callback> waiters;
  };
  static void work(std::shared_ptr<Shared> shared);  // a pool thread
  void maybeSpawn();
  static void onDone(uv_async_t* async);
  void deliver();
  void prune();

  uv_loop_t* loop_;
  std::shared_ptr<Shared> shared_;  // also held by every pool thread
  uv_async_t* async_;
  std::map<std::string, Entry> entries_;
  std::map<uint64_t, std::string> tickets_;  // ticket -> host
  uint64_t next_ticket_ = 1;
};

/// getaddrinfo(host), the default lookup. Any thread.
Resolved lookupHost(const std::string& host);

}  // namespace meridian::healthd
