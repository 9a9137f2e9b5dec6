#include "server/query_thread.h"

#include <utility>

#include "server/client_address.h"
#include "server/dns_loop.h"
#include "zones/database.h"

namespace meridian::server {

QueryThreadState::QueryThreadState(const AnswerSettings& settings, SnapshotGraveyard& graveyard)
    : graveyard_(graveyard) {
  context_.settings = settings;
  context_.counters = &counters_;
  // The rate limiter is shared; cookies need a SipHash context per thread.
  context_.rrl = settings.rrl;
  if (settings.cookies) cookies_ = std::make_unique<CookieEngine>(settings.cookie_secrets);
  context_.cookies = cookies_.get();
  context_.clock = &clock_;
  // Each thread draws its own weighted picks; seed from the clock and the
  // object's address so threads (and restarts) do not move in step.
  context_.random.state = static_cast<uint64_t>(zones::nowMillis()) ^
                          reinterpret_cast<uintptr_t>(this) ^ 0x9e3779b97f4a7c15ull;
}

size_t QueryThreadState::answer(const uint8_t* packet, size_t length, const sockaddr* from,
                                Transport transport, uint8_t* out, size_t capacity) noexcept {
  if (!current_) {  // not serving before the first snapshot
    counters_.dropped.add();
    return 0;
  }
  ClientAddress client;
  clientFromSockaddr(from, client);
  return handleQuery(*current_, context_, packet, length, client, transport, out, capacity);
}

void QueryThreadState::adopt(std::shared_ptr<const Snapshot> snapshot) {
  generation_.store(snapshot->generation, std::memory_order_relaxed);
  std::shared_ptr<const Snapshot> old = std::exchange(current_, std::move(snapshot));
  if (old) graveyard_.bury(std::move(old));
}

}  // namespace meridian::server
