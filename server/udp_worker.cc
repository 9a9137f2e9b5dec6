#include "server/udp_worker.h"

#include <arpa/inet.h>
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

bool isWildcard(const sockaddr_storage& address) {
  if (address.ss_family == AF_INET) {
    return reinterpret_cast<const sockaddr_in&>(address).sin_addr.s_addr == htonl(INADDR_ANY);
  }
  return address.ss_family == AF_INET6 &&
         IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6&>(address).sin6_addr);
}

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
  static_assert(CMSG_SPACE(sizeof(in6_pktinfo)) <= kControl &&
                CMSG_SPACE(sizeof(in_pktinfo)) <= kControl);
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
  pktinfo_ = isWildcard(where.address);
  if (pktinfo_) {
    const int rc = ipv6 ? setsockopt(fd_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one)
                        : setsockopt(fd_, IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
    if (rc != 0) {
      throw std::runtime_error(what + (ipv6 ? ": IPV6_RECVPKTINFO: " : ": IP_PKTINFO: ") +
                               std::strerror(errno));
    }
    for (size_t i = 0; i < kBatch; ++i) {
      in_messages_[i].msg_hdr.msg_control = in_control_[i];
      in_messages_[i].msg_hdr.msg_controllen = kControl;
    }
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
        msghdr& out = out_messages_[replies].msg_hdr;
        out_vectors_[replies].iov_len = n;
        out.msg_name = &from_[i];
        out.msg_namelen = in.msg_namelen;
        out.msg_controllen = replyFrom(in, out_control_[replies]);
        out.msg_control = out.msg_controllen > 0 ? out_control_[replies] : nullptr;
        ++replies;
      }
    }
    // recvmmsg overwrote these.
    in.msg_namelen = sizeof(sockaddr_storage);
    if (pktinfo_) in.msg_controllen = kControl;
  }
  sendReplies(replies);
}

size_t UdpWorker::replyFrom(const msghdr& in, uint8_t* control) {
  if (!pktinfo_) return 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&in); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&in), c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo asked;
      std::memcpy(&asked, CMSG_DATA(c), sizeof asked);
      // A query to a multicast or broadcast address cannot be answered from
      // it; the kernel then picks the source, as without IP_PKTINFO.
      const uint32_t to = ntohl(asked.ipi_addr.s_addr);
      if (IN_MULTICAST(to) || to == INADDR_BROADCAST) return 0;
      // ipi_spec_dst is the source of the reply; the interface is left to
      // the route (0), as for any locally addressed packet.
      in_pktinfo from{};
      from.ipi_spec_dst = asked.ipi_addr;
      auto* out = reinterpret_cast<cmsghdr*>(control);
      out->cmsg_level = IPPROTO_IP;
      out->cmsg_type = IP_PKTINFO;
      out->cmsg_len = CMSG_LEN(sizeof from);
      std::memcpy(CMSG_DATA(out), &from, sizeof from);
      return CMSG_SPACE(sizeof from);
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo asked;
      std::memcpy(&asked, CMSG_DATA(c), sizeof asked);
      if (IN6_IS_ADDR_MULTICAST(&asked.ipi6_addr)) return 0;
      // The interface index is kept: a link-local address means something
      // only on its own link.
      auto* out = reinterpret_cast<cmsghdr*>(control);
      out->cmsg_level = IPPROTO_IPV6;
      out->cmsg_type = IPV6_PKTINFO;
      out->cmsg_len = CMSG_LEN(sizeof asked);
      std::memcpy(CMSG_DATA(out), &asked, sizeof asked);
      return CMSG_SPACE(sizeof asked);
    }
  }
  return 0;
}

void UdpWorker::sendReplies(unsigned replies) {
  unsigned sent = 0;
  while (sent < replies) {
    const int n = sendmmsg(fd_, out_messages_ + sent, replies - sent, 0);
    if (n >= 0) {
      sent += static_cast<unsigned>(n);
      continue;
    }
    if (errno == EINTR) continue;
    // sendmmsg reports an error only for the first message it could not
    // send (after sending the ones before it, which it counted in the
    // previous call). That message is lost: its destination is one the
    // kernel refuses (a spoofed source port 0 is EINVAL, a firewall rule
    // EPERM) or cannot reach. Skip it alone; the rest of the batch goes out.
    state_.counters().send_errors.add();
    state_.counters().dropped.add();
    ++sent;
  }
}

}  // namespace meridian::server
