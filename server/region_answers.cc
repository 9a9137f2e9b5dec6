#include "server/region_answers.h"

#include <algorithm>
#include <cstdio>

#include "server/metrics.h"

namespace meridian::server {

AnswerSlots& AnswerSlots::global() {
  static AnswerSlots slots;
  return slots;
}

uint16_t AnswerSlots::slotFor(const std::string& owner, uint16_t type, const std::string& region) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto key = std::make_tuple(owner, type, region);
  const auto it = slots_.find(key);
  if (it != slots_.end()) return it->second;
  if (keys_.size() >= kAnswerSlots) {
    ++exhausted_;
    return kNoAnswerSlot;
  }
  const uint16_t slot = static_cast<uint16_t>(keys_.size());
  slots_.emplace(std::move(key), slot);
  keys_.push_back({owner, type, region});
  return slot;
}

std::vector<AnswerSlotKey> AnswerSlots::keys() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return keys_;
}

uint64_t AnswerSlots::exhausted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return exhausted_;
}

std::string regionAnswersText(const AnswerSlots& slots, const RegionAnswerTotals& totals) {
  std::string out =
      "# HELP meridian_steered_region_answers_total Addresses handed out by steered names, per "
      "name, type and region.\n"
      "# TYPE meridian_steered_region_answers_total counter\n";
  const std::vector<AnswerSlotKey> keys = slots.keys();
  for (size_t i = 0; i < keys.size() && i < totals.counts.size(); ++i) {
    out += "meridian_steered_region_answers_total{name=\"" + prometheusLabel(keys[i].owner) +
           "\",type=\"" + (keys[i].type == 28 ? "AAAA" : "A") + "\",region=\"" +
           prometheusLabel(keys[i].region) + "\"} " + std::to_string(totals.counts[i]) + "\n";
  }
  out +=
      "# HELP meridian_steered_region_slots_exhausted_total (name, type, region) pairs not "
      "counted because all 4096 answer slots were taken.\n"
      "# TYPE meridian_steered_region_slots_exhausted_total counter\n"
      "meridian_steered_region_slots_exhausted_total " +
      std::to_string(slots.exhausted()) + "\n";
  return out;
}

AnswerWindow::Recent AnswerWindow::sample(int64_t now_ms, const RegionAnswerTotals& totals) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (samples_.empty() || now_ms - samples_.back().first >= 1000) {
    samples_.emplace_back(now_ms, totals.counts);
  }
  // Keep the newest sample at least a window old, drop the ones before it.
  while (samples_.size() >= 2 && samples_[1].first <= now_ms - window_ms_) samples_.pop_front();
  Recent recent;
  recent.since_ms = started_ms_;
  recent.counts = totals.counts;
  // The base: the oldest kept sample, unless it is the one just taken.
  if (!samples_.empty() && samples_.front().first < now_ms) {
    const auto& base = samples_.front();
    recent.since_ms = base.first;
    for (size_t i = 0; i < recent.counts.size() && i < base.second.size(); ++i) {
      recent.counts[i] -= std::min(recent.counts[i], base.second[i]);
    }
  }
  return recent;
}

}  // namespace meridian::server
