#pragma once
// The authoritative answerer (not a resolver: it never asks anyone else):
// answers the question from the compiled zones, the "zone" and "encode"
// stages of the data path. Loop threads only; noexcept throughout.

#include <cstdint>

#include "server/query_handler.h"

namespace meridian::server {

/// What answering the question decided, for the header and the OPT record.
struct AnswerOutcome {
  uint16_t rcode = wire::rcode::NOERROR;
  bool authoritative = true;
  bool truncated = false;   // a required record did not fit
  uint8_t ecs_scope = 0;    // SCOPE PREFIX-LENGTH for the ECS option
  uint16_t answer_count = 0;
  uint16_t authority_count = 0;
  uint16_t additional_count = 0;
  // For response rate limiting (server/rrl.h): a referral, and the name the
  // answer is counted under when it is not the question's: the zone apex
  // for NXDOMAIN, the delegation point for a referral, the wildcard for a
  // synthesized answer (lowercase wire format, in the snapshot).
  bool referral = false;
  const uint8_t* rate_name = nullptr;
  uint8_t rate_name_length = 0;
};

/// Writes the answer, authority and additional sections for the parsed
/// question in `context.query` through `context.writer`.
AnswerOutcome answerQuestion(const Snapshot& snapshot, QueryContext& context,
                             const ClientAddress& client) noexcept;

}  // namespace meridian::server
