#include "healthd/hysteresis.h"

#include <algorithm>

namespace meridian::healthd {

const char* checkStateName(CheckState state) noexcept {
  switch (state) {
    case CheckState::kUp:
      return "up";
    case CheckState::kDown:
      return "down";
    default:
      return "unknown";
  }
}

Hysteresis::Hysteresis(int rise, int fall) noexcept
    : rise_(std::max(rise, 1)), fall_(std::max(fall, 1)) {}

void Hysteresis::seed(CheckState state) noexcept {
  state_ = state;
  streak_ = 0;
}

void Hysteresis::setThresholds(int rise, int fall) noexcept {
  rise_ = std::max(rise, 1);
  fall_ = std::max(fall, 1);
  streak_ = 0;
}

bool Hysteresis::record(bool ok) noexcept {
  if (state_ == CheckState::kUnknown) {
    state_ = ok ? CheckState::kUp : CheckState::kDown;
    streak_ = 0;
    return true;
  }
  // A result that agrees with the state resets the streak: with fall = 3 the
  // sequence fail,fail,ok,fail,fail keeps an up check up, because no three
  // failures were consecutive.
  const bool agrees = ok == (state_ == CheckState::kUp);
  if (agrees) {
    streak_ = 0;
    return false;
  }
  ++streak_;
  const int needed = ok ? rise_ : fall_;
  if (streak_ < needed) return false;
  state_ = ok ? CheckState::kUp : CheckState::kDown;
  streak_ = 0;
  return true;
}

}  // namespace meridian::healthd
