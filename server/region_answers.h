#pragma once
// Answers per steered name and region: the slots the query loops count into
// (DnsCounters::region_answers), the /metrics text for them, and the recent
// window the capacity table reads (server/capacity.h).
//
// A slot is a (owner, type, region) triple, numbered the first time a
// snapshot compiles it and kept for the life of the process, so counts
// survive reloads and a name deleted and added again keeps counting where it
// was. Slots are never freed: a process that sees more than kAnswerSlots
// distinct triples stops counting the new ones (counted in
// meridian_steered_region_slots_exhausted_total).

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "server/counters.h"

namespace meridian::server {

struct AnswerSlotKey {
  std::string owner;  // canonical ("www.example.com.")
  uint16_t type = 1;  // A or AAAA
  std::string region;
};

/// The process-wide slot numbers. Any thread; a mutex guards the map (the
/// reload thread assigns, /metrics reads; the query loops never touch it).
class AnswerSlots {
 public:
  static AnswerSlots& global();

  /// The slot of (owner, type, region), assigned if new; kNoAnswerSlot when
  /// every slot is taken.
  uint16_t slotFor(const std::string& owner, uint16_t type, const std::string& region);
  /// Every assigned key; index = slot.
  std::vector<AnswerSlotKey> keys() const;
  uint64_t exhausted() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::tuple<std::string, uint16_t, std::string>, uint16_t> slots_;
  std::vector<AnswerSlotKey> keys_;
  uint64_t exhausted_ = 0;
};

/// Sums region_answers over loops: add() each loop's counters, then read.
struct RegionAnswerTotals {
  std::vector<uint64_t> counts = std::vector<uint64_t>(kAnswerSlots, 0);
  void add(const DnsCounters& c) {
    for (size_t i = 0; i < counts.size(); ++i) counts[i] += c.region_answers[i].get();
  }
};

/// The /metrics text: meridian_steered_region_answers_total{name,type,region}
/// for every assigned slot, and the exhausted counter.
std::string regionAnswersText(const AnswerSlots& slots, const RegionAnswerTotals& totals);

/// "Recent" for the capacity table: the counts since the newest sample at
/// least `window_ms` old (so about the last minute), or since the oldest
/// sample, or since `started_ms` when there is none yet. meridiand samples
/// every 10 s on its main loop; reading also samples. Any thread (a mutex).
class AnswerWindow {
 public:
  explicit AnswerWindow(int64_t started_ms, int64_t window_ms = 60000)
      : started_ms_(started_ms), window_ms_(window_ms) {}

  struct Recent {
    int64_t since_ms = 0;          // start of the window
    std::vector<uint64_t> counts;  // per slot, over the window
  };
  /// Records `totals` at `now_ms` (at most one sample a second is kept) and
  /// returns the counts over the window ending now.
  Recent sample(int64_t now_ms, const RegionAnswerTotals& totals);

 private:
  std::mutex mutex_;
  int64_t started_ms_;
  int64_t window_ms_;
  std::deque<std::pair<int64_t, std::vector<uint64_t>>> samples_;  // oldest first
};

}  // namespace meridian::server
