#include "server/udp_worker.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace meridian::server {

namespace {

// A deep receive queue absorbs bursts while the thread is busy; the kernel
// caps it at net.core.rmem_max unless we are root (SO_RCVBUFFORCE).
constexpr int kReceiveBuffer = 4 * 1024 * 1024;

// An idle worker wakes this often to notice stop() and new snapshots.
constexpr long kIdleWakeupMs = 200;

}  // namespace

namespace {

// Our EDNS payload size can never exceed the response buffers.
AnswerSettings capped(AnswerSettings settings) {
  if (settings.max_udp_payload > UdpWorker::kMaxResponse) {
    settings.max_udp_payload = UdpWorker::kMaxResponse;
  }
  return settings;
}

}  // namespace

UdpWorker::UdpWorker(const AnswerSettings& settings, SnapshotGraveyard& graveyard)
    : state_(capped(settings), graveyard) {
  for (size_t i = 0; i < kBatch; ++i) {
    in_vectors_[i] = {in_[i], kSlot};
    std::memset(&in_messages_[i], 0, sizeof in_messages_[i]);
    in_messages_[i].msg_hdr.msg_iov = &in_vectors_[i];
    in_messages_[i].msg_hdr.msg_iovlen = 1;
    in_messages_[i].msg_hdr.msg_name = &from_[i];
    in_messages_[i].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    out_vectors_[i] = {out_[i], 0};
    std::memset(&out_messages_[i], 0, sizeof out_messages_[i]);
    out_messages_[i].msg_hdr.msg_iov = &out_vectors_[i];
    out_messages_[i].msg_hdr.msg_iovlen = 1;
  }
}

UdpWorker::~UdpWorker() {
  if (fd_ >= 0) ::close(fd_);
}

void UdpWorker::open(const ListenAddress& where) {
  const std::string what = "udp " + where.text;
  const bool ipv6 = where.address.ss_family == AF_INET6;
  fd_ = socket(where.address.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(what + ": " + std::strerror(errno));
  const int one = 1;
  if (setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw std::runtime_error(what + ": SO_REUSEPORT: " + std::strerror(errno));
  }
  if (ipv6) setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof kReceiveBuffer) != 0) {
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
  }
  const timeval idle{0, kIdleWakeupMs * 1000};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
  const socklen_t length = ipv6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (bind(fd_, reinterpret_cast<const sockaddr*>(&where.address), length) != 0) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
  }
}

void UdpWorker::publish(std::shared_ptr<const Snapshot> snapshot) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    incoming_ = std::move(snapshot);
  }
  has_incoming_.store(true, std::memory_order_release);
}

void UdpWorker::takeSnapshot() {
  std::shared_ptr<const Snapshot> incoming;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    incoming.swap(incoming_);
    has_incoming_.store(false, std::memory_order_relaxed);
  }
  if (incoming) state_.adopt(std::move(incoming));
}

void UdpWorker::run() {
  while (!stop_.load(std::memory_order_relaxed)) {
    if (has_incoming_.load(std::memory_order_acquire)) takeSnapshot();
    // Blocks until one datagram is there, then takes whatever else is queued.
    const int received = recvmmsg(fd_, in_messages_, kBatch, MSG_WAITFORONE, nullptr);
    if (received <= 0) continue;  // the idle timeout (EAGAIN) or a signal
    // A snapshot published while we slept applies to this batch already.
    if (has_incoming_.load(std::memory_order_acquire)) takeSnapshot();
    answerBatch(received);
  }
}

void UdpWorker::answerBatch(int received) {
  unsigned replies = 0;
  for (int i = 0; i < received; ++i) {
    msghdr& in = in_messages_[i].msg_hdr;
    const sockaddr* from = reinterpret_cast<const sockaddr*>(&from_[i]);
    if ((in.msg_flags & MSG_TRUNC) != 0) {
      state_.counters().dropped.add();  // longer than any query we accept
    } else {
      const size_t n = state_.answer(in_[i], in_messages_[i].msg_len, from, Transport::kUdp,
                                     out_[replies], kMaxResponse);
      if (n > 0) {
        out_vectors_[replies].iov_len = n;
        out_messages_[replies].msg_hdr.msg_name = &from_[i];
        out_messages_[replies].msg_hdr.msg_namelen = in.msg_namelen;
        ++replies;
      }
    }
    in.msg_namelen = sizeof(sockaddr_storage);  // recvmmsg overwrote it
  }
  unsigned sent = 0;
  while (sent < replies) {
    const int n = sendmmsg(fd_, out_messages_ + sent, replies - sent, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      // The peer is unreachable or the send buffer full: these replies are
      // lost, as they could be on the wire; count them.
      state_.counters().dropped.add(replies - sent);
      break;
    }
    sent += static_cast<unsigned>(n);
  }
}

}  // namespace meridian::server
