#pragma once
// The API's deadline per request, which trickling bytes cannot extend.
//
// libmicrohttpd's own timeout restarts on every byte received, so a client
// sending one header byte every few seconds holds a connection forever. The
// watch keeps, per connection, the time by which the client must have done
// its part, and a thread of its own shuts down the socket of a connection
// that overstays (libmicrohttpd then sees the connection end and cleans up
// as for any closed socket):
//
//   accepted / previous request completed   deadline = now + timeout
//   body bytes received                     deadline += 1 s per 64 KiB
//   handler runs (the request is whole)     no deadline: the time is ours
//   response queued                         deadline = now + timeout
//
// Example, timeout 30 s: a request trickled in at one byte per 4 s is cut at
// 30 s, however many bytes arrived; a 64 MiB zone file at 1 MiB/s takes 64 s
// and has 30 + 1024 s.
//
// The socket is shut down only while libmicrohttpd still owns it:
// libmicrohttpd reports a connection closed (MHD_CONNECTION_NOTIFY_CLOSED)
// before it closes the socket, and the watch forgets a connection and shuts
// sockets down under the same mutex, so it never touches a reused descriptor.
//
// Thread-safe: libmicrohttpd's threads report events, the watch thread cuts.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace meridian::api {

class ConnectionWatch {
 public:
  using Clock = std::chrono::steady_clock;

  /// Every 64 KiB of body received extends the deadline by a second, so a
  /// large upload at a real rate is not cut.
  static constexpr size_t kBytesPerExtraSecond = 64 * 1024;

  explicit ConnectionWatch(std::chrono::milliseconds timeout);
  /// Stops the thread.
  ~ConnectionWatch();
  ConnectionWatch(const ConnectionWatch&) = delete;
  ConnectionWatch& operator=(const ConnectionWatch&) = delete;

  void start();
  void stop();

  /// A connection was accepted on socket `fd` (`key` identifies it).
  void opened(const void* key, int fd);
  /// The connection is closed; its socket is about to be.
  void closed(const void* key);
  /// Body bytes arrived.
  void received(const void* key, size_t bytes);
  /// The request is whole and its handler runs: no deadline meanwhile.
  void working(const void* key);
  /// A response is queued (new deadline for sending it), or a request has
  /// completed (new deadline for the next one on the connection).
  void restart(const void* key);

  /// Connections shut down for missing their deadline, since construction.
  uint64_t cut() const;

 private:
  struct Entry {
    int fd = -1;
    bool paused = false;  // handler running, or already cut
    Clock::time_point deadline;
  };
  void run();

  const std::chrono::milliseconds timeout_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::unordered_map<const void*, Entry> entries_;
  uint64_t cut_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace meridian::api
