#pragma once
// What every query thread owns, whether it serves UDP (UdpWorker) or TCP
// (DnsLoop): its counters, its scratch context, and the snapshot it answers
// from. answer() and adopt() run on that thread only; counters() and
// generation() may be read from any thread.

#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>

#include "server/counters.h"
#include "server/query_handler.h"
#include "server/snapshot.h"

namespace meridian::server {

class SnapshotGraveyard;

class QueryThreadState {
 public:
  QueryThreadState(const AnswerSettings& settings, SnapshotGraveyard& graveyard);
  QueryThreadState(const QueryThreadState&) = delete;
  QueryThreadState& operator=(const QueryThreadState&) = delete;

  /// Answers one packet from `from` into `out`; 0 when it is dropped (no
  /// snapshot yet, or handleQuery drops it, rate limiting included). No
  /// allocation, no lock.
  size_t answer(const uint8_t* packet, size_t length, const sockaddr* from, Transport transport,
                uint8_t* out, size_t capacity) noexcept;

  /// Answers from `snapshot` from now on; the old one is handed to the
  /// graveyard so it is freed on the reload thread, never here.
  void adopt(std::shared_ptr<const Snapshot> snapshot);

  DnsCounters& counters() { return counters_; }
  const DnsCounters& counters() const { return counters_; }
  /// Generation of the snapshot answered from (0 = none yet).
  uint64_t generation() const { return generation_.load(std::memory_order_relaxed); }

 private:
  SnapshotGraveyard& graveyard_;
  DnsCounters counters_;
  SystemClock clock_;
  std::unique_ptr<CookieEngine> cookies_;  // null when cookies are off
  QueryContext context_;
  std::shared_ptr<const Snapshot> current_;
  std::atomic<uint64_t> generation_{0};
};

}  // namespace meridian::server
