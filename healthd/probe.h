#pragma once
// The base of every probe type. One Probe runs one check of one endpoint
// forever: it owns the interval timer (first probe staggered, later ones on a
// fixed phase with jitter), the timeout, the request for a slot from the
// global rate gate, and the counters. A probe type only says how to send one
// probe (send()), how to drop one in flight (abort()), and reports the
// outcome with finish(). At most one probe per check is in flight.
//
// Everything here runs on the healthd loop thread.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "healthd/endpoint_health.h"
#include "healthd/scheduler.h"
#include "zones/check_spec.h"

namespace meridian::healthd {

class CurlMulti;
class Resolver;

/// Process-wide counters, summed over every probe.
struct ProbeStats {
  uint64_t started = 0;
  uint64_t succeeded = 0;
  uint64_t failed = 0;  // includes timeouts
  uint64_t timed_out = 0;
  uint64_t in_flight = 0;
};

/// What every probe needs from the daemon; outlives all probes.
struct ProbeEnv {
  uv_loop_t* loop = nullptr;
  RateGate* gate = nullptr;
  CurlMulti* curl = nullptr;
  Resolver* resolver = nullptr;  // host names of http(s) checks
  Rng* rng = nullptr;
  ProbeStats* stats = nullptr;
};

class Probe : public GateClient {
 public:
  using Callback = std::function<void(const ProbeResult&)>;

  Probe(ProbeEnv& env, const zones::CheckSpec& spec, Callback callback);
  ~Probe() override;
  Probe(const Probe&) = delete;
  Probe& operator=(const Probe&) = delete;

  /// Begins the schedule: the first probe after `first_delay_ms`.
  void start(uint64_t first_delay_ms);
  /// Stops for good: timers off, any probe in flight dropped without a
  /// result. Derived destructors call it; calling it twice is harmless.
  void stop();

  const zones::CheckSpec& spec() const { return spec_; }
  bool inFlight() const { return in_flight_; }
  uint64_t probesStarted() const { return started_; }

  /// GateClient: the rate gate allows this probe to run now.
  void launch() override;

 protected:
  /// Starts one probe. Must lead to exactly one finish() call unless abort()
  /// is called first; may call finish() before returning.
  virtual void send() = 0;
  /// Drops the probe in flight; no finish() may follow for it.
  virtual void abort() = 0;
  /// The error reported when the probe's timeout fires, asked just before
  /// abort(): "timeout after 500 ms" unless the type knows better.
  virtual std::string timeoutError() const;

  void finish(ProbeResult result);
  /// Milliseconds since send() was called (monotonic clock).
  double elapsedMs() const;

  uv_loop_t* loop() const { return env_.loop; }
  ProbeEnv& env() const { return env_; }

 private:
  static void onDue(uv_timer_t* timer);
  static void onTimeout(uv_timer_t* timer);
  void complete(ProbeResult result);
  void scheduleNext();

  ProbeEnv& env_;
  const zones::CheckSpec spec_;
  Callback callback_;
  uv_timer_t* due_timer_;
  uv_timer_t* timeout_timer_;
  uint64_t base_ms_ = 0;  // loop time of round 0
  uint64_t round_ = 0;
  uint64_t sent_ns_ = 0;
  uint64_t started_ = 0;
  bool waiting_ = false;  // queued at the rate gate
  bool in_flight_ = false;
  bool stopped_ = false;
};

/// The probe class for `spec.type`. `address` is the endpoint's address
/// (tcp and dns probes connect to it; http(s) probes use the URL's host).
std::unique_ptr<Probe> makeProbe(ProbeEnv& env, const zones::CheckSpec& spec,
                                 const std::string& address, Probe::Callback callback);

}  // namespace meridian::healthd
