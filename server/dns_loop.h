#pragma once
// One TCP query loop: a libuv loop on its own thread with its own TCP
// listener per service address (SO_REUSEPORT spreads connections across the
// loops), its own counters, scratch buffers and current Snapshot. UDP is
// served by blocking UdpWorker threads (server/udp_worker.h).
//
// Threads: construct, listen() and publish() from the main thread; run() on
// the loop's thread; publish() and stop() may be called from any thread.

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/socket_address.h"
#include "server/counters.h"
#include "server/query_handler.h"
#include "server/query_thread.h"
#include "server/snapshot.h"

namespace meridian::server {

/// A service address (--dns-listen): "127.0.0.1:53", "[::1]:5353" or
/// "0.0.0.0:53", parsed by common::parseListenAddress (throws
/// common::AddressError naming the text).
using common::ListenAddress;
using common::parseListenAddress;

struct LoopSettings {
  AnswerSettings answer;
  unsigned tcp_max_connections = 256;  // per loop
  unsigned tcp_idle_timeout_ms = 10000;
};

class TcpConnection;

/// Hands snapshots that a loop no longer needs to another thread, so that a
/// large table is never freed on a query loop.
class SnapshotGraveyard {
 public:
  void bury(std::shared_ptr<const Snapshot> old);
  /// Drops everything buried so far; called by the reload thread.
  void clear();

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<const Snapshot>> buried_;
};

class DnsLoop {
 public:
  DnsLoop(const LoopSettings& settings, SnapshotGraveyard& graveyard);
  ~DnsLoop();
  DnsLoop(const DnsLoop&) = delete;
  DnsLoop& operator=(const DnsLoop&) = delete;

  /// Binds a TCP listener on `address` with SO_REUSEPORT.
  /// Throws std::runtime_error naming the address on failure.
  void listen(const ListenAddress& address);

  /// Runs the loop until stop() has drained it. Call on the loop's thread.
  void run();

  /// Makes `snapshot` the one answered from, at the loop's next turn.
  void publish(std::shared_ptr<const Snapshot> snapshot);

  /// Stops reading, finishes what is in flight, closes every handle; run()
  /// then returns.
  void stop();

  const DnsCounters& counters() const { return state_.counters(); }
  /// Generation of the snapshot this loop answers from (0 = none yet).
  uint64_t generation() const { return state_.generation(); }

 private:
  friend class TcpConnection;
  static void onAsync(uv_async_t* handle);
  static void onTcpConnection(uv_stream_t* server, int status);

  void takeMessages();
  void closeAll();
  void release(TcpConnection* connection);

  LoopSettings settings_;
  uv_loop_t loop_;
  uv_async_t async_;
  QueryThreadState state_;

  // Hand-off from other threads, guarded by mutex_ (taken once per message,
  // never per query).
  std::mutex mutex_;
  std::shared_ptr<const Snapshot> incoming_;
  bool stop_requested_ = false;
  bool stopping_ = false;

  std::vector<std::unique_ptr<uv_tcp_t>> tcp_listeners_;
  std::vector<std::unique_ptr<TcpConnection>> tcp_pool_;  // every connection object
  std::vector<TcpConnection*> tcp_free_;                  // the idle ones
  std::vector<uint8_t> tcp_response_;                     // 2-octet length + message
};

}  // namespace meridian::server
