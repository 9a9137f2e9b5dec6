#pragma once
// One UDP service socket of one query loop. libuv tells us when the socket
// is readable (uv_poll_t, level-triggered); we then read up to 64 datagrams
// with one recvmmsg, answer them, and send every reply with one sendmmsg.
//
// Why not uv_udp_t: on libuv 1.44 its recvmmsg path hands each datagram a
// 64 KiB slot (20 per call, spread over 1.3 MB of buffer) and always reads on
// until EAGAIN, one extra system call per wakeup. Reading ourselves keeps the
// buffers small and hot and stops after a short batch, as gdnsd does; the
// poll is level-triggered, so anything that arrives meanwhile wakes us again.
//
// Used only on its loop's thread.

#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <string>

namespace meridian::server {

class DnsLoop;
struct ListenAddress;

class UdpSocket {
 public:
  /// Largest datagram read; a longer one is counted as dropped. Real queries
  /// are a few hundred octets.
  static constexpr size_t kSlot = 4096;
  static constexpr size_t kBatch = 64;
  /// Largest response we build for UDP; --edns-payload is capped to this.
  static constexpr size_t kMaxResponse = 4096;

  UdpSocket(DnsLoop& loop, uv_loop_t* uv_loop);
  ~UdpSocket();
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  /// Creates the socket (SO_REUSEPORT), binds it and starts polling. Throws
  /// std::runtime_error naming the address.
  void open(const ListenAddress& where);
  /// Stops reading and closes the socket.
  void close();

 private:
  static void onReadable(uv_poll_t* handle, int status, int events);
  void readBatches();

  DnsLoop& loop_;
  uv_loop_t* uv_loop_;
  uv_poll_t poll_;
  int fd_ = -1;
  bool polling_ = false;

  uint8_t in_[kBatch][kSlot];
  sockaddr_storage from_[kBatch];
  iovec in_vectors_[kBatch];
  mmsghdr in_messages_[kBatch];

  uint8_t out_[kBatch][kMaxResponse];
  iovec out_vectors_[kBatch];
  mmsghdr out_messages_[kBatch];
};

}  // namespace meridian::server
