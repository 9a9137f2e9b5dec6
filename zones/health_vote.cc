#include "zones/health_vote.h"

namespace meridian::zones {

bool VoteTally::add(const VoteRules& rules, const VantageVote& vote) noexcept {
  if (!rules.counts(vote.vantage_last_write_ms)) return false;
  (vote.healthy ? up : down)++;
  return true;
}

bool VoteTally::healthy(const VotePolicy& policy) const noexcept {
  if (!reported()) return true;
  switch (policy.kind) {
    case VotePolicy::Kind::kAny:
      return down == 0;
    case VotePolicy::Kind::kAll:
      return up > 0;
    case VotePolicy::Kind::kHealthyShare:
      // up / (up + down) >= share, without dividing: 1 of 3 at 0.18 is
      // 1 >= 0.54. The epsilon keeps 1 of 2 at 0.5 healthy whatever the
      // share's last binary digit.
      return static_cast<double>(up) >= policy.healthy_share * (up + down) - 1e-9;
    case VotePolicy::Kind::kQuorum:
      break;
  }
  return down <= up;
}

VoteTally voteEndpoint(const VoteRules& rules, std::span<const VantageVote> votes) noexcept {
  VoteTally tally;
  for (const VantageVote& vote : votes) tally.add(rules, vote);
  return tally;
}

}  // namespace meridian::zones
