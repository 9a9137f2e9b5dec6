#include "healthd/resolver.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <utility>

#include "healthd/uv_util.h"

namespace meridian::healthd {

namespace {

// More addresses than a probe could try within its timeout are dropped.
constexpr size_t kMaxAddresses = 8;

}  // namespace

// What the loop and the pool threads share. Pool threads hold it through a
// shared_ptr, so a thread still inside getaddrinfo when the Resolver goes
// away finds `closing` set afterwards and leaves without touching the loop.
struct Resolver::Shared {
  std::mutex mutex;
  std::condition_variable wake;
  std::deque<std::string> queue;                       // names waiting for a thread
  std::vector<std::pair<std::string, Resolved>> done;  // results for the loop
  uv_async_t* async = nullptr;                         // null once closing
  bool closing = false;
  size_t threads = 0;
  size_t starting = 0;  // started, not yet waiting for a name
  size_t idle = 0;      // threads waiting for a name
  std::multiset<std::chrono::steady_clock::time_point> running;  // lookups' start times
  LookupFunction lookup;
};

Resolved lookupHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &list);
  Resolved out;
  if (rc != 0) {
    out.error = rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc);
    return out;
  }
  for (const addrinfo* a = list; a && out.addresses.size() < kMaxAddresses; a = a->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    const void* bytes = nullptr;
    if (a->ai_family == AF_INET) {
      bytes = &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr;
    } else if (a->ai_family == AF_INET6) {
      bytes = &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr;
    }
    if (!bytes || !inet_ntop(a->ai_family, bytes, text, sizeof text)) continue;
    if (std::find(out.addresses.begin(), out.addresses.end(), text) == out.addresses.end()) {
      out.addresses.emplace_back(text);
    }
  }
  freeaddrinfo(list);
  if (out.addresses.empty()) out.error = "no IPv4 or IPv6 address";
  return out;
}

void Resolver::work(std::shared_ptr<Shared> shared) {
  std::unique_lock<std::mutex> lock(shared->mutex);
  --shared->starting;
  for (;;) {
    ++shared->idle;
    const bool woken = shared->wake.wait_for(lock, std::chrono::milliseconds(kIdleExitMs), [&] {
      return shared->closing || !shared->queue.empty();
    });
    --shared->idle;
    if (shared->closing || !woken) break;
    const std::string host = std::move(shared->queue.front());
    shared->queue.pop_front();
    const auto started = shared->running.insert(std::chrono::steady_clock::now());
    lock.unlock();
    Resolved result;
    try {
      result = shared->lookup(host);
    } catch (const std::exception& e) {
      result = {{}, e.what()};
    }
    if (result.addresses.empty() && result.error.empty()) result.error = "no address";
    lock.lock();
    shared->running.erase(started);
    if (shared->closing) break;
    shared->done.emplace_back(host, std::move(result));
    uv_async_send(shared->async);
  }
  --shared->threads;
}

Resolver::Resolver(uv_loop_t* loop, LookupFunction lookup)
    : loop_(loop), shared_(std::make_shared<Shared>()), async_(newHandle<uv_async_t>()) {
  shared_->lookup = lookup ? std::move(lookup) : LookupFunction(lookupHost);
  uv_async_init(loop_, async_, onDone);
  async_->data = this;
  shared_->async = async_;
}

Resolver::~Resolver() {
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->closing = true;
    shared_->async = nullptr;
    shared_->queue.clear();
  }
  shared_->wake.notify_all();
  // Not joined: a thread inside getaddrinfo may take seconds more, and
  // SIGTERM must not wait for it. The threads are detached.
  closeAndFree(async_);
}

const Resolved* Resolver::cached(const std::string& host) {
  const auto it = entries_.find(host);
  if (it == entries_.end() || !it->second.result) return nullptr;
  if (uv_now(loop_) >= it->second.expires_ms) return nullptr;
  return &*it->second.result;
}

uint64_t Resolver::resolve(const std::string& host, Callback callback) {
  const uint64_t ticket = next_ticket_++;
  Entry& entry = entries_[host];
  entry.waiters.emplace(ticket, std::move(callback));
  tickets_.emplace(ticket, host);
  if (!entry.in_flight) {  // one lookup per name, however many ask
    entry.in_flight = true;
    std::lock_guard<std::mutex> lock(shared_->mutex);
    shared_->queue.push_back(host);
  }
  // Also when joining: a name queued behind stuck lookups gets its thread
  // at the next probe that asks for it.
  maybeSpawn();
  return ticket;
}

void Resolver::maybeSpawn() {
  bool spawn = false;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    Shared& s = *shared_;
    // Names wait that no idle or starting thread will take.
    if (s.queue.size() > s.idle + s.starting && s.threads < kMaxThreads) {
      // Lookups older than kSlowLookupMs wait for a name server that does
      // not answer; they do not count against the kThreads that serve the
      // names that work.
      const auto slow_before =
          std::chrono::steady_clock::now() - std::chrono::milliseconds(kSlowLookupMs);
      size_t stuck = 0;
      for (auto it = s.running.begin(); it != s.running.end() && *it <= slow_before; ++it) {
        ++stuck;
      }
      spawn = s.threads - stuck < kThreads;
    }
    if (spawn) {
      ++s.threads;
      ++s.starting;
    }
  }
  if (spawn) {
    std::thread(work, shared_).detach();
  } else {
    shared_->wake.notify_one();
  }
}

void Resolver::cancel(uint64_t ticket) {
  const auto it = tickets_.find(ticket);
  if (it == tickets_.end()) return;
  const auto entry = entries_.find(it->second);
  if (entry != entries_.end()) entry->second.waiters.erase(ticket);
  tickets_.erase(it);
  // The lookup itself runs on: its result is cached for the next probe.
}

size_t Resolver::pending() const {
  size_t n = 0;
  for (const auto& [host, entry] : entries_) n += entry.in_flight ? 1 : 0;
  return n;
}

size_t Resolver::threads() const {
  std::lock_guard<std::mutex> lock(shared_->mutex);
  return shared_->threads;
}

void Resolver::onDone(uv_async_t* async) {
  if (auto* self = static_cast<Resolver*>(async->data)) self->deliver();
}

void Resolver::deliver() {
  std::vector<std::pair<std::string, Resolved>> done;
  {
    std::lock_guard<std::mutex> lock(shared_->mutex);
    done.swap(shared_->done);
  }
  const uint64_t now = uv_now(loop_);
  for (auto& [host, result] : done) {
    Entry& entry = entries_[host];
    entry.in_flight = false;
    entry.expires_ms = now + (result.addresses.empty() ? kErrorCacheMs : kOkCacheMs);
    entry.result = std::move(result);
    const std::map<uint64_t, Callback> waiters = std::move(entry.waiters);
    entry.waiters.clear();
    const Resolved copy = *entry.result;  // a callback may start a new lookup of `host`
    for (const auto& [ticket, callback] : waiters) {
      // A callback may cancel a later waiter (say, by stopping its probe).
      if (tickets_.erase(ticket)) callback(copy);
    }
  }
  prune();
}

void Resolver::prune() {
  const uint64_t now = uv_now(loop_);
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& e = it->second;
    if (!e.in_flight && e.waiters.empty() && now >= e.expires_ms) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace meridian::healthd
