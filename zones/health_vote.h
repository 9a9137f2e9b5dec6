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
//  - The endpoint's vote policy (VotePolicy, set per endpoint through the
//    API) turns the counted rows into a verdict:
//      quorum (default): healthy unless most counted rows say down
//        (down <= up): one vantage's broken path must not take an endpoint
//        out for everyone. With one vantage its word stands; with three, one
//        saying down leaves it up; a tie is healthy.
//      any: down as soon as one counted row says down.
//      all: down only when every counted row says down.
//      healthy_share S (0 < S <= 1): healthy while at least S of the counted
//        rows say healthy, as Route 53 counts its checkers (S = 0.18: with 3
//        vantages 1 healthy is enough, 1/3 = 0.33 >= 0.18; with 10, 2 are
//        needed, 1/10 = 0.1 < 0.18 but 2/10 = 0.2 >= 0.18).
//  - No counted row: not reported (the caller decides what that means).
//
// Pure functions of their arguments (callers pass the clock); any thread.

#include <cstdint>
#include <span>

namespace meridian::zones {

/// meridiand's default for --health-stale-after, in ms.
inline constexpr int64_t kDefaultStaleAfterMs = 15000;

/// How an endpoint's counted rows become a verdict (see the rule above).
struct VotePolicy {
  enum class Kind : uint8_t { kQuorum, kAny, kAll, kHealthyShare };
  Kind kind = Kind::kQuorum;
  double healthy_share = 0;  // kHealthyShare only: (0, 1]

  bool operator==(const VotePolicy&) const = default;
  bool isDefault() const noexcept { return kind == Kind::kQuorum; }
};

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
  /// The verdict under `policy` (true while nothing is reported).
  bool healthy(const VotePolicy& policy = {}) const noexcept;
};

/// The vote over all of one endpoint's rows.
VoteTally voteEndpoint(const VoteRules& rules, std::span<const VantageVote> votes) noexcept;

}  // namespace meridian::zones
