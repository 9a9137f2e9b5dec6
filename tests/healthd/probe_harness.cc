#include "tests/healthd/probe_harness.h"

#include "healthd/uv_util.h"

namespace meridian::test {

ProbeHarness::ProbeHarness(double max_per_s, healthd::Resolver::LookupFunction lookup) {
  uv_loop_init(&loop_);
  gate_ = std::make_unique<healthd::RateGate>(&loop_, max_per_s);
  curl_ = std::make_unique<healthd::CurlMulti>(&loop_);
  resolver_ = std::make_unique<healthd::Resolver>(&loop_, std::move(lookup));
  env_ = healthd::ProbeEnv{&loop_, gate_.get(), curl_.get(), resolver_.get(), &rng_, &stats_};
}

ProbeHarness::~ProbeHarness() {
  probes_.clear();
  curl_.reset();
  resolver_.reset();
  gate_.reset();
  uv_run(&loop_, UV_RUN_DEFAULT);  // finish closing handles
  uv_loop_close(&loop_);
}

healthd::Probe& ProbeHarness::add(const std::string& spec_json, const std::string& address) {
  const auto spec = zones::parseCheckSpec(nlohmann::json::parse(spec_json), "check");
  const size_t index = probes_.size();
  results_.emplace_back();
  probes_.push_back(healthd::makeProbe(
      env_, spec, address,
      [this, index](const healthd::ProbeResult& r) { results_[index].push_back(r); }));
  return *probes_.back();
}

const std::vector<healthd::ProbeResult>& ProbeHarness::runUntil(size_t index, size_t count,
                                                                uint64_t deadline_ms) {
  // The loop's clock stood still while the test did other things (made a
  // certificate, started a server): catch up, or the deadline below and the
  // probes' timers would be measured from a time long past.
  uv_update_time(&loop_);
  auto* deadline = healthd::newHandle<uv_timer_t>();
  uv_timer_init(&loop_, deadline);
  bool expired = false;
  deadline->data = &expired;
  uv_timer_start(
      deadline, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, deadline_ms, 0);
  while (!expired && results_[index].size() < count) uv_run(&loop_, UV_RUN_ONCE);
  healthd::closeAndFree(deadline);
  return results_[index];
}

void ProbeHarness::runFor(uint64_t ms) {
  uv_update_time(&loop_);  // as in runUntil
  auto* timer = healthd::newHandle<uv_timer_t>();
  uv_timer_init(&loop_, timer);
  bool expired = false;
  timer->data = &expired;
  uv_timer_start(
      timer, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; }, ms, 0);
  while (!expired) uv_run(&loop_, UV_RUN_ONCE);
  healthd::closeAndFree(timer);
}

healthd::ProbeResult ProbeHarness::once(const std::string& spec_json, const std::string& address,
                                        uint64_t deadline_ms) {
  healthd::Probe& probe = add(spec_json, address);
  const size_t index = probes_.size() - 1;
  uv_update_time(&loop_);  // as in runUntil
  probe.start(0);
  const auto& results = runUntil(index, 1, deadline_ms);
  probe.stop();
  if (results.empty()) return {false, "harness: no result before the deadline", {}};
  return results.front();
}

}  // namespace meridian::test
