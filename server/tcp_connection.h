#pragma once
// One DNS-over-TCP client connection (RFC 7766): 2-octet length framing,
// several queries per connection answered in order, and back-pressure (stop
// reading while a response is waiting to be written).
//
// One timer bounds each phase of the connection, and is set when the phase
// begins, never by the bytes that arrive during it:
//   idle     waiting for the first byte of a query: --tcp-idle-timeout-ms
//            (RFC 7766 section 6.2.3; Knot's tcp-idle-timeout);
//   reading  part of a query has arrived: the rest must follow within
//            --tcp-io-timeout-ms of its first byte (Knot's tcp-io-timeout),
//            so a client trickling a byte at a time (slowloris) cannot hold
//            the connection;
//   writing  a reply waits for the client to read: it must be taken within
//            --tcp-io-timeout-ms, or the connection is closed.
// Idle and reading connections are also what DnsLoop closes, oldest first,
// to make room when the process is at --tcp-max-connections.
//
// Objects are pooled per loop and reused. Used only on its loop's thread.

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <vector>

#include "server/tcp_limits.h"

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

  /// Accepts the pending connection on `server`. Returns false (and closes
  /// itself) if the accept failed.
  bool accept(uv_stream_t* server);
  const sockaddr* peer() const { return reinterpret_cast<const sockaddr*>(&peer_); }
  /// From now on closing gives back the client's count (TcpLimits).
  void holdClient(ClientKey key) {
    client_ = key;
    holds_client_ = true;
  }
  /// Starts serving; the connection holds one of the process's connections
  /// (TcpLimits) until it closes. False (and closed) if reading fails.
  bool start();
  /// Closes now; a response being written is abandoned.
  void close();
  /// Stops reading and closes once the response being written is sent
  /// (graceful shutdown).
  void drain();
  bool closing() const { return closing_; }

  // DnsLoop's bookkeeping: the pool, and the list of connections waiting
  // for a query, least recently served first.
  bool in_use = false;
  bool waiting = false;
  TcpConnection* waiting_prev = nullptr;
  TcpConnection* waiting_next = nullptr;

 private:
  enum class Phase : uint8_t { kIdle, kReading, kWriting };

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* request, int status);
  static void onTimer(uv_timer_t* timer);
  static void onClose(uv_handle_t* handle);

  void processMessages();
  void send(const uint8_t* data, size_t length);
  /// Moves to `next`, starting its timer, unless the connection is already
  /// in it and `restart` is false (a query still arriving keeps the
  /// deadline set by its first byte). `restart` also means progress: a
  /// query was answered, so the connection becomes the last to evict.
  void enter(Phase next, bool restart);

  DnsLoop& loop_;
  uv_tcp_t handle_;
  uv_timer_t timer_;
  uv_write_t write_request_;
  sockaddr_storage peer_{};
  ClientKey client_;
  uint8_t in_[kReadBuffer];
  size_t in_used_ = 0;
  std::vector<uint8_t> pending_;  // unsent response bytes while a uv_write runs
  Phase phase_ = Phase::kIdle;
  bool writing_ = false;
  bool reading_ = false;
  bool closing_ = false;
  bool eof_ = false;       // the client half-closed
  bool draining_ = false;  // the server is shutting down
  bool holds_slot_ = false;
  bool holds_client_ = false;
  int open_handles_ = 0;
};

}  // namespace meridian::server
