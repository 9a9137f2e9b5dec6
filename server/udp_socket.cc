#include "server/udp_socket.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "server/dns_loop.h"

namespace meridian::server {

namespace {

// Datagrams read per wakeup at most (kBatch per call), so TCP and snapshot
// hand-offs on the same loop are never starved under a flood.
constexpr int kMaxBatchesPerWakeup = 8;

// A deep receive queue absorbs bursts while the loop is busy; the kernel
// caps it at net.core.rmem_max unless we are root (SO_RCVBUFFORCE).
constexpr int kReceiveBuffer = 4 * 1024 * 1024;

}  // namespace

UdpSocket::UdpSocket(DnsLoop& loop, uv_loop_t* uv_loop) : loop_(loop), uv_loop_(uv_loop) {
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

UdpSocket::~UdpSocket() {
  if (fd_ >= 0) ::close(fd_);
}

void UdpSocket::open(const ListenAddress& where) {
  const std::string what = "udp " + where.text;
  const bool ipv6 = where.address.ss_family == AF_INET6;
  fd_ = socket(where.address.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(what + ": " + std::strerror(errno));
  const int one = 1;
  if (setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw std::runtime_error(what + ": SO_REUSEPORT: " + std::strerror(errno));
  }
  if (ipv6) setsockopt(fd_, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUFFORCE, &kReceiveBuffer, sizeof kReceiveBuffer) != 0) {
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &kReceiveBuffer, sizeof kReceiveBuffer);
  }
  const socklen_t length = ipv6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  if (bind(fd_, reinterpret_cast<const sockaddr*>(&where.address), length) != 0) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
  }
  uv_poll_init(uv_loop_, &poll_, fd_);
  poll_.data = this;
  uv_poll_start(&poll_, UV_READABLE, onReadable);
  polling_ = true;
}

void UdpSocket::close() {
  if (!polling_) return;
  polling_ = false;
  uv_poll_stop(&poll_);
  uv_close(reinterpret_cast<uv_handle_t*>(&poll_), nullptr);
}

void UdpSocket::onReadable(uv_poll_t* handle, int status, int) {
  if (status < 0) return;
  static_cast<UdpSocket*>(handle->data)->readBatches();
}

void UdpSocket::readBatches() {
  for (int batch = 0; batch < kMaxBatchesPerWakeup; ++batch) {
    const int received = recvmmsg(fd_, in_messages_, kBatch, MSG_DONTWAIT, nullptr);
    if (received <= 0) return;  // EAGAIN (drained) or EINTR: the poll calls again
    unsigned replies = 0;
    for (int i = 0; i < received; ++i) {
      msghdr& in = in_messages_[i].msg_hdr;
      const sockaddr* from = reinterpret_cast<const sockaddr*>(&from_[i]);
      if ((in.msg_flags & MSG_TRUNC) == 0) {
        const size_t n = loop_.answer(in_[i], in_messages_[i].msg_len, from, Transport::kUdp,
                                      out_[replies], kMaxResponse);
        if (n > 0) {
          out_vectors_[replies].iov_len = n;
          out_messages_[replies].msg_hdr.msg_name = &from_[i];
          out_messages_[replies].msg_hdr.msg_namelen = in.msg_namelen;
          ++replies;
        }
      } else {
        loop_.counters_.dropped.add();  // longer than any query we accept
      }
      in.msg_namelen = sizeof(sockaddr_storage);  // recvmmsg overwrote it
    }
    unsigned sent = 0;
    while (sent < replies) {
      const int n = sendmmsg(fd_, out_messages_ + sent, replies - sent, MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        // The send buffer is full or the peer unreachable: these replies are
        // lost, as they could be on the wire; count them.
        loop_.counters_.dropped.add(replies - sent);
        break;
      }
      sent += static_cast<unsigned>(n);
    }
    if (received < static_cast<int>(kBatch)) return;  // a short batch: the queue was drained
  }
}

}  // namespace meridian::server
