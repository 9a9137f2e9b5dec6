// The health vote (zones/health_vote.h) with scripted vantage sets: majority,
// ties, a vantage that stopped writing, and every vantage stale.

#include <doctest/doctest.h>

#include <vector>

#include "zones/health_vote.h"

using meridian::zones::VantageVote;
using meridian::zones::VoteRules;
using meridian::zones::VoteTally;
using meridian::zones::voteEndpoint;

namespace {

constexpr int64_t kNow = 1'000'000;
constexpr int64_t kStale = 15'000;

// A vantage that last wrote `age_ms` before kNow says `healthy`.
VantageVote said(bool healthy, int64_t age_ms) { return {healthy, kNow - age_ms}; }

VoteTally vote(const std::vector<VantageVote>& votes) {
  int64_t newest = 0;
  for (const VantageVote& v : votes) newest = std::max(newest, v.vantage_last_write_ms);
  return voteEndpoint(VoteRules{newest, kNow, kStale}, votes);
}

}  // namespace

TEST_CASE("vote: one vantage's word stands") {
  CHECK(vote({said(true, 100)}).healthy());
  CHECK_FALSE(vote({said(false, 100)}).healthy());
  CHECK(vote({said(false, 100)}).reported());
}

TEST_CASE("vote: the majority decides, a tie is healthy") {
  CHECK(vote({said(true, 0), said(true, 0), said(false, 0)}).healthy());   // one broken path
  CHECK_FALSE(vote({said(false, 0), said(false, 0), said(true, 0)}).healthy());
  CHECK(vote({said(true, 0), said(false, 0)}).healthy());  // 1:1
  const VoteTally t = vote({said(true, 0), said(false, 0), said(false, 0)});
  CHECK(t.up == 1);
  CHECK(t.down == 2);
}

TEST_CASE("vote: a vantage that stopped writing has no say while another still writes") {
  // Two stale vantages say down; the one still writing says up. Counting
  // every row would make it 1 up : 2 down, unhealthy.
  const VoteTally t = vote({said(true, 500), said(false, 20'000), said(false, 60'000)});
  CHECK(t.up == 1);
  CHECK(t.down == 0);
  CHECK(t.healthy());
  // And the other way round: a stale "up" cannot outvote a fresh "down".
  CHECK_FALSE(vote({said(false, 500), said(true, 20'000), said(true, 20'000)}).healthy());
}

TEST_CASE("vote: exactly stale_after old still counts, one millisecond more does not") {
  const VoteRules rules{kNow, kNow, kStale};  // some vantage wrote just now
  CHECK(rules.counts(kNow - kStale));
  CHECK_FALSE(rules.counts(kNow - kStale - 1));
}

TEST_CASE("vote: when every vantage is stale, the last known states stand") {
  const VoteTally t = vote({said(false, 20'000), said(false, 30'000), said(true, 40'000)});
  CHECK(t.up == 1);
  CHECK(t.down == 2);
  CHECK_FALSE(t.healthy());
}

TEST_CASE("vote: the newest write over all vantages decides freshness, not this endpoint's rows") {
  // This endpoint only has a row from a stale vantage, but another vantage
  // (with no row for it) is writing: the stale row does not count.
  const VoteRules rules{kNow - 100, kNow, kStale};
  const std::vector<VantageVote> votes = {said(false, 20'000)};
  const VoteTally t = voteEndpoint(rules, votes);
  CHECK_FALSE(t.reported());
  CHECK(t.healthy());  // nothing reported: the caller decides, the verdict is not "down"
}

TEST_CASE("vote: no rows at all") {
  const VoteTally t = vote({});
  CHECK_FALSE(t.reported());
  CHECK(t.healthy());
}

// --- Vote policies (per endpoint) --------------------------------------------

namespace {

using meridian::zones::VotePolicy;

VotePolicy policy(VotePolicy::Kind kind, double share = 0) {
  VotePolicy p;
  p.kind = kind;
  p.healthy_share = share;
  return p;
}

// `up` vantages say healthy, `down` say down, all writing now.
VoteTally split(int up, int down) {
  std::vector<VantageVote> votes;
  for (int i = 0; i < up; ++i) votes.push_back(said(true, 0));
  for (int i = 0; i < down; ++i) votes.push_back(said(false, 0));
  return vote(votes);
}

}  // namespace

TEST_CASE(
    "vote policy quorum (the default): down when more than half of the live vantages say so") {
  const VotePolicy quorum = policy(VotePolicy::Kind::kQuorum);
  CHECK(quorum.isDefault());
  CHECK(split(2, 1).healthy(quorum));        // one vantage of three fails: stays up
  CHECK_FALSE(split(1, 2).healthy(quorum));  // two of three: down
  CHECK(split(1, 1).healthy(quorum));        // a tie is healthy
  CHECK(split(2, 1).healthy() == split(2, 1).healthy(quorum));
}

TEST_CASE("vote policy any: one live vantage saying down is enough") {
  const VotePolicy any = policy(VotePolicy::Kind::kAny);
  CHECK(split(3, 0).healthy(any));
  CHECK_FALSE(split(2, 1).healthy(any));
  CHECK_FALSE(split(0, 1).healthy(any));
  // A stale vantage's "down" does not count while another writes.
  CHECK(vote({said(true, 0), said(false, 60'000)}).healthy(any));
}

TEST_CASE("vote policy all: down only when every live vantage says down") {
  const VotePolicy all = policy(VotePolicy::Kind::kAll);
  CHECK(split(1, 2).healthy(all));
  CHECK(split(1, 9).healthy(all));
  CHECK_FALSE(split(0, 3).healthy(all));
  CHECK_FALSE(split(0, 1).healthy(all));
}

TEST_CASE(
    "vote policy healthy_share: healthy while at least that share says healthy (Route 53's 18%)") {
  const VotePolicy r53 = policy(VotePolicy::Kind::kHealthyShare, 0.18);
  CHECK(split(1, 2).healthy(r53));        // 1/3 = 0.33
  CHECK_FALSE(split(1, 9).healthy(r53));  // 1/10 = 0.10
  CHECK(split(2, 8).healthy(r53));        // 2/10 = 0.20
  CHECK_FALSE(split(0, 3).healthy(r53));
  const VotePolicy half = policy(VotePolicy::Kind::kHealthyShare, 0.5);
  CHECK(split(1, 1).healthy(half));  // exactly the share
  CHECK_FALSE(split(1, 2).healthy(half));
  const VotePolicy every = policy(VotePolicy::Kind::kHealthyShare, 1.0);
  CHECK(split(3, 0).healthy(every));
  CHECK_FALSE(split(3, 1).healthy(every));
}

TEST_CASE("vote policies: nothing reported is healthy under every policy") {
  for (const auto kind : {VotePolicy::Kind::kQuorum, VotePolicy::Kind::kAny, VotePolicy::Kind::kAll,
                          VotePolicy::Kind::kHealthyShare}) {
    CHECK(split(0, 0).healthy(policy(kind, 0.5)));
  }
}
