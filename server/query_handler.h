#pragma once
// The data path: one query in, one response out, from an immutable Snapshot.
//
// parse -> zone -> client/geo -> steer -> encode, all on the calling loop
// thread, with no allocation, no lock and no exception. Tests drive
// handleQuery() with raw bytes and no sockets.

#include <cstddef>
#include <cstdint>

#include "server/cookies.h"
#include "server/counters.h"
#include "server/identity.h"
#include "server/query_clock.h"
#include "server/rrl.h"
#include "server/steering/steer.h"
#include "server/snapshot.h"
#include "wire/query.h"
#include "wire/writer.h"

namespace meridian::server {

enum class Transport : uint8_t { kUdp, kTcp };

/// Where a query came from (the socket peer), in network byte order.
struct ClientAddress {
  uint8_t family = 4;  // 4 or 6
  uint8_t bytes[16] = {};
};

/// Settings a loop answers with; copied into each QueryContext at start.
struct AnswerSettings {
  uint16_t max_udp_payload = wire::kDefaultEdnsPayload;  // our EDNS buffer size
  /// Response rate limiting, shared by every query thread; null = off. It
  /// outlives the threads (DnsService owns it).
  RateLimiter* rrl = nullptr;
  /// DNS cookies: each query thread keys its own CookieEngine with these;
  /// every thread must get the same (copies of one AnswerSettings), so that
  /// a cookie minted on one verifies on all. Random unless set.
  bool cookies = true;
  CookieSecrets cookie_secrets = randomCookieSecrets();
  /// Which node answered: NSID and CH TXT id.server / hostname.bind
  /// (server/identity.h); off unless enabled.
  NodeIdentity identity;
};

/// Per-loop scratch space, allocated once and reused for every query.
struct QueryContext {
  AnswerSettings settings;
  DnsCounters* counters = nullptr;  // the loop's own counters; never null in use
  wire::Query query;
  wire::MessageWriter writer;
  // CNAME hops followed within a zone before answering with what we have.
  static constexpr int kMaxChain = 8;
  // Steering state: the loop's random numbers (weighted picks) and the
  // result of the last decision, kept here so the loop's stack stays small.
  steering::Random random;
  steering::SteeringResult steering;
  steering::ClientView client;
  // Abuse defences (null = off; QueryThreadState sets them, explain does
  // not): the shared rate limiter, this thread's cookie engine, and the
  // clock both read, which must be set when either is.
  RateLimiter* rrl = nullptr;
  unsigned rrl_slip_count = 0;  // limited answers since the last slipped one
  CookieEngine* cookies = nullptr;
  const QueryClock* clock = nullptr;
};

/// Answers one query. Writes the response into `response` (at most
/// `capacity` bytes; 65535 is enough for anything) and returns its length, or
/// 0 when the packet must be dropped (shorter than a header, a response, or
/// a UDP answer over the rate limit that does not slip).
size_t handleQuery(const Snapshot& snapshot, QueryContext& context, const uint8_t* packet,
                   size_t length, const ClientAddress& client, Transport transport,
                   uint8_t* response, size_t capacity) noexcept;

}  // namespace meridian::server
