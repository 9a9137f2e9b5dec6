#include "server/dns_loop.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "server/tcp_connection.h"

namespace meridian::server {

namespace {

// Connection objects beyond the cap that a loop may hold while connections
// it accepted and is closing again (refusals, evictions) wait for their
// close callbacks.
constexpr size_t kRefusalRoom = 64;

void setReusePort(uv_handle_t* handle, const std::string& what) {
  uv_os_fd_t fd;
  if (uv_fileno(handle, &fd) != 0) throw std::runtime_error(what + ": no socket");
  const int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    throw std::runtime_error(what + ": SO_REUSEPORT: " + std::strerror(errno));
  }
}

}  // namespace

void SnapshotGraveyard::bury(std::shared_ptr<const Snapshot> old) {
  std::lock_guard<std::mutex> lock(mutex_);
  buried_.push_back(std::move(old));
}

void SnapshotGraveyard::clear() {
  std::vector<std::shared_ptr<const Snapshot>> dead;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dead.swap(buried_);
  }
  // `dead` is destroyed here, on the calling (reload) thread.
}

DnsLoop::DnsLoop(const LoopSettings& settings, SnapshotGraveyard& graveyard, TcpLimits& limits)
    : settings_(settings), limits_(limits), state_(settings.answer, graveyard) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &async_, onAsync);
  async_.data = this;
  tcp_response_.resize(2 + 65535);
}

void DnsLoop::setSiblings(std::vector<DnsLoop*> loops) {
  siblings_ = std::move(loops);
  // This loop's share when SO_REUSEPORT spreads connections evenly, made
  // now so that accepting them does not allocate; the pool grows past it
  // only when the spread is uneven.
  const size_t share = settings_.tcp_max_connections / std::max<size_t>(1, siblings_.size());
  while (tcp_pool_.size() < share) {
    tcp_pool_.push_back(std::make_unique<TcpConnection>(*this));
    tcp_free_.push_back(tcp_pool_.back().get());
  }
}

DnsLoop::~DnsLoop() {
  // run() has returned after closing every handle; let libuv settle.
  uv_run(&loop_, UV_RUN_NOWAIT);
  uv_loop_close(&loop_);
}

void DnsLoop::listen(const ListenAddress& where) {
  const auto* address = reinterpret_cast<const sockaddr*>(&where.address);
  const bool ipv6 = where.address.ss_family == AF_INET6;
  const int family = ipv6 ? AF_INET6 : AF_INET;

  auto tcp = std::make_unique<uv_tcp_t>();
  tcp->data = this;
  if (uv_tcp_init_ex(&loop_, tcp.get(), static_cast<unsigned>(family)) != 0) {
    throw std::runtime_error("tcp " + where.text + ": cannot create socket");
  }
  setReusePort(reinterpret_cast<uv_handle_t*>(tcp.get()), "tcp " + where.text);
  int rc = uv_tcp_bind(tcp.get(), address, ipv6 ? UV_TCP_IPV6ONLY : 0);
  // A deep backlog rides out a burst of connections: a SYN dropped on a
  // full queue costs the client a 1 s retransmission (the kernel caps this
  // at net.core.somaxconn).
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp.get()), 1024, onTcpConnection);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp.release()),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_tcp_t*>(h); });
    uv_run(&loop_, UV_RUN_NOWAIT);
    throw std::runtime_error("tcp " + where.text + ": " + uv_strerror(rc));
  }
  tcp_listeners_.push_back(std::move(tcp));
}

void DnsLoop::run() { uv_run(&loop_, UV_RUN_DEFAULT); }

void DnsLoop::publish(std::shared_ptr<const Snapshot> snapshot) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    incoming_ = std::move(snapshot);
  }
  uv_async_send(&async_);
}

void DnsLoop::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_requested_ = true;
  }
  uv_async_send(&async_);
}

void DnsLoop::onAsync(uv_async_t* handle) { static_cast<DnsLoop*>(handle->data)->takeMessages(); }

void DnsLoop::takeMessages() {
  std::shared_ptr<const Snapshot> incoming;
  bool stop;
  unsigned evictions;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    incoming.swap(incoming_);
    stop = stop_requested_;
    evictions = std::exchange(evictions_requested_, 0);
  }
  if (incoming) state_.adopt(std::move(incoming));
  // Another loop admitted a connection past the cap on our account; when we
  // have nothing left to close, the count stays over until one ends.
  if (evictions > 0) evict(evictions);
  if (stop && !stopping_) closeAll();
}

bool DnsLoop::requestEviction() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stop_requested_) return false;  // async_ is closing or closed
  ++evictions_requested_;
  uv_async_send(&async_);
  return true;
}

// Graceful stop: no new packets or connections; connections finish the
// response they are writing; the loop ends when the last handle is closed.
void DnsLoop::closeAll() {
  stopping_ = true;
  for (auto& tcp : tcp_listeners_) uv_close(reinterpret_cast<uv_handle_t*>(tcp.get()), nullptr);
  for (auto& connection : tcp_pool_) {
    if (connection->in_use) connection->drain();
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), nullptr);
}

