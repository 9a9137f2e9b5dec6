#include "server/api/connection_watch.h"

#include <sys/socket.h>

#include "common/log.h"

namespace meridian::api {

ConnectionWatch::ConnectionWatch(std::chrono::milliseconds timeout) : timeout_(timeout) {}

ConnectionWatch::~ConnectionWatch() {
  stop();
}

void ConnectionWatch::start() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ConnectionWatch::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ConnectionWatch::opened(const void* key, int fd) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_[key] = Entry{fd, false, Clock::now() + timeout_};
  }
  // The thread may be waiting with nothing to watch.
  wake_.notify_all();
}

void ConnectionWatch::closed(const void* key) {
  std::lock_guard<std::mutex> lock(mutex_);
  entries_.erase(key);
}

void ConnectionWatch::received(const void* key, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end()) return;
  // 1 s per 64 KiB, in microseconds so that small chunks add up:
  // 16 KiB -> 250000 us.
  it->second.deadline += std::chrono::microseconds(bytes * 1000000 / kBytesPerExtraSecond);
}

void ConnectionWatch::working(const void* key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = entries_.find(key);
  if (it != entries_.end()) it->second.paused = true;
}

void ConnectionWatch::restart(const void* key) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end() || it->second.fd < 0) return;  // cut already: stays cut
  it->second.paused = false;
  it->second.deadline = Clock::now() + timeout_;
}

uint64_t ConnectionWatch::cut() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cut_;
}

void ConnectionWatch::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    const Clock::time_point now = Clock::now();
    Clock::time_point next = Clock::time_point::max();
    for (auto& [key, entry] : entries_) {
      if (entry.paused || entry.fd < 0) continue;
      if (entry.deadline <= now) {
        // Wakes libmicrohttpd's poll on the socket: it reads end-of-stream
        // and closes the connection as if the client had.
        shutdown(entry.fd, SHUT_RDWR);
        entry.fd = -1;
        ++cut_;
        log::debug("api: closed a connection that did not complete its request in time");
      } else {
        next = std::min(next, entry.deadline);
      }
    }
    if (next == Clock::time_point::max()) {
      wake_.wait(lock);
    } else {
      wake_.wait_until(lock, next);
    }
  }
}

}  // namespace meridian::api
