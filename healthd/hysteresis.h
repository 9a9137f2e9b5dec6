#pragma once
// Rise/fall hysteresis for one check: a pure state machine with no I/O and no
// clock, so tests drive it with scripted sequences such as fail,fail,ok,...
//
// Not thread-safe; meridian-healthd uses each instance on its loop thread.

#include <cstdint>

namespace meridian::healthd {

enum class CheckState : uint8_t { kUnknown, kUp, kDown };

const char* checkStateName(CheckState state) noexcept;

class Hysteresis {
 public:
  /// `rise` consecutive successes turn a down check up; `fall` consecutive
  /// failures turn an up check down. Both are at least 1.
  Hysteresis(int rise, int fall) noexcept;

  /// Starts from a known state (e.g. the row a previous healthd left behind).
  void seed(CheckState state) noexcept;

  /// Applies one probe result. Returns true when the state changed.
  /// The first result after construction decides the state at once (an
  /// endpoint is not held back `rise` intervals when healthd starts).
  bool record(bool ok) noexcept;

  /// New thresholds keep the current state and clear the streak counters.
  void setThresholds(int rise, int fall) noexcept;

  CheckState state() const noexcept { return state_; }
  /// Length of the current streak of results that disagree with the state.
  int pending() const noexcept { return streak_; }

 private:
  int rise_;
  int fall_;
  CheckState state_ = CheckState::kUnknown;
  int streak_ = 0;
};

}  // namespace meridian::healthd
