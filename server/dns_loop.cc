#include "server/dns_loop.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "server/tcp_connection.h"

namespace meridian::server {

namespace {

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

DnsLoop::DnsLoop(const LoopSettings& settings, SnapshotGraveyard& graveyard)
    : settings_(settings), state_(settings.answer, graveyard) {
  uv_loop_init(&loop_);
  uv_async_init(&loop_, &async_, onAsync);
  async_.data = this;
  tcp_response_.resize(2 + 65535);
  for (unsigned i = 0; i < settings_.tcp_max_connections; ++i) {
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
  if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp.get()), 128, onTcpConnection);
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
  {
    std::lock_guard<std::mutex> lock(mutex_);
    incoming.swap(incoming_);
    stop = stop_requested_;
  }
  if (incoming) state_.adopt(std::move(incoming));
  if (stop && !stopping_) closeAll();
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
  auto* self = static_cast<DnsLoop*>(server->data);
  if (status < 0) return;
  if (self->tcp_free_.empty()) {
    // At the cap: accept and close at once so the client fails fast instead
    // of waiting in the backlog.
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(server), &fd) == 0) {
      const int client = accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (client >= 0) ::close(client);
    }
    self->state_.counters().tcp_rejected.add();
    return;
  }
  TcpConnection* connection = self->tcp_free_.back();
  self->tcp_free_.pop_back();
  connection->in_use = true;
  if (connection->open(server)) self->state_.counters().tcp_connections.add();
}

void DnsLoop::release(TcpConnection* connection) {
  connection->in_use = false;
  tcp_free_.push_back(connection);
}

}  // namespace meridian::server
