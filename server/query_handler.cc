#include "server/query_handler.h"

#include <cstring>

#include "server/answer.h"

namespace meridian::server {

namespace {

// Largest response this query may receive (RFC 1035 4.2.1, RFC 6891 6.2.5).
size_t responseLimit(const wire::Query& q, Transport transport, const AnswerSettings& settings,
                     size_t capacity) noexcept {
  size_t limit = wire::kMaxTcpMessage;
  if (transport == Transport::kUdp) {
    limit = wire::kClassicUdpPayload;
    if (q.has_edns) limit = q.udp_payload < settings.max_udp_payload ? q.udp_payload
                                                                    : settings.max_udp_payload;
  }
  return limit < capacity ? limit : capacity;
}

// What the query's COOKIE option turned out to be (RFC 7873 5.2).
enum class CookieState : uint8_t { kNone, kClientOnly, kValid, kStale, kBad };

// Octets of the COOKIE option we send: the client's 8 and our 16.
constexpr size_t kCookieOptionSize = 4 + wire::edns::kClientCookieLength + kServerCookieLength;

// Octets the OPT record will take: 11 fixed, plus the echoed ECS option, our
// COOKIE option and our NSID option.
size_t optSize(const wire::Query& q, bool cookie, const NodeIdentity* nsid) noexcept {
  return 11 + (q.ecs.present ? 8u + q.ecs.address_length : 0u) +
         (cookie ? kCookieOptionSize : 0u) + (nsid ? nsidOptionSize(*nsid) : 0u);
}

// OPT pseudo-record (RFC 6891 6.1.2); the ECS option echoes FAMILY, SOURCE
// PREFIX-LENGTH and ADDRESS unchanged with our SCOPE (RFC 7871 7.2.1); the
// COOKIE option is the client's cookie and a server cookie minted now
// (RFC 7873 5.2, RFC 9018); the NSID option names this node (RFC 5001),
// when asked for and identity is on.
void writeOpt(wire::MessageWriter& w, const wire::Query& q, QueryContext& context,
              const ClientAddress& client, bool cookie, const NodeIdentity* nsid, uint16_t rcode,
              uint8_t ecs_scope) noexcept {
  uint8_t opt[11 + 8 + 16 + kCookieOptionSize + 4 + NodeIdentity::kMaxName];
  opt[0] = 0;  // root owner
  wire::writeU16(opt + 1, wire::type::OPT);
  wire::writeU16(opt + 3, context.settings.max_udp_payload);
  opt[5] = static_cast<uint8_t>(rcode >> 4);  // upper 8 bits of the extended RCODE
  opt[6] = 0;                                 // version 0
  opt[7] = q.dnssec_ok ? 0x80 : 0;            // DO is echoed (RFC 3225)
  opt[8] = 0;
  size_t rdlength = 0;
  if (q.ecs.present) {
    uint8_t* o = opt + 11;
    wire::writeU16(o, wire::edns::kOptionEcs);
    wire::writeU16(o + 2, static_cast<uint16_t>(4 + q.ecs.address_length));
    wire::writeU16(o + 4, q.ecs.family);
    o[6] = q.ecs.source_prefix;
    o[7] = ecs_scope;
    for (size_t i = 0; i < q.ecs.address_length; ++i) o[8 + i] = q.ecs.address[i];
    rdlength = 8 + q.ecs.address_length;
  }
  if (cookie) {
    uint8_t* o = opt + 11 + rdlength;
    wire::writeU16(o, wire::edns::kOptionCookie);
    wire::writeU16(o + 2, static_cast<uint16_t>(kCookieOptionSize - 4));
    std::memcpy(o + 4, q.cookie.client, wire::edns::kClientCookieLength);
    context.cookies->mint(q.cookie.client, client.bytes, client.family == 4 ? 4 : 16,
                          context.clock->unixSeconds(), o + 4 + wire::edns::kClientCookieLength);
    rdlength += kCookieOptionSize;
  }
  if (nsid) rdlength += writeNsidOption(*nsid, opt + 11 + rdlength);
  wire::writeU16(opt + 9, static_cast<uint16_t>(rdlength));
  w.writeBytes(opt, 11 + rdlength);  // always fits: its room was reserved up front
}

CookieState checkCookie(const wire::Query& q, QueryContext& context,
                        const ClientAddress& client) noexcept {
  if (!q.cookie.present || context.cookies == nullptr) return CookieState::kNone;
  DnsCounters& counters = *context.counters;
  if (q.cookie.server_length == 0) {
    counters.cookies_client_only.add();
    return CookieState::kClientOnly;
  }
  switch (context.cookies->verify(q.cookie.client, q.cookie.server, q.cookie.server_length,
                                  client.bytes, client.family == 4 ? 4 : 16,
                                  context.clock->unixSeconds())) {
    case CookieVerdict::kValid:
      counters.cookies_valid.add();
      return CookieState::kValid;
    case CookieVerdict::kStale:
      counters.cookies_stale.add();
      return CookieState::kStale;
    case CookieVerdict::kBad:
      break;
  }
  counters.cookies_bad.add();
  return CookieState::kBad;
}

// The RRL class of a response and the name it is counted under.
RrlClass rrlClass(wire::ParseStatus status, const AnswerOutcome& outcome) noexcept {
  if (status != wire::ParseStatus::kOk) return RrlClass::kError;
  if (outcome.referral) return RrlClass::kReferral;
  if (outcome.rcode == wire::rcode::NOERROR) return RrlClass::kPositive;
  if (outcome.rcode == wire::rcode::NXDOMAIN) return RrlClass::kNxDomain;
  return RrlClass::kError;
}

struct RrlCounters {
  Counter& limited;
  Counter& slipped;
  Counter& dropped;
};

RrlCounters rrlCounters(DnsCounters& c, RrlClass rrl_class) noexcept {
  switch (rrl_class) {
    case RrlClass::kPositive:
      return {c.rrl_limited_positive, c.rrl_slipped_positive, c.rrl_dropped_positive};
    case RrlClass::kNxDomain:
      return {c.rrl_limited_nxdomain, c.rrl_slipped_nxdomain, c.rrl_dropped_nxdomain};
    case RrlClass::kReferral:
      return {c.rrl_limited_referral, c.rrl_slipped_referral, c.rrl_dropped_referral};
    case RrlClass::kError:
      break;
  }
  return {c.rrl_limited_error, c.rrl_slipped_error, c.rrl_dropped_error};
}

enum class RrlVerdict : uint8_t { kAnswer, kSlip, kDrop };

// Charges the response to its bucket. Over the rate, every slip-th limited
// response slips (goes out without records) and the others are dropped;
// the counter is per thread, which over several threads still slips one in
// `slip` overall.
RrlVerdict rateLimit(QueryContext& context, const ClientAddress& client, wire::ParseStatus status,
                     const AnswerOutcome& outcome) noexcept {
  RateLimiter& rrl = *context.rrl;
  const wire::Query& q = context.query;
  const RrlClass rrl_class = rrlClass(status, outcome);
  const uint8_t* name = nullptr;
  size_t name_length = 0;
  uint16_t qtype = 0;
  if (rrl_class == RrlClass::kPositive) {
    name = outcome.rate_name ? outcome.rate_name : q.qname;
    name_length = outcome.rate_name ? outcome.rate_name_length : q.qname_length;
    qtype = q.qtype;
  } else if (rrl_class != RrlClass::kError) {
    name = outcome.rate_name;
    name_length = outcome.rate_name_length;
  }
  const uint64_t key = rrl.key(client.family, client.bytes, rrl_class, name, name_length, qtype);
  if (rrl.charge(key, context.clock->monotonicMicros())) return RrlVerdict::kAnswer;
  const RrlCounters counters = rrlCounters(*context.counters, rrl_class);
  counters.limited.add();
  const unsigned slip = rrl.settings().slip;
  if (slip != 0 && ++context.rrl_slip_count >= slip) {
    context.rrl_slip_count = 0;
    counters.slipped.add();
    return RrlVerdict::kSlip;
  }
  counters.dropped.add();
  return RrlVerdict::kDrop;
}

}  // namespace

size_t handleQuery(const Snapshot& snapshot, QueryContext& context, const uint8_t* packet,
                   size_t length, const ClientAddress& client, Transport transport,
                   uint8_t* response, size_t capacity) noexcept {
  DnsCounters& counters = *context.counters;
  wire::Query& q = context.query;
  wire::MessageWriter& w = context.writer;
  (transport == Transport::kUdp ? counters.queries_udp : counters.queries_tcp).add();

  // 1. Parse: strict, every byte hostile.
  const wire::ParseStatus status = wire::parseQuery(packet, length, q);
  if (status == wire::ParseStatus::kDrop) {
    counters.dropped.add();
    return 0;
  }

  // 2. Frame the response: header, the question as the client sent it (case
  //    preserved), and room kept back for the OPT record.
  w.reset(response, responseLimit(q, transport, context.settings, capacity));
  uint8_t header[wire::kHeaderSize] = {};
  w.writeBytes(header, sizeof header);
  const bool echo_question = status != wire::ParseStatus::kNotImp && q.question_end != 0;
  if (echo_question) {
    w.writeBytes(packet + wire::kHeaderSize, q.question_end - wire::kHeaderSize);
    w.rememberName(q.qname, q.qname_length, wire::kHeaderSize);
  }
  const size_t question_end = w.size();
  // Every EDNS answer to a query with a client cookie carries a fresh
  // server cookie, whatever became of the one the client sent (RFC 7873 5.2).
  const CookieState cookie = checkCookie(q, context, client);
  const bool send_cookie = q.has_edns && cookie != CookieState::kNone;
  const NodeIdentity* nsid =
      q.has_edns && q.nsid && context.settings.identity.enabled ? &context.settings.identity
                                                                : nullptr;
  const size_t opt_size = q.has_edns ? optSize(q, send_cookie, nsid) : 0;
  w.reserve(opt_size);

  // 3. Answer: zone -> client/geo -> steer -> encode (server/answer.cc).
  AnswerOutcome outcome;
  switch (status) {
    case wire::ParseStatus::kOk:
      if (q.ecs.present) counters.ecs_queries.add();
      outcome = answerQuestion(snapshot, context, client);
      break;
    case wire::ParseStatus::kNotImp:
      outcome.rcode = wire::rcode::NOTIMP;
      break;
    case wire::ParseStatus::kBadVers:
      outcome.rcode = wire::rcode::BADVERS;
      break;
    case wire::ParseStatus::kCookieOnly:
      // RFC 7873 5.4: no question, our cookie in the answer; without
      // cookies such a query is malformed, as it was before them.
      outcome.rcode = send_cookie ? wire::rcode::NOERROR : wire::rcode::FORMERR;
      break;
    default:
      outcome.rcode = wire::rcode::FORMERR;
      break;
  }
  if (status != wire::ParseStatus::kOk) outcome.authoritative = false;

  uint16_t flags = wire::flag::QR | static_cast<uint16_t>(q.opcode << 11) |
                   (q.flags & (wire::flag::RD | wire::flag::CD));
  bool truncate = outcome.truncated;

  // 4. Response rate limiting (server/rrl.h) for UDP, unless the client
  //    proved its address with a valid server cookie. Over the rate the
  //    answer is dropped, or slips out without records: TC so the client
  //    retries over TCP, or BADCOOKIE with a new cookie when it sent a
  //    client cookie, so it retries with that (RFC 7873 5.2.3, as BIND).
  if (context.rrl != nullptr && transport == Transport::kUdp && cookie != CookieState::kValid) {
    switch (rateLimit(context, client, status, outcome)) {
      case RrlVerdict::kAnswer:
        break;
      case RrlVerdict::kDrop:
        return 0;
      case RrlVerdict::kSlip:
        outcome.authoritative = false;
        if (send_cookie) {
          w.rewind(question_end);
          outcome.answer_count = outcome.authority_count = outcome.additional_count = 0;
          outcome.rcode = wire::rcode::BADCOOKIE;
          truncate = false;  // nothing was left out: the answer is the error
        } else {
          outcome.rcode = wire::rcode::NOERROR;
          truncate = true;
        }
        break;
    }
  }
  // 5. A required record did not fit, or the answer slipped: send the
  //    question alone with TC so the client retries over TCP (RFC 2181 9,
  //    RFC 7766 5).
  if (truncate) {
    w.rewind(question_end);
    outcome.answer_count = outcome.authority_count = outcome.additional_count = 0;
    flags |= wire::flag::TC;
    counters.truncated.add();
  }
  if (outcome.authoritative) flags |= wire::flag::AA;

  // 6. OPT last, then the header with the final counts.
  w.release(opt_size);
  uint16_t additional = outcome.additional_count;
  if (q.has_edns) {
    writeOpt(w, q, context, client, send_cookie, nsid, outcome.rcode, outcome.ecs_scope);
    ++additional;
  }
  uint8_t* h = w.data();
  wire::writeU16(h, q.id);
  wire::writeU16(h + 2, static_cast<uint16_t>(flags | (outcome.rcode & 0xf)));
  wire::writeU16(h + 4, echo_question ? 1 : 0);
  wire::writeU16(h + 6, outcome.answer_count);
  wire::writeU16(h + 8, outcome.authority_count);
  wire::writeU16(h + 10, additional);
  counters.rcode[outcome.rcode < wire::rcode::kCount ? outcome.rcode : 0].add();
  return w.size();
}

}  // namespace meridian::server
