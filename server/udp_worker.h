#pragma once
// One UDP query thread: its own SO_REUSEPORT socket on one service address,
// its own counters, scratch space and current Snapshot. It blocks in
// recvmmsg until at least one datagram is there (MSG_WAITFORONE), answers
// the batch and sends every reply with one sendmmsg: two system calls per
// batch and no event loop in between, the model of gdnsd and NSD.
//
// Why not a libuv handle: every wakeup of an event loop costs an epoll_wait
// on top of the reads, and on loopback the kernel's work is nearly all of a
// query's cost; tools/bench measured ~0.1 more system calls per query through
// uv_poll_t than through blocking reads. TCP stays on libuv (DnsLoop).
//
// On a wildcard address (0.0.0.0, [::]) the socket asks for each
// datagram's destination address (IP_PKTINFO / IPV6_RECVPKTINFO) and sends
// the reply from that address with the matching control message, so a
// multi-homed or anycast host answers from the address it was asked on
// (without it the kernel picks the source by route, and resolvers drop the
// reply as coming from an unexpected source).
//
// Threads: construct, open() and publish() from the main thread; run() on
// the worker's own thread; publish() and stop() from any thread.

#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "server/dns_loop.h"
#include "server/query_thread.h"
#include "server/snapshot.h"

namespace meridian::server {

class UdpWorker {
 public:
  /// Largest datagram read; a longer one is counted as dropped. Real queries
  /// are a few hundred octets.
  static constexpr size_t kSlot = 4096;
  static constexpr size_t kBatch = 64;
  /// Largest response we build for UDP; --edns-payload is capped to this.
  static constexpr size_t kMaxResponse = 4096;

  UdpWorker(const AnswerSettings& settings, SnapshotGraveyard& graveyard);
  ~UdpWorker();
  UdpWorker(const UdpWorker&) = delete;
  UdpWorker& operator=(const UdpWorker&) = delete;

  /// Creates the socket (SO_REUSEPORT), binds it. Throws std::runtime_error
  /// naming the address.
  void open(const ListenAddress& where);

  /// Answers until stop(). Call on the worker's thread.
  void run();

  /// Makes `snapshot` the one answered from, before the next batch.
  void publish(std::shared_ptr<const Snapshot> snapshot);
  /// Finishes the batch in hand and returns from run() (within the receive
  /// timeout when idle).
  void stop() { stop_.store(true, std::memory_order_relaxed); }

  const DnsCounters& counters() const { return state_.counters(); }
  uint64_t generation() const { return state_.generation(); }

 private:
  // Room for one IP_PKTINFO or IPV6_PKTINFO control message.
  static constexpr size_t kControl = 64;

  void takeSnapshot();
  void answerBatch(int received);
  /// Writes the control message that makes the reply to datagram `in`
  /// leave from the address `in` was sent to into `control` (kControl
  /// octets); returns its length, 0 when there is none (not a wildcard
  /// socket, or no usable destination address).
  size_t replyFrom(const msghdr& in, uint8_t* control);
  void sendReplies(unsigned replies);

  int fd_ = -1;
  bool pktinfo_ = false;  // a wildcard address: replies carry their source
  QueryThreadState state_;
  std::atomic<bool> stop_{false};

  // Hand-off from the reload thread: the flag is read once per batch; the
  // mutex is taken only when it is set.
  std::atomic<bool> has_incoming_{false};
  std::mutex mutex_;
  std::shared_ptr<const Snapshot> incoming_;

  uint8_t in_[kBatch][kSlot];
  sockaddr_storage from_[kBatch];
  iovec in_vectors_[kBatch];
  mmsghdr in_messages_[kBatch];
  alignas(cmsghdr) uint8_t in_control_[kBatch][kControl];
  uint8_t out_[kBatch][kMaxResponse];
  alignas(cmsghdr) uint8_t out_control_[kBatch][kControl];
  iovec out_vectors_[kBatch];
  mmsghdr out_messages_[kBatch];
};

}  // namespace meridian::server
