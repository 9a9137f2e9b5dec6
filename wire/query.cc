#include "wire/query.h"

#include <cstring>

#include "wire/name.h"

namespace meridian::wire {

namespace {

// A compression pointer is followed at most this many times per name; any
// legitimate name needs far fewer (one per label at worst).
constexpr int kMaxPointerHops = 128;

// Validates the ECS option payload (RFC 7871 section 6 and 7.1.2).
bool parseClientSubnet(const uint8_t* data, size_t length, ClientSubnet& ecs) noexcept {
  if (ecs.present) return false;  // a second ECS option is malformed
  if (length < 4) return false;
  const uint16_t family = readU16(data);
  const uint8_t source = data[2];
  const uint8_t scope = data[3];
  size_t max_bits;
  if (family == edns::kFamilyIPv4) {
    max_bits = 32;
  } else if (family == edns::kFamilyIPv6) {
    max_bits = 128;
  } else {
    return false;  // unknown family: FORMERR (MUST)
  }
  if (source > max_bits) return false;  // e.g. /33 for IPv4 (MUST)
  const size_t address_length = length - 4;
  // Exactly as many octets as the prefix needs: missing ones are a MUST,
  // extra ones a SHOULD; we hold both to the stricter reading.
  if (address_length != (source + 7u) / 8u) return false;
  const uint8_t* address = data + 4;
  if (source % 8 != 0) {
    // Bits after the source prefix inside the last octet must be zero, e.g.
    // a /20 sends 3 octets and the low 4 bits of the third must be clear.
    const uint8_t host_mask = static_cast<uint8_t>(0xff >> (source % 8));
    if (address[address_length - 1] & host_mask) return false;
  }
  ecs.present = true;
  ecs.family = family;
  ecs.source_prefix = source;
  ecs.scope_prefix = scope;
  ecs.address_length = static_cast<uint8_t>(address_length);
  std::memset(ecs.address, 0, sizeof ecs.address);
  std::memcpy(ecs.address, address, address_length);
  return true;
}

// Validates the COOKIE option (RFC 7873 5.2.2): 8 octets (client cookie
// only) or 16 to 40 (client plus server cookie); any other length, and a
// second COOKIE option, is FORMERR. E.g. 12 octets is a client cookie with a
// 4-octet server cookie, shorter than the 8 the RFC allows: FORMERR.
bool parseCookie(const uint8_t* data, size_t length, Cookie& cookie) noexcept {
  if (cookie.present || length < edns::kClientCookieLength) return false;
  const size_t server_length = length - edns::kClientCookieLength;
  if (server_length != 0 && (server_length < edns::kMinServerCookieLength ||
                             server_length > edns::kMaxServerCookieLength)) {
    return false;
  }
  cookie.present = true;
  std::memcpy(cookie.client, data, edns::kClientCookieLength);
  cookie.server_length = static_cast<uint8_t>(server_length);
  std::memcpy(cookie.server, data + edns::kClientCookieLength, server_length);
  return true;
}

// Parses the OPT pseudo-record's fixed fields and options.
bool parseOpt(const uint8_t* rr, const uint8_t* rdata, size_t rdlength, Query& q) noexcept {
  q.has_edns = true;
  const uint16_t payload = readU16(rr + 2);
  q.udp_payload = payload < kClassicUdpPayload ? kClassicUdpPayload : payload;
  q.edns_version = rr[5];
  q.dnssec_ok = (rr[6] & 0x80) != 0;
  size_t pos = 0;
  while (pos < rdlength) {
    if (rdlength - pos < 4) return false;
    const uint16_t code = readU16(rdata + pos);
    const uint16_t option_length = readU16(rdata + pos + 2);
    pos += 4;
    if (option_length > rdlength - pos) return false;
    if (code == edns::kOptionEcs && !parseClientSubnet(rdata + pos, option_length, q.ecs)) {
      return false;
    }
    if (code == edns::kOptionCookie && !parseCookie(rdata + pos, option_length, q.cookie)) {
      return false;
    }
    // RFC 5001 2.3: a query's NSID payload (normally empty) is ignored.
    if (code == edns::kOptionNsid) q.nsid = true;
    // Unknown options are ignored (RFC 6891 section 6.1.2).
    pos += option_length;
  }
  return true;
}

// The question (name, type, class) at kHeaderSize: fills q.qname (lowercased),
// its labels, qtype, qclass and question_end, and returns the offset after
// it, or 0 when it is malformed. No compression is possible this early in a
// message.
size_t parseQuestion(const uint8_t* packet, size_t length, Query& q) noexcept {
  size_t pos = kHeaderSize;
  size_t written = 0;
  uint8_t labels = 0;
  while (true) {
    if (pos >= length) return 0;
    const uint8_t label = packet[pos];
    if (label & 0xc0) return 0;
    if (written + 1 + label > kMaxNameLength || pos + 1 + label > length) return 0;
    if (label == 0) {
      q.qname[written++] = 0;
      ++pos;
      break;
    }
    q.label_offsets[labels++] = static_cast<uint8_t>(written);
    q.qname[written++] = label;
    for (size_t i = 0; i < label; ++i) q.qname[written++] = asciiLower(packet[pos + 1 + i]);
    pos += 1 + label;
  }
  q.qname_length = static_cast<uint8_t>(written);
  q.label_count = labels;
  if (length - pos < 4) return 0;
  q.qtype = readU16(packet + pos);
  q.qclass = readU16(packet + pos + 2);
  pos += 4;
  q.question_end = static_cast<uint16_t>(pos);
  return pos;
}

}  // namespace

size_t readName(const uint8_t* packet, size_t length, size_t offset, uint8_t* out,
                uint8_t* out_length) noexcept {
  size_t written = 0;
  size_t end = 0;  // offset after the name where it first appeared
  int hops = 0;
  size_t pos = offset;
  while (true) {
    if (pos >= length) return 0;
    const uint8_t label = packet[pos];
    if ((label & 0xc0) == 0xc0) {
      if (pos + 1 >= length) return 0;
      const size_t target = ((label & 0x3fu) << 8) | packet[pos + 1];
      // Pointers must go strictly backwards, which alone rules out loops; the
      // hop limit is a second guard.
      if (target >= pos || ++hops > kMaxPointerHops) return 0;
      if (end == 0) end = pos + 2;
      pos = target;
      continue;
    }
    if ((label & 0xc0) != 0) return 0;  // 0x40 / 0x80 label types are obsolete
    if (written + 1 + label > kMaxNameLength) return 0;
    if (pos + 1 + label > length) return 0;
    out[written++] = label;
    if (label == 0) {
      if (end == 0) end = pos + 1;
      *out_length = static_cast<uint8_t>(written);
      return end;
    }
    for (size_t i = 0; i < label; ++i) out[written++] = asciiLower(packet[pos + 1 + i]);
    pos += 1 + label;
  }
}

ParseStatus parseQuery(const uint8_t* packet, size_t length, Query& q) noexcept {
  q.has_edns = false;
  q.ecs.present = false;
  q.cookie.present = false;
  q.nsid = false;
  q.has_tsig = false;
  q.question_end = 0;
  q.edns_version = 0;
  q.dnssec_ok = false;
  q.udp_payload = 0;
  if (length < kHeaderSize) return ParseStatus::kDrop;
  q.id = readU16(packet);
  q.flags = readU16(packet + 2);
  if (q.flags & flag::QR) return ParseStatus::kDrop;  // a response: never answer it
  q.opcode = static_cast<uint8_t>((q.flags >> 11) & 0xf);
  const uint16_t qdcount = readU16(packet + 4);
  const uint16_t ancount = readU16(packet + 6);
  const uint16_t nscount = readU16(packet + 8);
  const uint16_t arcount = readU16(packet + 10);
  if (q.opcode != opcode::QUERY) return ParseStatus::kNotImp;
  // QDCOUNT 0 is only a query for a server cookie (RFC 7873 5.4), below.
  if (qdcount > 1 || ancount != 0 || nscount != 0) return ParseStatus::kFormErr;
  size_t pos = kHeaderSize;
  if (qdcount == 1) {
    pos = parseQuestion(packet, length, q);
    if (pos == 0) return ParseStatus::kFormErr;
  }

  // The additional section: at most one OPT (owner root), TSIG only last.
  bool format_error = false;
  uint8_t scratch[kMaxNameLength];
  uint8_t scratch_length = 0;
  for (uint16_t i = 0; i < arcount; ++i) {
    const size_t owner_at = pos;
    pos = readName(packet, length, pos, scratch, &scratch_length);
    if (pos == 0 || length - pos < 10) return ParseStatus::kFormErr;
    const uint8_t* rr = packet + pos;  // type, class, ttl, rdlength
    const uint16_t rrtype = readU16(rr);
    const uint16_t rdlength = readU16(rr + 8);
    pos += 10;
    if (rdlength > length - pos) return ParseStatus::kFormErr;
    if (q.has_tsig) format_error = true;  // TSIG must be the last record
    if (rrtype == type::OPT) {
      if (q.has_edns || scratch_length != 1 || packet[owner_at] != 0) {
        format_error = true;  // two OPTs, or an OPT not owned by the root
      } else if (!parseOpt(rr, packet + pos, rdlength, q)) {
        format_error = true;
      }
    } else if (rrtype == type::TSIG) {
      q.has_tsig = true;
    }
    pos += rdlength;
  }
  if (pos != length) format_error = true;  // trailing junk
  if (format_error) return ParseStatus::kFormErr;
  if (q.has_edns && q.edns_version > 0) return ParseStatus::kBadVers;
  if (qdcount == 0) return q.cookie.present ? ParseStatus::kCookieOnly : ParseStatus::kFormErr;
  if (q.qtype == type::OPT) return ParseStatus::kFormErr;  // OPT is a pseudo-type
  return ParseStatus::kOk;
}

}  // namespace meridian::wire
