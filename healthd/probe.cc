#include "healthd/probe.h"

#include "healthd/dns_probe.h"
#include "healthd/http_probe.h"
#include "healthd/tcp_probe.h"
#include "healthd/uv_util.h"

namespace meridian::healthd {

Probe::Probe(ProbeEnv& env, const zones::CheckSpec& spec, Callback callback)
    : env_(env),
      spec_(spec),
      callback_(std::move(callback)),
      due_timer_(newHandle<uv_timer_t>()),
      timeout_timer_(newHandle<uv_timer_t>()) {
  uv_timer_init(env_.loop, due_timer_);
  uv_timer_init(env_.loop, timeout_timer_);
  due_timer_->data = this;
  timeout_timer_->data = this;
}

Probe::~Probe() {
  // Derived classes have already aborted their in-flight work in their own
  // destructors (via stop()); here only the base's handles remain.
  stopped_ = true;
  if (waiting_) env_.gate->cancel(this);
  if (in_flight_ && env_.stats->in_flight > 0) --env_.stats->in_flight;
  closeAndFree(due_timer_);
  closeAndFree(timeout_timer_);
}

void Probe::stop() {
  if (stopped_) return;
  stopped_ = true;
  uv_timer_stop(due_timer_);
  uv_timer_stop(timeout_timer_);
  if (waiting_) {
    env_.gate->cancel(this);
    waiting_ = false;
  }
  if (in_flight_) {
    abort();
    in_flight_ = false;
    --env_.stats->in_flight;
  }
}

void Probe::start(uint64_t first_delay_ms) {
  base_ms_ = uv_now(env_.loop) + first_delay_ms;
  round_ = 0;
  uv_timer_start(due_timer_, onDue, first_delay_ms, 0);
}

void Probe::onDue(uv_timer_t* timer) {
  auto* self = static_cast<Probe*>(timer->data);
  if (!self || self->stopped_ || self->in_flight_ || self->waiting_) return;
  self->waiting_ = true;
  self->env_.gate->request(self);
}

void Probe::launch() {
  waiting_ = false;
  if (stopped_) return;
  in_flight_ = true;
  ++started_;
  ++env_.stats->started;
  ++env_.stats->in_flight;
  sent_ns_ = uv_hrtime();
  uv_timer_start(timeout_timer_, onTimeout, static_cast<uint64_t>(spec_.timeout_ms), 0);
  send();
}

void Probe::onTimeout(uv_timer_t* timer) {
  auto* self = static_cast<Probe*>(timer->data);
  if (!self || !self->in_flight_) return;
  std::string error = self->timeoutError();
  self->abort();
  ++self->env_.stats->timed_out;
  self->complete({false, std::move(error), {}});
}

std::string Probe::timeoutError() const {
  return "timeout after " + std::to_string(spec_.timeout_ms) + " ms";
}

void Probe::finish(ProbeResult result) {
  if (!in_flight_) return;  // late result after a timeout already counted
  complete(std::move(result));
}

void Probe::complete(ProbeResult result) {
  in_flight_ = false;
  --env_.stats->in_flight;
  uv_timer_stop(timeout_timer_);
  ++(result.ok ? env_.stats->succeeded : env_.stats->failed);
  if (!result.ok) result.rtt_ms.reset();
  // Every outcome of a metrics check says something about the load (a
  // timeout: no reading), whichever path produced it.
  if (spec_.type == zones::CheckType::Metrics) result.from_metrics = true;
  callback_(result);
  if (!stopped_) scheduleNext();
}

void Probe::scheduleNext() {
  const uint64_t interval_ms = static_cast<uint64_t>(spec_.interval_s) * 1000;
  const int64_t bound = static_cast<int64_t>(jitterBoundMs(interval_ms));
  std::uniform_int_distribution<int64_t> jitter(-bound, bound);
  const uint64_t now = uv_now(env_.loop);
  const uint64_t due = nextDueMs(base_ms_, interval_ms, jitter(*env_.rng), now, round_);
  uv_timer_start(due_timer_, onDue, due - now, 0);
}

double Probe::elapsedMs() const {
  return static_cast<double>(uv_hrtime() - sent_ns_) / 1e6;
}

std::unique_ptr<Probe> makeProbe(ProbeEnv& env, const zones::CheckSpec& spec,
                                 const std::string& address, Probe::Callback callback) {
  switch (spec.type) {
    case zones::CheckType::Http:
    case zones::CheckType::Https:
    case zones::CheckType::Metrics:  // an HTTP GET that reads the exposition
      return std::make_unique<HttpProbe>(env, spec, std::move(callback));
    case zones::CheckType::Tcp:
      return std::make_unique<TcpProbe>(env, spec, address, std::move(callback));
    case zones::CheckType::Dns:
      return std::make_unique<DnsProbe>(env, spec, address, std::move(callback));
  }
  return nullptr;
}

}  // namespace meridian::healthd
