#pragma once
// The two clocks the query path reads: a monotonic one for response rate
// limiting (server/rrl.h) and the Unix time for DNS cookie timestamps
// (server/cookies.h). An interface so that tests script time exactly; the
// query threads use SystemClock. Any thread; noexcept, no allocation.

#include <time.h>

#include <cstdint>

namespace meridian::server {

class QueryClock {
 public:
  virtual ~QueryClock() = default;
  /// Microseconds since an arbitrary start, never going back.
  virtual uint64_t monotonicMicros() const noexcept = 0;
  /// Seconds since 1970 (RFC 9018 timestamps are these, modulo 2^32).
  virtual uint32_t unixSeconds() const noexcept = 0;
};

/// The coarse kernel clocks: a vDSO read of a few nanoseconds, precise to a
/// scheduler tick (1 to 4 ms), which is plenty for a rate per second and a
/// cookie lifetime of an hour. Stateless, so every thread reads the same
/// monotonic time (the rate limiter's table is shared).
class SystemClock final : public QueryClock {
 public:
  uint64_t monotonicMicros() const noexcept override {
    timespec now;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
    return static_cast<uint64_t>(now.tv_sec) * 1000000u +
           static_cast<uint64_t>(now.tv_nsec) / 1000u;
  }
  uint32_t unixSeconds() const noexcept override {
    timespec now;
    clock_gettime(CLOCK_REALTIME_COARSE, &now);
    return static_cast<uint32_t>(now.tv_sec);
  }
};

/// A clock that moves only when told to (tests).
class ManualClock final : public QueryClock {
 public:
  uint64_t monotonicMicros() const noexcept override { return micros; }
  uint32_t unixSeconds() const noexcept override { return seconds; }
  uint64_t micros = 1;
  uint32_t seconds = 1700000000;
};

}  // namespace meridian::server
