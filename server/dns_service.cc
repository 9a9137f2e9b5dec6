#include "server/dns_service.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "common/log.h"

namespace meridian::server {

namespace {

using common::portOf;
using common::setPort;
using common::socketAddressLength;

// Port 0 ("any free port", used by the tests): find one that is free for
// both UDP and TCP on this address. Another process could take it before we
// bind again, which the tests accept.
uint16_t findFreePort(const sockaddr_storage& where) {
  const socklen_t length = socketAddressLength(where);
  for (int attempt = 0; attempt < 50; ++attempt) {
    sockaddr_storage address = where;
    const int udp = socket(where.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int tcp = socket(where.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    uint16_t port = 0;
    socklen_t bound_length = length;
    if (udp >= 0 && tcp >= 0 && bind(udp, reinterpret_cast<sockaddr*>(&address), length) == 0 &&
        getsockname(udp, reinterpret_cast<sockaddr*>(&address), &bound_length) == 0 &&
        bind(tcp, reinterpret_cast<sockaddr*>(&address), length) == 0) {
      port = portOf(address);
    }
    if (udp >= 0) close(udp);
    if (tcp >= 0) close(tcp);
    if (port != 0) return port;
  }
  throw std::runtime_error("no free port for both UDP and TCP");
}

// Our sockets use SO_REUSEPORT so each loop gets its own; the kernel would
// then also let a second meridiand (same user) bind the same address and
// silently take half the traffic. Binding once without SO_REUSEPORT first
// turns that mistake into a clear error.
void ensureAddressFree(const ListenAddress& where) {
  const socklen_t length = socketAddressLength(where.address);
  for (int type : {SOCK_DGRAM, SOCK_STREAM}) {
    const int fd = socket(where.address.ss_family, type | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    const int one = 1;
    if (where.address.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const bool in_use = bind(fd, reinterpret_cast<const sockaddr*>(&where.address), length) != 0 &&
                        errno == EADDRINUSE;
    close(fd);
    if (in_use) {
      throw std::runtime_error(std::string(type == SOCK_DGRAM ? "udp " : "tcp ") + where.text +
                               ": address already in use (another DNS server, or another "
                               "meridiand, is listening there)");
    }
  }
}

}  // namespace

DnsService::DnsService(DnsServiceConfig config) : config_(std::move(config)) {
  if (config_.threads == 0) config_.threads = 1;
  if (config_.listen.empty()) throw std::invalid_argument("no --dns-listen address given");
  if (config_.rrl.rate > 0) {
    rrl_ = std::make_unique<RateLimiter>(config_.rrl, SystemClock().monotonicMicros());
  }
  config_.loop.answer.rrl = rrl_.get();
  ReloadSettings reload;
  reload.db_path = config_.db_path;
  reload.geodb_path = config_.geodb_path;
  reload.asndb_path = config_.asndb_path;
  reload.poll_interval = std::chrono::milliseconds(config_.reload_poll_ms);
  reload.health = config_.health;
  reloader_ = std::make_unique<Reloader>(
      reload, [this](std::shared_ptr<const Snapshot> s) { publish(std::move(s)); }, graveyard_);
}

DnsService::~DnsService() { stop(); }

void DnsService::publish(std::shared_ptr<const Snapshot> snapshot) {
  for (auto& loop : loops_) loop->publish(snapshot);
  for (auto& worker : udp_workers_) worker->publish(snapshot);
}

void DnsService::start() {
  tcp_limits_ = std::make_unique<TcpLimits>(config_.loop.tcp_max_connections,
                                            config_.loop.tcp_max_per_client);
  std::vector<DnsLoop*> siblings;
  for (unsigned i = 0; i < config_.threads; ++i) {
    loops_.push_back(std::make_unique<DnsLoop>(config_.loop, graveyard_, *tcp_limits_));
    siblings.push_back(loops_.back().get());
  }
  for (auto& loop : loops_) loop->setSiblings(siblings);
  for (const std::string& text : config_.listen) {
    ListenAddress address = parseListenAddress(text);
    if (portOf(address.address) == 0) {
      setPort(address.address, findFreePort(address.address));
    } else {
      ensureAddressFree(address);
    }
    for (auto& loop : loops_) loop->listen(address);
    for (unsigned i = 0; i < config_.threads; ++i) {
      udp_workers_.push_back(std::make_unique<UdpWorker>(config_.loop.answer, graveyard_));
      udp_workers_.back()->open(address);
    }
    bound_.push_back(common::formatSocketAddress(address.address));
  }
  reloader_->loadInitial();
  for (auto& loop : loops_) {
    DnsLoop* raw = loop.get();
    threads_.emplace_back([raw] { raw->run(); });
  }
  for (auto& worker : udp_workers_) {
    UdpWorker* raw = worker.get();
    threads_.emplace_back([raw] { raw->run(); });
  }
  reloader_->start();
  running_ = true;
}

void DnsService::stop() {
  if (!running_) return;
  running_ = false;
  reloader_->stop();
  for (auto& loop : loops_) loop->stop();
  for (auto& worker : udp_workers_) worker->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();  // the loops stay, so their final counters can be read
}

DnsTotals DnsService::totals() const {
  DnsTotals totals;
  for (const auto& loop : loops_) totals.add(loop->counters());
  for (const auto& worker : udp_workers_) totals.add(worker->counters());
  return totals;
}

RegionAnswerTotals DnsService::regionAnswerTotals() const {
  RegionAnswerTotals totals;
  for (const auto& loop : loops_) totals.add(loop->counters());
  for (const auto& worker : udp_workers_) totals.add(worker->counters());
  return totals;
}

bool DnsService::ready() const {
  if (loops_.empty()) return false;
  for (const auto& loop : loops_) {
    if (loop->generation() == 0) return false;
  }
  for (const auto& worker : udp_workers_) {
    if (worker->generation() == 0) return false;
  }
  return true;
}

}  // namespace meridian::server
