#pragma once
// One TCP query loop: a libuv loop on its own thread with its own TCP
// listener per service address (SO_REUSEPORT spreads connections across the
// loops), its own counters, scratch buffers and current Snapshot. UDP is
// served by blocking UdpWorker threads (server/udp_worker.h).
//
// Admission, for every connection the kernel hands over (always taken with
// uv_accept, so libuv keeps polling the listener):
//   1. a client address already holding --tcp-max-per-client: closed;
//   2. a free connection in the process's budget (TcpLimits, shared by every
//      loop): served;
//   3. the process is full: this loop closes its connection that has waited
//      longest for a query (idle, or a query still trickling in) and serves
//      the new one; NSD's tcp-reject-overflow weighs refusing against
//      queueing, but with the slots held by attackers both keep real clients
//      out;
//   4. nothing of ours to close: the loop holding the most such connections
//      is asked to close one, and the new one is served meanwhile (at most
//      TcpLimits::kOvershoot past the cap);
//   5. otherwise (every connection is busy writing an answer): closed.
//
// Threads: construct, listen(), setSiblings() and publish() from the main
// thread; run() on the loop's thread; publish() and stop() may be called
// from any thread.

#include <sys/socket.h>
#include <uv.h>

#include <atomic>
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
#include "server/tcp_limits.h"

namespace meridian::server {

/// A service address (--dns-listen): "127.0.0.1:53", "[::1]:5353" or
/// "0.0.0.0:53", parsed by common::parseListenAddress (throws
/// common::AddressError naming the text).
using common::ListenAddress;
using common::parseListenAddress;

struct LoopSettings {
  AnswerSettings answer;
  unsigned tcp_max_connections = 512;  // for the whole process
  unsigned tcp_max_per_client = 64;    // 0 = no limit
  unsigned tcp_idle_timeout_ms = 10000;
  unsigned tcp_io_timeout_ms = 2000;
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
  /// `limits` is the process's TCP budget, shared by every loop; it must
  /// outlive the loop.
  DnsLoop(const LoopSettings& settings, SnapshotGraveyard& graveyard, TcpLimits& limits);
  ~DnsLoop();
  DnsLoop(const DnsLoop&) = delete;
  DnsLoop& operator=(const DnsLoop&) = delete;

  /// Binds a TCP listener on `address` with SO_REUSEPORT.
  /// Throws std::runtime_error naming the address on failure.
  void listen(const ListenAddress& address);

  /// Every loop of the process (this one included), which a full loop may
  /// ask to close a connection to make room. Call before run().
  void setSiblings(std::vector<DnsLoop*> loops);

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
  static void onRefusedClosed(uv_handle_t* handle);

  void takeMessages();
  void closeAll();
  void accept(uv_stream_t* server);
  /// A process connection for a new client, closing one to make room when
  /// the process is full (steps 2 to 4 above); false when there is none.
  bool admit();
  /// Closes up to `count` of the connections that have waited longest for
  /// a query; returns how many it closed.
  unsigned evict(unsigned count);
  /// From another loop's thread: close one connection when you can.
  bool requestEviction();
  /// Accepts the pending connection into a bare handle and closes it.
  void refuse(uv_stream_t* server);
  TcpConnection* takeConnection();
  void release(TcpConnection* connection);
  // The waiting list, least recently served at the head: touch() puts a
  // connection at the tail, forget() takes it out (while it writes, and
  // when it closes).
  void touch(TcpConnection* connection);
  void forget(TcpConnection* connection);

  LoopSettings settings_;
  TcpLimits& limits_;
  std::vector<DnsLoop*> siblings_;
  uv_loop_t loop_;
  uv_async_t async_;
  QueryThreadState state_;

  // Hand-off from other threads, guarded by mutex_ (taken once per message,
  // never per query).
  std::mutex mutex_;
  std::shared_ptr<const Snapshot> incoming_;
  bool stop_requested_ = false;
  unsigned evictions_requested_ = 0;
  bool stopping_ = false;

  std::vector<std::unique_ptr<uv_tcp_t>> tcp_listeners_;
  // Connection objects, grown on demand (a loop may hold any share of the
  // process's connections) and never freed while the loop runs.
  std::vector<std::unique_ptr<TcpConnection>> tcp_pool_;
  std::vector<TcpConnection*> tcp_free_;  // the unused ones
  // Bare handles for refusing a connection (accept, close), recycled the same way.
  std::vector<std::unique_ptr<uv_tcp_t>> refused_pool_;
  std::vector<uv_tcp_t*> refused_free_;
  TcpConnection* waiting_head_ = nullptr;
  TcpConnection* waiting_tail_ = nullptr;
  // Read by other loops choosing which one to ask for an eviction.
  std::atomic<unsigned> waiting_count_{0};
  std::vector<uint8_t> tcp_response_;  // 2-octet length + message
};

}  // namespace meridian::server
