#pragma once
// The health vote: whether an endpoint is healthy, from the rows of the
// vantages (meridian-healthd instances) that probe it. Written once, here;
// meridiand's snapshot builder (server/steering/compile.cc) and the API's
// /api/v1/health summary (server/api/routes_ops.cc) both call it.
//
// The rule:
//  - A vantage's row counts while the vantage is still writing: it last
//    wrote at most `stale_after_ms` ago. A vantage that stopped (crashed,
//    partitioned) must not keep voting with what it saw back then.
//  - When no vantage is still writing, every vantage's row counts: the last
//    known states stand (meridiand's stale period; it fails open later).
//  - Healthy unless most counted rows say down (down <= up): one vantage's
//    broken path must not take an endpoint out for everyone. With one
//    vantage its word stands; with three, one saying down leaves it up; a
//    tie is healthy.
//  - No counted row: not reported (the caller decides what that means).
//
// Pure functions of their arguments (callers pass the clock); any thread.

#include <cstdint>
#include <span>

namespace meridian::zones {

/// meridiand's default for --health-stale-after, in ms.
inline constexpr int64_t kDefaultStaleAfterMs = 15000;

/// What decides which rows take part, for one point in time.
struct VoteRules {
  int64_t newest_write_ms = 0;  // newest last_write over every vantage
  int64_t now_ms = 0;
  int64_t stale_after_ms = kDefaultStaleAfterMs;

  /// Some vantage is still writing.
  bool anyFresh() const noexcept { return now_ms - newest_write_ms <= stale_after_ms; }
  /// Whether a row of a vantage that last wrote at `vantage_last_write_ms`
  /// takes part in the vote.
  bool counts(int64_t vantage_last_write_ms) const noexcept {
    return now_ms - vantage_last_write_ms <= stale_after_ms || !anyFresh();
  }
};

/// One vantage's row for one endpoint.
struct VantageVote {
  bool healthy = false;
  int64_t vantage_last_write_ms = 0;
};

/// The counted rows of one endpoint.
struct VoteTally {
  int up = 0, down = 0;

  /// Adds one row if the rules count it; returns whether it counted.
  bool add(const VoteRules& rules, const VantageVote& vote) noexcept;
  bool reported() const noexcept { return up + down > 0; }
  /// The verdict (true while nothing is reported).
  bool healthy() const noexcept { return down <= up; }
};

/// The vote over all of one endpoint's rows.
VoteTally voteEndpoint(const VoteRules& rules, std::span<const VantageVote> votes) noexcept;

}  // namespace meridian::zones
