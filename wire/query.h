#pragma once
// Strict, allocation-free parsing of an incoming DNS query.
//
// Every byte is hostile: lengths are checked before each read, compression
// pointers may only point backwards and are followed a bounded number of times,
// and anything after the last record is an error. Called on the loop threads.

#include <cstddef>
#include <cstdint>

#include "wire/constants.h"

namespace meridian::wire {

/// EDNS Client Subnet option as it arrived (RFC 7871 section 6).
struct ClientSubnet {
  bool present = false;
  uint16_t family = 0;         // 1 = IPv4, 2 = IPv6
  uint8_t source_prefix = 0;   // SOURCE PREFIX-LENGTH
  uint8_t scope_prefix = 0;    // SCOPE PREFIX-LENGTH in the query (ignored)
  uint8_t address_length = 0;  // octets present in the option
  uint8_t address[16] = {};    // zero-padded to the full family width
};

/// DNS COOKIE option as it arrived (RFC 7873 4): a client cookie of 8
/// octets, and a server cookie of 8 to 32 octets when the client has one.
/// Lengths are checked by the parser; the server cookie is not verified.
struct Cookie {
  bool present = false;
  uint8_t client[edns::kClientCookieLength] = {};
  uint8_t server_length = 0;  // 0 = client cookie only
  uint8_t server[edns::kMaxServerCookieLength] = {};
};

/// What the parser learned; valid fields depend on the status returned.
struct Query {
  uint16_t id = 0;
  uint16_t flags = 0;  // the request's flags word
  uint8_t opcode = 0;

  // The question. `qname` is lowercased for lookup; the original bytes (with
  // the client's case) stay in the packet at offset 12 and are echoed from there.
  uint8_t qname[kMaxNameLength] = {};
  uint8_t qname_length = 0;
  uint8_t label_count = 0;               // labels, not counting the root
  uint8_t label_offsets[kMaxLabels] = {};  // start of each label in qname
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  uint16_t question_end = 0;  // offset just past the question in the packet

  // EDNS(0), RFC 6891.
  bool has_edns = false;
  uint8_t edns_version = 0;
  bool dnssec_ok = false;
  uint16_t udp_payload = 0;  // as advertised, clamped up to 512
  ClientSubnet ecs;
  Cookie cookie;
  bool nsid = false;  // an NSID option asks which server answered (RFC 5001)
  bool has_tsig = false;
};

enum class ParseStatus : uint8_t {
  kOk,
  kDrop,      // not a query we answer at all (too short for a header, or QR set)
  kFormErr,   // malformed: answer FORMERR
  kNotImp,    // opcode other than QUERY
  kBadVers,   // EDNS version above 0
  kCookieOnly,  // QDCOUNT 0 with a COOKIE option: asks for a server cookie (RFC 7873 5.4)
};

/// Parses `length` bytes at `packet` into `query`. Never throws or allocates.
/// On kFormErr/kNotImp/kBadVers, `query.id`, `flags` and `opcode` are filled, and
/// `question_end` is non-zero when the question itself was well formed;
/// `has_edns` tells whether an OPT record was understood before the error.
ParseStatus parseQuery(const uint8_t* packet, size_t length, Query& query) noexcept;

/// Reads a possibly compressed name at `offset` into `out` (lowercased), for
/// records after the question. Returns the offset just past the name in the
/// packet, or 0 when the name is malformed (bad label, pointer forward or to
/// itself, loop, longer than 255 octets, runs off the end).
size_t readName(const uint8_t* packet, size_t length, size_t offset, uint8_t* out,
                uint8_t* out_length) noexcept;

}  // namespace meridian::wire
