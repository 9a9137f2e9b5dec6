#include "healthd/endpoint_health.h"

#include <cmath>

namespace meridian::healthd {

namespace {

// An RTT change smaller than this share of the written value is not written:
// 20.0 ms -> 20.3 ms (1.5 %) stays, 20.0 -> 20.5 ms (2.5 %) is written.
constexpr double kRttWriteThreshold = 0.02;

bool rttMoved(std::optional<double> written, std::optional<double> now) {
  if (written.has_value() != now.has_value()) return true;
  if (!now) return false;
  return std::fabs(*now - *written) >= kRttWriteThreshold * *written;
}

std::optional<bool> isUp(const std::optional<Hysteresis>& h) {
  if (!h) return std::nullopt;
  return h->state() == CheckState::kUp;
}

}  // namespace

const char* checkKindName(CheckKind kind) noexcept {
  return kind == CheckKind::kLiveness ? "check" : "readiness";
}

Hysteresis* EndpointHealth::check(CheckKind kind) {
  auto& h = kind == CheckKind::kLiveness ? liveness_ : readiness_;
  return h ? &*h : nullptr;
}

CheckState EndpointHealth::state(CheckKind kind) const {
  const auto& h = kind == CheckKind::kLiveness ? liveness_ : readiness_;
  return h ? h->state() : CheckState::kUnknown;
}

void EndpointHealth::configure(std::optional<Thresholds> liveness,
                               std::optional<Thresholds> readiness, int64_t now_ms) {
  auto apply = [](std::optional<Hysteresis>& h, const std::optional<Thresholds>& t) {
    if (!t) {
      h.reset();
    } else if (h) {
      h->setThresholds(t->rise, t->fall);
    } else {
      h.emplace(t->rise, t->fall);
    }
  };
  apply(liveness_, liveness);
  apply(readiness_, readiness);
  updateHealthy(now_ms);
}

void EndpointHealth::seed(const HealthRow& stored, bool written) {
  auto seedCheck = [](std::optional<Hysteresis>& h, std::optional<bool> ok) {
    if (h && ok) h->seed(*ok ? CheckState::kUp : CheckState::kDown);
  };
  seedCheck(liveness_, stored.liveness_ok);
  seedCheck(readiness_, stored.readiness_ok);
  healthy_ = stored.healthy;
  since_ = stored.since;
  transitions_ = stored.transitions;
  last_error_ = stored.last_error;
  rtt_.seed(stored.rtt_ms);
  if (written) written_ = stored;
  // The stored row may disagree with the current checks (one was added while
  // healthd was down); recompute so the next write is consistent.
  updateHealthy(stored.updated_at);
}

void EndpointHealth::setConfigError(std::optional<std::string> error, int64_t now_ms) {
  config_error_ = std::move(error);
  if (config_error_) last_error_ = "invalid check spec: " + *config_error_;
  updateHealthy(now_ms);
}

void EndpointHealth::record(CheckKind kind, const ProbeResult& result, int64_t now_ms) {
  Hysteresis* h = check(kind);
  if (!h) return;  // a result from a check that was removed meanwhile
  h->record(result.ok);
  if (!result.ok) last_error_ = std::string(checkKindName(kind)) + ": " + result.error;
  // RTT comes from the liveness check when there is one: a deep readiness
  // check measures the backend's work as much as the network.
  const bool rtt_source = kind == CheckKind::kLiveness || !liveness_;
  if (rtt_source && result.ok && result.rtt_ms) rtt_.add(*result.rtt_ms);
  if (result.from_metrics) {
    // A metrics check: its reading, or (failed) no reading, which meridiand
    // must learn at once rather than keep using the last good one.
    load_ = result.ok ? result.load : std::nullopt;
    error_rate_ = result.ok ? result.error_rate : std::nullopt;
    load_read_ = true;
  }
  updateHealthy(now_ms);
}

void EndpointHealth::updateHealthy(int64_t now_ms) {
  std::optional<bool> now;
  if (config_error_) {
    now = false;
  } else if (liveness_ || readiness_) {
    const auto l = liveness_ ? liveness_->state() : CheckState::kUp;
    const auto r = readiness_ ? readiness_->state() : CheckState::kUp;
    if (l == CheckState::kDown || r == CheckState::kDown) {
      now = false;  // known down even while the other check is still unknown
    } else if (l == CheckState::kUp && r == CheckState::kUp) {
      now = true;
    }
  }
  if (!now || now == healthy_) return;
  if (healthy_) ++transitions_;
  healthy_ = now;
  since_ = now_ms;
}

std::optional<HealthRow> EndpointHealth::row(int64_t now_ms) const {
  if (!healthy_) return std::nullopt;
  if (!config_error_) {
    // Wait until every configured check reported, unless one is already down.
    const bool unknown = (liveness_ && liveness_->state() == CheckState::kUnknown) ||
                         (readiness_ && readiness_->state() == CheckState::kUnknown);
    if (unknown && *healthy_) return std::nullopt;
  }
  HealthRow r;
  r.endpoint_id = endpoint_id_;
  r.healthy = *healthy_;
  if (!config_error_) {
    auto known = [](const std::optional<Hysteresis>& h) -> std::optional<bool> {
      if (!h || h->state() == CheckState::kUnknown) return std::nullopt;
      return isUp(h);
    };
    r.liveness_ok = known(liveness_);
    r.readiness_ok = known(readiness_);
  }
  r.since = since_;
  r.last_error = last_error_;
  r.rtt_ms = rtt_.value();
  r.transitions = transitions_;
  r.updated_at = now_ms;
  r.load = load_;
  r.error_rate = error_rate_;
  return r;
}

std::optional<HealthRow> EndpointHealth::takeChangedRow(int64_t now_ms) {
  auto r = row(now_ms);
  if (!r) return std::nullopt;
  if (written_) {
    const HealthRow& w = *written_;
    const bool same = w.healthy == r->healthy && w.liveness_ok == r->liveness_ok &&
                      w.readiness_ok == r->readiness_ok && w.since == r->since &&
                      w.last_error == r->last_error && w.transitions == r->transitions &&
                      !rttMoved(w.rtt_ms, r->rtt_ms) && !load_read_;
    if (same) return std::nullopt;
  }
  written_ = r;
  load_read_ = false;  // written: a reading refreshes the row's age (zones/load_store.h)
  return r;
}

}  // namespace meridian::healthd
