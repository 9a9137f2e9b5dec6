#include "server/query_handler.h"

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

// Octets the OPT record will take: 11 fixed, plus the echoed ECS option.
size_t optSize(const wire::Query& q) noexcept {
  return 11 + (q.ecs.present ? 8u + q.ecs.address_length : 0u);
}

// OPT pseudo-record (RFC 6891 6.1.2); the ECS option echoes FAMILY, SOURCE
// PREFIX-LENGTH and ADDRESS unchanged with our SCOPE (RFC 7871 7.2.1).
void writeOpt(wire::MessageWriter& w, const wire::Query& q, const AnswerSettings& settings,
              uint16_t rcode, uint8_t ecs_scope) noexcept {
  uint8_t opt[11 + 8 + 16];
  opt[0] = 0;  // root owner
  wire::writeU16(opt + 1, wire::type::OPT);
  wire::writeU16(opt + 3, settings.max_udp_payload);
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
  wire::writeU16(opt + 9, static_cast<uint16_t>(rdlength));
  w.writeBytes(opt, 11 + rdlength);  // always fits: its room was reserved up front
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
  const size_t opt_size = q.has_edns ? optSize(q) : 0;
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
    default:
      outcome.rcode = wire::rcode::FORMERR;
      break;
  }
  if (status != wire::ParseStatus::kOk) outcome.authoritative = false;

  // 4. A required record did not fit: send the question alone with TC so the
  //    client retries over TCP (RFC 2181 9, RFC 7766 5).
  uint16_t flags = wire::flag::QR | static_cast<uint16_t>(q.opcode << 11) |
                   (q.flags & (wire::flag::RD | wire::flag::CD));
  if (outcome.truncated) {
    w.rewind(question_end);
    outcome.answer_count = outcome.authority_count = outcome.additional_count = 0;
    flags |= wire::flag::TC;
    counters.truncated.add();
  }
  if (outcome.authoritative) flags |= wire::flag::AA;

  // 5. OPT last, then the header with the final counts.
  w.release(opt_size);
  uint16_t additional = outcome.additional_count;
  if (q.has_edns) {
    writeOpt(w, q, context.settings, outcome.rcode, outcome.ecs_scope);
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
