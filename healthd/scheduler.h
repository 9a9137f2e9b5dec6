#pragma once
// When probes run: the first probe of each check is staggered across its
// interval, later ones follow a fixed phase with a little jitter, and a
// global token bucket caps probes per second for the whole process.
//
// TokenBucket and the stagger/phase arithmetic are pure (times are passed
// in, randomness comes from a caller's generator) so tests pin them down.
// RateGate runs on the healthd loop thread only.

#include <uv.h>

#include <cstdint>
#include <deque>
#include <random>
#include <vector>

namespace meridian::healthd {

using Rng = std::mt19937_64;

/// Allows `rate` events per second on average with bursts of `burst`.
class TokenBucket {
 public:
  TokenBucket(double rate_per_s, double burst) noexcept;
  /// Takes one token if available at `now_ms`.
  bool take(uint64_t now_ms) noexcept;
  /// Milliseconds from `now_ms` until take() can succeed (0 when it can now).
  uint64_t waitMs(uint64_t now_ms) noexcept;

 private:
  void refill(uint64_t now_ms) noexcept;
  double rate_per_ms_;
  double burst_;
  double tokens_;
  uint64_t last_ms_ = 0;
  bool started_ = false;
};

/// First-probe delays for `intervals_ms.size()` new checks. Checks sharing
/// an interval are spread over evenly sized slots of it, each placed at a
/// random point in the first half of its slot, in a shuffled order.
std::vector<uint64_t> staggerDelays(const std::vector<uint64_t>& intervals_ms, Rng& rng);

/// Jitter bound for later probes: +-5 % of the interval, at most 250 ms.
uint64_t jitterBoundMs(uint64_t interval_ms) noexcept;

/// The next due time of a check whose phase started at `base_ms` and whose
/// last probe was round `round`: base + (round+1) * interval + jitter, moved
/// to later rounds while more than half an interval late (rounds are
/// skipped, never run back to back), and never earlier than `now_ms`.
/// Sets `round` to the chosen round.
uint64_t nextDueMs(uint64_t base_ms, uint64_t interval_ms, int64_t jitter_ms, uint64_t now_ms,
                   uint64_t& round) noexcept;

/// Something that waits for permission to start a probe.
class GateClient {
 public:
  virtual ~GateClient() = default;
  virtual void launch() = 0;
};

/// The global probes-per-second cap. A probe asks for a slot; it runs at once
/// when the bucket allows, otherwise it waits in FIFO order.
class RateGate {
 public:
  /// `max_per_s` == 0 disables the cap.
  RateGate(uv_loop_t* loop, double max_per_s);
  ~RateGate();
  RateGate(const RateGate&) = delete;
  RateGate& operator=(const RateGate&) = delete;

  /// Calls client->launch() now or later (from a timer on this loop).
  void request(GateClient* client);
  /// Forgets a waiting client (it is being destroyed).
  void cancel(GateClient* client);

  /// Probes that had to wait for a token so far.
  uint64_t delayed() const { return delayed_; }
  size_t waiting() const { return queue_.size(); }

 private:
  static void onTimer(uv_timer_t* timer);
  void drain();

  uv_loop_t* loop_;
  bool unlimited_;
  TokenBucket bucket_;
  std::deque<GateClient*> queue_;
  uv_timer_t* timer_;
  uint64_t delayed_ = 0;
};

}  // namespace meridian::healthd
