#pragma once
// One DNS-over-TCP client connection (RFC 7766): 2-octet length framing,
// several queries per connection answered in order, an idle timeout, and
// back-pressure (stop reading while a response is waiting to be written).
//
// Objects are pooled per loop and reused, so accepting a connection does not
// allocate. Used only on its loop's thread.

#include <uv.h>

#include <cstdint>
#include <vector>

namespace meridian::server {

class DnsLoop;

class TcpConnection {
 public:
  /// Largest query accepted; real queries are a few hundred octets, and a
  /// length prefix above this closes the connection.
  static constexpr size_t kReadBuffer = 16 * 1024;

  explicit TcpConnection(DnsLoop& loop) : loop_(loop) {}
  TcpConnection(const TcpConnection&) = delete;
  TcpConnection& operator=(const TcpConnection&) = delete;

  /// Accepts the pending connection on `server` and starts reading. Returns
  /// false (and releases itself) if the accept failed.
  bool open(uv_stream_t* server);
  /// Closes now; a response being written is abandoned.
  void close();
  /// Stops reading and closes once the response being written is sent
  /// (graceful shutdown).
  void drain();
  bool closing() const { return closing_; }

  bool in_use = false;  // owned by DnsLoop's pool bookkeeping

 private:
  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* request, int status);
  static void onIdle(uv_timer_t* timer);
  static void onClose(uv_handle_t* handle);

  void processMessages();
  void send(const uint8_t* data, size_t length);

  DnsLoop& loop_;
  uv_tcp_t handle_;
  uv_timer_t idle_;
  uv_write_t write_request_;
  sockaddr_storage peer_{};
  uint8_t in_[kReadBuffer];
  size_t in_used_ = 0;
  std::vector<uint8_t> pending_;  // unsent response bytes while a uv_write runs
  bool writing_ = false;
  bool reading_ = false;
  bool closing_ = false;
  bool eof_ = false;       // the client half-closed
  bool draining_ = false;  // the server is shutting down
  int open_handles_ = 0;
};

}  // namespace meridian::server
