// libFuzzer target: the EDNS OPT record of a query (RFC 6891), its options
// and EDNS Client Subnet (RFC 7871) in particular. Most of the packet is
// fixed and valid so every input reaches the OPT parser:
//
//   byte 0      the question (low 4 bits: one of kQuestions), the source
//               address family (bit 4: IPv6), and nothing else
//   bytes 1-2   the OPT CLASS: the client's UDP payload size
//   bytes 3-6   the OPT TTL: extended RCODE, version, DO and Z flags
//   the rest    the OPT RDATA: the options
//
// The packet is a header (QDCOUNT 1, ARCOUNT 1), the question, and one OPT
// record owned by the root with RDLENGTH the size of the rest. It goes
// through wire::parseQuery and through the whole query path (handleQuery,
// over UDP and TCP) against the fuzz targets' database (the demo and
// example.com. with a steered name of every policy) and the MaxMind test
// geo database, so an ECS option reaches the client, geo and steering code
// and its echo in the answer.
//
// Beyond crashes, the answer must be a well-formed DNS message (ldns decodes
// it) with our ID and QR; over UDP no larger than the client allowed; and an
// ECS option in it must repeat the query's FAMILY, SOURCE PREFIX-LENGTH and
// ADDRESS with a SCOPE within the family (RFC 7871 7.2.1).

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

// ldns's common.h defines bool/true/false as macros in C++ unless
// <stdbool.h> came first.
#include <stdbool.h>

#include <ldns/ldns.h>

#include "server/query_handler.h"
#include "server/snapshot.h"
#include "tests/fuzz/fuzz_data.h"
#include "tests/fuzz/fuzz_db.h"
#include "wire/name.h"
#include "wire/query.h"

using namespace meridian;

