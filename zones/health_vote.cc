#include "zones/health_vote.h"

namespace meridian::zones {

bool VoteTally::add(const VoteRules& rules, const VantageVote& vote) noexcept {
  if (!rules.counts(vote.vantage_last_write_ms)) return false;
  (vote.healthy ? up : down)++;
  return true;
}

VoteTally voteEndpoint(const VoteRules& rules, std::span<const VantageVote> votes) noexcept {
  VoteTally tally;
  for (const VantageVote& vote : votes) tally.add(rules, vote);
  return tally;
}

}  // namespace meridian::zones
