#include "healthd/scheduler.h"

#include <algorithm>
#include <map>

#include "healthd/uv_util.h"

namespace meridian::healthd {

TokenBucket::TokenBucket(double rate_per_s, double burst) noexcept
    : rate_per_ms_(rate_per_s / 1000.0), burst_(std::max(burst, 1.0)), tokens_(burst_) {}

void TokenBucket::refill(uint64_t now_ms) noexcept {
  if (!started_) {
    started_ = true;
    last_ms_ = now_ms;
    return;
  }
  if (now_ms <= last_ms_) return;
  // 500 probes/s is 0.5 tokens per ms: 8 ms after the last refill, 4 more
  // tokens, never more than the burst size.
  tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - last_ms_) * rate_per_ms_);
  last_ms_ = now_ms;
}

bool TokenBucket::take(uint64_t now_ms) noexcept {
  refill(now_ms);
  if (tokens_ < 1.0) return false;
  tokens_ -= 1.0;
  return true;
}

uint64_t TokenBucket::waitMs(uint64_t now_ms) noexcept {
  refill(now_ms);
  if (tokens_ >= 1.0 || rate_per_ms_ <= 0) return 0;
  // 0.25 tokens left at 0.5 tokens/ms: the next whole token is 1.5 ms away;
  // round up so the timer never fires a moment too early.
  const double ms = (1.0 - tokens_) / rate_per_ms_;
  return static_cast<uint64_t>(ms) + 1;
}

std::vector<uint64_t> staggerDelays(const std::vector<uint64_t>& intervals_ms, Rng& rng) {
  std::vector<uint64_t> delays(intervals_ms.size(), 0);
  std::map<uint64_t, std::vector<size_t>> groups;
  for (size_t i = 0; i < intervals_ms.size(); ++i) groups[intervals_ms[i]].push_back(i);
  std::uniform_real_distribution<double> half(0.0, 0.5);
  for (auto& [interval, members] : groups) {
    std::shuffle(members.begin(), members.end(), rng);
    const double slot = static_cast<double>(interval) / static_cast<double>(members.size());
    // Ten checks at 1000 ms get slots of 100 ms; slot 3 starts at 300 ms and
    // its probe lands in [300, 350) ms. Two first probes are therefore at
    // least half a slot (50 ms) apart, and no pattern repeats across restarts.
    for (size_t s = 0; s < members.size(); ++s) {
      delays[members[s]] = static_cast<uint64_t>(slot * (static_cast<double>(s) + half(rng)));
    }
  }
  return delays;
}

uint64_t jitterBoundMs(uint64_t interval_ms) noexcept {
  return std::min<uint64_t>(interval_ms / 20, 250);
}

uint64_t nextDueMs(uint64_t base_ms, uint64_t interval_ms, int64_t jitter_ms, uint64_t now_ms,
                   uint64_t& round) noexcept {
  // Phase is kept from the first probe: with base 1200 ms and interval 1000
  // ms, rounds are due at 2200, 3200, ... (+- jitter), however long each probe
  // took, so staggered checks stay staggered instead of drifting together.
  auto target = [&](uint64_t r) {
    const int64_t t = static_cast<int64_t>(base_ms + r * interval_ms) + jitter_ms;
    return static_cast<uint64_t>(std::max<int64_t>(t, 0));
  };
  uint64_t r = round + 1;
  while (target(r) + interval_ms / 2 < now_ms) ++r;
  round = r;
  return std::max(target(r), now_ms);
}

RateGate::RateGate(uv_loop_t* loop, double max_per_s)
    : loop_(loop),
      unlimited_(max_per_s <= 0),
      // A burst of 1/20 s worth of tokens absorbs small clusters without
      // letting a stalled loop fire a whole second's worth at once.
      bucket_(max_per_s, std::max(1.0, max_per_s / 20.0)),
      timer_(newHandle<uv_timer_t>()) {
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

RateGate::~RateGate() {
  closeAndFree(timer_);
}

void RateGate::request(GateClient* client) {
  if (unlimited_ || (queue_.empty() && bucket_.take(uv_now(loop_)))) {
    client->launch();
    return;
  }
  ++delayed_;
  queue_.push_back(client);
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(timer_))) {
    uv_timer_start(timer_, onTimer, bucket_.waitMs(uv_now(loop_)), 0);
  }
}

void RateGate::cancel(GateClient* client) {
  queue_.erase(std::remove(queue_.begin(), queue_.end(), client), queue_.end());
}

void RateGate::onTimer(uv_timer_t* timer) {
  if (auto* self = static_cast<RateGate*>(timer->data)) self->drain();
}

void RateGate::drain() {
  while (!queue_.empty() && bucket_.take(uv_now(loop_))) {
    GateClient* client = queue_.front();
    queue_.pop_front();
    client->launch();
  }
  if (!queue_.empty()) uv_timer_start(timer_, onTimer, bucket_.waitMs(uv_now(loop_)), 0);
}

}  // namespace meridian::healthd