void DnsLoop::onTcpConnection(uv_stream_t* server, int status) {
  // An error (EMFILE, ...) leaves the listener polled; libuv has already
  // accepted and closed the connection it could not hold.
  if (status < 0) return;
  static_cast<DnsLoop*>(server->data)->accept(server);
}

void DnsLoop::accept(uv_stream_t* server) {
  TcpConnection* connection = takeConnection();
  if (connection == nullptr) {
    state_.counters().tcp_rejected.add();
    refuse(server);
    return;
  }
  if (!connection->accept(server)) return;
  const ClientKey client = limits_.clientKey(connection->peer());
  if (!limits_.acquireClient(client)) {
    state_.counters().tcp_client_refused.add();
    connection->close();
    return;
  }
  connection->holdClient(client);
  if (!admit()) {
    state_.counters().tcp_rejected.add();
    connection->close();
    return;
  }
  if (connection->start()) state_.counters().tcp_connections.add();
}

bool DnsLoop::admit() {
  if (limits_.tryAcquire()) return true;
  if (evict(1) == 1) return limits_.acquireOver();
  DnsLoop* busiest = nullptr;
  unsigned most = 0;
  for (DnsLoop* loop : siblings_) {
    const unsigned waiting = loop->waiting_count_.load(std::memory_order_relaxed);
    if (loop != this && waiting > most) {
      busiest = loop;
      most = waiting;
    }
  }
  if (busiest == nullptr || !limits_.acquireOver()) return false;
  if (busiest->requestEviction()) return true;
  limits_.release();
  return false;
}

unsigned DnsLoop::evict(unsigned count) {
  unsigned closed = 0;
  while (closed < count && waiting_head_ != nullptr) {
    waiting_head_->close();  // takes itself off the list
    state_.counters().tcp_evicted.add();
    ++closed;
  }
  return closed;
}

void DnsLoop::refuse(uv_stream_t* server) {
  if (refused_free_.empty()) {
    refused_pool_.push_back(std::make_unique<uv_tcp_t>());
    refused_free_.push_back(refused_pool_.back().get());
  }
  uv_tcp_t* handle = refused_free_.back();
  refused_free_.pop_back();
  uv_tcp_init(&loop_, handle);
  handle->data = this;
  // Taken with uv_accept even to refuse it: a connection left to the
  // listener makes libuv stop polling it, and TCP would be dead from then on.
  uv_accept(server, reinterpret_cast<uv_stream_t*>(handle));
  uv_close(reinterpret_cast<uv_handle_t*>(handle), onRefusedClosed);
}

void DnsLoop::onRefusedClosed(uv_handle_t* handle) {
  auto* self = static_cast<DnsLoop*>(handle->data);
  self->refused_free_.push_back(reinterpret_cast<uv_tcp_t*>(handle));
}

TcpConnection* DnsLoop::takeConnection() {
  if (tcp_free_.empty()) {
    // Bounded, so that connections accepted and closed again within one
    // turn of the loop (per-client refusals, evictions) cannot grow the
    // pool without end; past it, connections are refused with a bare handle.
    if (tcp_pool_.size() >= settings_.tcp_max_connections + TcpLimits::kOvershoot + kRefusalRoom) {
      return nullptr;
    }
    tcp_pool_.push_back(std::make_unique<TcpConnection>(*this));
    tcp_free_.push_back(tcp_pool_.back().get());
  }
  TcpConnection* connection = tcp_free_.back();
  tcp_free_.pop_back();
  connection->in_use = true;
  return connection;
}

void DnsLoop::release(TcpConnection* connection) {
  connection->in_use = false;
  tcp_free_.push_back(connection);
}

void DnsLoop::touch(TcpConnection* connection) {
  forget(connection);
  connection->waiting = true;
  connection->waiting_prev = waiting_tail_;
  connection->waiting_next = nullptr;
  if (waiting_tail_ != nullptr) {
    waiting_tail_->waiting_next = connection;
  } else {
    waiting_head_ = connection;
  }
  waiting_tail_ = connection;
  waiting_count_.store(waiting_count_.load(std::memory_order_relaxed) + 1,
                       std::memory_order_relaxed);
}

void DnsLoop::forget(TcpConnection* connection) {
  if (!connection->waiting) return;
  if (connection->waiting_prev != nullptr) {
    connection->waiting_prev->waiting_next = connection->waiting_next;
  } else {
    waiting_head_ = connection->waiting_next;
  }
  if (connection->waiting_next != nullptr) {
    connection->waiting_next->waiting_prev = connection->waiting_prev;
  } else {
    waiting_tail_ = connection->waiting_prev;
  }
  connection->waiting = false;
  connection->waiting_prev = connection->waiting_next = nullptr;
  waiting_count_.store(waiting_count_.load(std::memory_order_relaxed) - 1,
                       std::memory_order_relaxed);
}

}  // namespace meridian::server