namespace {

struct Question {
  const char* name;
  uint16_t type;
};

// Steered names of every policy first (their answers depend on the client),
// then static data, a referral, a name outside every zone and an NXDOMAIN.
const Question kQuestions[16] = {
    {"lb.demo.meridian.example.", wire::type::A},  // nearest
    {"geo.demo.meridian.example.", wire::type::A},
    {"fo.example.com.", wire::type::A},
    {"lat.example.com.", wire::type::A},
    {"lat.example.com.", wire::type::AAAA},
    {"wt.example.com.", wire::type::A},
    {"st.example.com.", wire::type::A},
    {"gm.example.com.", wire::type::A},
    {"www.example.com.", wire::type::A},
    {"big.example.com.", wire::type::TXT},  // over 512 octets: TC without EDNS
    {"example.com.", wire::type::MX},
    {"x.sub.example.com.", wire::type::A},  // referral with glue
    {"alias.example.com.", wire::type::A},  // CNAME
    {"www.example.org.", wire::type::A},    // REFUSED
    {"nothere.example.com.", wire::type::A},
    {"lb.demo.meridian.example.", wire::type::AAAA},  // steered only for A
};

std::shared_ptr<server::Snapshot> makeSnapshot() {
  static fuzz::FuzzDatabase database(fuzz::seedEverything);
  zones::Database db(database.path());
  return server::buildSnapshot(db, geo::GeoDatabase::open(fuzz::testGeoDatabasePath()), nullptr, {},
                               zones::nowMillis());
}

std::vector<uint8_t> buildQuery(const uint8_t* data, size_t size) {
  const Question& question = kQuestions[data[0] & 0x0f];
  std::vector<uint8_t> packet = {0x4d, 0x52, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1};
  const std::string qname = wire::nameToWire(question.name);
  packet.insert(packet.end(), qname.begin(), qname.end());
  packet.push_back(static_cast<uint8_t>(question.type >> 8));
  packet.push_back(static_cast<uint8_t>(question.type));
  packet.insert(packet.end(), {0, 1});              // class IN
  packet.insert(packet.end(), {0, 0, 41});          // root owner, TYPE OPT
  packet.insert(packet.end(), data + 1, data + 7);  // CLASS and TTL
  const size_t rdlength = std::min<size_t>(size - 7, 0xffff);
  packet.push_back(static_cast<uint8_t>(rdlength >> 8));
  packet.push_back(static_cast<uint8_t>(rdlength));
  packet.insert(packet.end(), data + 7, data + 7 + rdlength);
  return packet;
}

void checkParsedEcs(const wire::ClientSubnet& ecs) {
  const size_t bits = ecs.family == 1 ? 32 : ecs.family == 2 ? 128 : 0;
  if (bits == 0 || ecs.source_prefix > bits) fuzz::defect("ECS accepted with a bad family/prefix");
  if (ecs.address_length != (ecs.source_prefix + 7) / 8) {
    fuzz::defect("ECS accepted with an address length that does not fit its prefix");
  }
  for (size_t i = ecs.address_length; i < sizeof ecs.address; ++i) {
    if (ecs.address[i] != 0) fuzz::defect("ECS address not zero-padded");
  }
  if (ecs.source_prefix % 8 != 0 &&
      (ecs.address[ecs.address_length - 1] & (0xff >> (ecs.source_prefix % 8))) != 0) {
    fuzz::defect("ECS accepted with host bits set past the source prefix");
  }
}

// The ECS option of an answer must echo the query's (RFC 7871 7.2.1).
void checkAnswerEcs(const uint8_t* option, size_t length, const wire::Query& query) {
  if (!query.ecs.present) fuzz::defect("ECS in the answer to a query without one");
  if (length < 4) fuzz::defect("ECS option in the answer shorter than 4 octets");
  const uint16_t family = static_cast<uint16_t>(option[0] << 8 | option[1]);
  const uint8_t source = option[2];
  const uint8_t scope = option[3];
  if (family != query.ecs.family || source != query.ecs.source_prefix) {
    fuzz::defect("ECS answer changes FAMILY or SOURCE PREFIX-LENGTH");
  }
  if (scope > (family == 1 ? 32 : 128)) fuzz::defect("ECS SCOPE PREFIX-LENGTH beyond the family");
  if (length - 4 != query.ecs.address_length ||
      std::memcmp(option + 4, query.ecs.address, length - 4) != 0) {
    fuzz::defect("ECS answer does not repeat the query's ADDRESS");
  }
}

void checkAnswer(const uint8_t* response, size_t n, const wire::Query& query,
                 server::Transport transport) {
  if (transport == server::Transport::kUdp) {
    const size_t limit = query.has_edns && query.udp_payload > 512 ? query.udp_payload : 512;
    if (n > limit)
      fuzz::defect("UDP answer of " + std::to_string(n) + " octets, limit " +
                   std::to_string(limit));
  }
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, response, n) != LDNS_STATUS_OK) {
    fuzz::defect("the answer is not a well-formed DNS message");
  }
  std::unique_ptr<ldns_pkt, void (*)(ldns_pkt*)> pkt(raw, ldns_pkt_free);
  if (ldns_pkt_id(pkt.get()) != 0x4d52 || !ldns_pkt_qr(pkt.get())) {
    fuzz::defect("the answer lacks our ID or QR");
  }
  const ldns_rdf* options = ldns_pkt_edns_data(pkt.get());
  if (!options) return;
  const uint8_t* p = ldns_rdf_data(options);
  const size_t size = ldns_rdf_size(options);
  size_t at = 0;
  while (at < size) {
    if (size - at < 4) fuzz::defect("truncated option header in the answer's OPT");
    const uint16_t code = static_cast<uint16_t>(p[at] << 8 | p[at + 1]);
    const uint16_t length = static_cast<uint16_t>(p[at + 2] << 8 | p[at + 3]);
    at += 4;
    if (length > size - at) fuzz::defect("option runs past the answer's OPT");
    if (code == wire::edns::kOptionEcs) checkAnswerEcs(p + at, length, query);
    at += length;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::shared_ptr<server::Snapshot> snapshot = makeSnapshot();
  static server::DnsCounters counters;
  static server::QueryContext context = [] {
    server::QueryContext c;
    c.counters = &counters;
    return c;
  }();
  static std::vector<uint8_t> out(65535);
  static wire::Query query;
  if (size < 7) return -1;
  const std::vector<uint8_t> packet = buildQuery(data, size);

  const wire::ParseStatus status = wire::parseQuery(packet.data(), packet.size(), query);
  if (status == wire::ParseStatus::kDrop) fuzz::defect("a query with a valid header was dropped");
  if (status == wire::ParseStatus::kOk && query.ecs.present) checkParsedEcs(query.ecs);

  server::ClientAddress client;
  if (data[0] & 0x10) {
    client.family = 6;
    const uint8_t v6[16] = {0x20, 0x01, 0x02, 0x18, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    std::memcpy(client.bytes, v6, 16);
  } else {
    const uint8_t v4[4] = {81, 2, 69, 142};
    std::memcpy(client.bytes, v4, 4);
  }
  for (auto transport : {server::Transport::kUdp, server::Transport::kTcp}) {
    const size_t n = server::handleQuery(*snapshot, context, packet.data(), packet.size(), client,
                                         transport, out.data(), out.size());
    if (n > out.size()) __builtin_trap();
    if (n < 12) fuzz::defect("no answer to a query with a valid header and question");
    checkAnswer(out.data(), n, query, transport);
  }
  return 0;
}
