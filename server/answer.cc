#include "server/answer.h"

#include <time.h>

#include <cstring>

#include "geo/client_subnet.h"
#include "server/identity.h"
#include "wire/name.h"

namespace meridian::server {

namespace {

using zones::kNotFound;
using zones::Node;
using zones::RRset;
using zones::ZoneTable;

// A name being answered: the question, then each CNAME target in turn.
struct Name {
  const uint8_t* wire;
  uint8_t length;
  uint8_t label_count;
  const uint8_t* label_offsets;
};

enum class Match : uint8_t { kExact, kWildcard, kDelegation, kNxDomain };

struct Lookup {
  Match match;
  uint32_t node;  // the matching node, wildcard node or zone cut
};

// Finds `name` in `zone` whose apex starts at label `apex_label`. Walks down
// from the apex one label at a time: the first zone cut on the way wins (the
// name is delegated), and the last node that exists is the closest encloser
// for wildcard matching (RFC 4592). Empty non-terminals are real nodes in the
// table, so a missing node means nothing exists below it either.
Lookup lookup(const ZoneTable& table, uint32_t zone_index, const Name& name, size_t apex_label,
              uint16_t qtype) noexcept {
  const zones::Zone& zone = table.zone(zone_index);
  uint32_t encloser = zone.apex;
  for (size_t label = apex_label; label-- > 0;) {
    const uint8_t* suffix = name.wire + name.label_offsets[label];
    const uint32_t n = table.findNode(zone_index, suffix, name.length - name.label_offsets[label]);
    if (n == kNotFound) {
      if (zone.has_wildcards) {
        // "*." + closest encloser; the encloser is at most 253 octets long
        // here because a longer name would have had no label below it.
        const Node& e = table.node(encloser);
        uint8_t wildcard[wire::kMaxNameLength + 2] = {1, '*'};
        if (e.name_length + 2u <= wire::kMaxNameLength) {
          std::memcpy(wildcard + 2, table.nodeName(e), e.name_length);
          const uint32_t w = table.findNode(zone_index, wildcard, e.name_length + 2u);
          if (w != kNotFound) return {Match::kWildcard, w};
        }
      }
      return {Match::kNxDomain, encloser};
    }
    const Node& node = table.node(n);
    // The DS RRset at a cut belongs to the parent side (RFC 4035 3.1.4.1).
    if ((node.flags & Node::kDelegation) && !(label == 0 && qtype == wire::type::DS)) {
      return {Match::kDelegation, n};
    }
    encloser = n;
  }
  return {Match::kExact, encloser};
}

// Writes the rdata of a record whose type carries compressible names (NS,
// CNAME, PTR, MX, SOA); the layout was checked when the table was built.
bool writeCompressedRdata(wire::MessageWriter& w, uint16_t type, const uint8_t* rdata) noexcept {
  const size_t length_at = w.size();
  if (!w.writeU16(0)) return false;
  const size_t start = w.size();
  const uint8_t* p = rdata;
  auto name = [&]() {
    size_t n = 0;
    while (p[n] != 0) n += 1 + p[n];
    ++n;
    const bool ok = w.writeName(p, n);
    p += n;
    return ok;
  };
  bool ok = true;
  switch (type) {
    case wire::type::MX:
      ok = w.writeBytes(p, 2);
      p += 2;
      ok = ok && name();
      break;
    case wire::type::SOA:
      ok = name() && name() && w.writeBytes(p, 20);
      break;
    default:  // NS, CNAME, PTR: one name
      ok = name();
      break;
  }
  if (!ok) return false;
  wire::writeU16(w.data() + length_at, static_cast<uint16_t>(w.size() - start));
  return true;
}

// Writes `count` pre-encoded records at `data` with `owner`. On failure the
// writer is rewound so no partial record remains; returns records written
// (all or none).
uint16_t writeRecords(wire::MessageWriter& w, const uint8_t* owner, size_t owner_length,
                      const uint8_t* data, size_t data_length, uint16_t count) noexcept {
  const size_t start = w.size();
  const uint8_t* p = data;
  const uint8_t* end = data + data_length;
  while (p < end) {
    const uint16_t type = wire::readU16(p);
    const uint16_t rdlength = wire::readU16(p + 8);
    bool ok = w.writeName(owner, owner_length);
    if (ok && wire::hasCompressibleNames(type)) {
      ok = w.writeBytes(p, 8) && writeCompressedRdata(w, type, p + 10);
    } else {
      ok = ok && w.writeBytes(p, 10u + rdlength);
    }
    if (!ok) {
      w.rewind(start);
      return 0;
    }
    p += 10 + rdlength;
  }
  return count;
}

// Wall-clock milliseconds for slow start; the coarse clock is a vDSO read
// of a few nanoseconds, precise to a tick, which is plenty here.
int64_t wallClockMillis() noexcept {
  timespec now;
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  return static_cast<int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

class Answerer {
 public:
  Answerer(const Snapshot& snapshot, QueryContext& context, const ClientAddress& client) noexcept
      : snapshot_(snapshot), table_(*snapshot.zones), context_(context), w_(context.writer),
        source_(client) {}

  AnswerOutcome run() noexcept;

 private:
  bool writeRRset(const RRset& set, const uint8_t* owner, size_t owner_length,
                  uint16_t* counter) noexcept;
  bool writeSteered(const RRset& set, const uint8_t* owner, size_t owner_length,
                    uint32_t zone_index) noexcept;
  bool writeFallback(const RRset& set, const uint8_t* owner, size_t owner_length,
                     const steering::SteeredName& name, uint32_t ttl) noexcept;
  const steering::ClientView& client() noexcept;
  const steering::ClientView& clientWithAsn(const steering::SteeredName& name) noexcept;
  void writeNegative(uint32_t zone_index) noexcept;
  void writeReferral(uint32_t cut) noexcept;
  void writeAdditional(const RRset& set, bool required) noexcept;
  bool followCname(const RRset& cname, uint32_t zone_index, int step, Name& name,
                   size_t& apex_label) noexcept;

  const Snapshot& snapshot_;
  const ZoneTable& table_;
  QueryContext& context_;
  wire::MessageWriter& w_;
  const ClientAddress& source_;
  bool client_known_ = false;
  AnswerOutcome out_;
  uint8_t label_offsets_[QueryContext::kMaxChain][wire::kMaxLabels];
};

bool Answerer::writeRRset(const RRset& set, const uint8_t* owner, size_t owner_length,
                          uint16_t* counter) noexcept {
  if (set.count == 0) return true;  // a steered RRset never reaches here (see run())
  const uint16_t written = writeRecords(w_, owner, owner_length, table_.rdata() + set.data,
                                        set.data_length, set.count);
  if (written == 0) {
    out_.truncated = true;
    return false;
  }
  *counter += written;
  return true;
}

// The "client" and "geo" stages, run once per query and only when a steered
// name needs them: the ECS subnet if the query carried one, else the source
// address; then the geo database's record for it.
const steering::ClientView& Answerer::client() noexcept {
  steering::ClientView& view = context_.client;
  if (client_known_) return view;
  client_known_ = true;
  const wire::ClientSubnet& ecs = context_.query.ecs;
  view = steering::ClientView{};
  if (ecs.present) {
    view.from_ecs = true;
    view.subnet = geo::clientFromEcs(ecs.family, ecs.source_prefix, ecs.address, ecs.address_length);
  } else {
    view.subnet.family = source_.family;
    view.subnet.prefix = source_.family == 4 ? 32 : 128;
    std::memcpy(view.subnet.address, source_.bytes, source_.family == 4 ? 4 : 16);
  }
  if (view.subnet.known() && snapshot_.geo) {
    // No cache in front of the database: a resolver asks again for a subnet
    // only after the answer's TTL, so repeats are rare at any one server; a
    // per-worker cache measured slower than the tree walk it saved.
    view.located = snapshot_.geo->lookup(view.subnet, view.geo);
  }
  return view;
}

// The client with its AS number, looked up only for names with an asn_map
// (one more tree walk) and at most once per query.
const steering::ClientView& Answerer::clientWithAsn(const steering::SteeredName& name) noexcept {
  steering::ClientView& view = context_.client;
  client();
  if (name.asn_map.entries.empty() || view.asn_looked_up || !snapshot_.asn) return view;
  view.asn_looked_up = view.subnet.known();
  if (view.asn_looked_up) {
    geo::GeoRecord record;
    view.asn_found = snapshot_.asn->lookup(view.subnet, record) && record.asn != 0;
    view.asn = view.asn_found ? record.asn : 0;
    view.asn_prefix = record.prefix;
  }
  return view;
}

// The "steer" and "encode" stages for a steered RRset: the policy ranks the
// regions for this client, health picks the endpoints, and their addresses
// are written with the name's TTL. Returns false when the answer is final
// (NODATA or SERVFAIL written) or did not fit.
bool Answerer::writeSteered(const RRset& set, const uint8_t* owner, size_t owner_length,
                            uint32_t zone_index) noexcept {
  DnsCounters& counters = *context_.counters;
  steering::SteeringResult& result = context_.steering;
  const steering::SteeringTable& table = *snapshot_.steering;
  const steering::SteeredName& name = table.names[static_cast<size_t>(set.steered)];
  steering::steer(table, *snapshot_.health, name, clientWithAsn(name), context_.random,
                  wallClockMillis(), result);
  counters.steered.add();
  if (result.panic) counters.steered_panic.add();
  if (result.used_drained) counters.steered_drained.add();
  if (result.shed_ignored) counters.steered_shed_ignored.add();
  if (result.ejection_ignored) counters.steered_ejection_ignored.add();
  out_.ecs_scope = result.scope;
  switch (result.outcome) {
    case steering::SteeringResult::Outcome::kServFail:
      counters.steered_all_down_servfail.add();
      out_.rcode = wire::rcode::SERVFAIL;
      out_.authoritative = false;
      return false;
    case steering::SteeringResult::Outcome::kNoData:
      counters.steered_all_down_nodata.add();
      writeNegative(zone_index);
      return false;
    case steering::SteeringResult::Outcome::kFallback:
      counters.steered_all_down_fallback.add();
      return writeFallback(set, owner, owner_length, name, result.ttl);
    case steering::SteeringResult::Outcome::kAnswer:
      if (result.all_down) counters.steered_fail_open.add();
      break;
  }
  const size_t start = w_.size();
  for (uint8_t i = 0; i < result.count; ++i) {
    const steering::Endpoint& endpoint = table.endpoints[result.endpoints[i]];
    const uint16_t length = endpoint.family == 4 ? 4 : 16;
    if (!w_.writeName(owner, owner_length) || !w_.writeU16(set.type) ||
        !w_.writeU16(wire::qclass::IN) || !w_.writeU32(result.ttl) || !w_.writeU16(length) ||
        !w_.writeBytes(endpoint.address, length)) {
      w_.rewind(start);
      out_.truncated = true;
      return false;
    }
    ++out_.answer_count;
  }
  // Answers per region, for /metrics and the capacity table: the name's slot
  // for the endpoint's region (at most 32 regions to look through).
  for (uint8_t i = 0; i < result.count; ++i) {
    const uint16_t region = table.endpoints[result.endpoints[i]].region;
    for (uint8_t r = 0; r < name.region_count; ++r) {
      if (name.regions[r] != region) continue;
      if (name.answer_slot[r] < kAnswerSlots) counters.region_answers[name.answer_slot[r]].add();
      break;
    }
  }
  return true;
}

// when_all_down = fallback: the name's fixed addresses, compiled into the
// snapshot (SteeredName::fallback), written like endpoint addresses.
bool Answerer::writeFallback(const RRset& set, const uint8_t* owner, size_t owner_length,
                             const steering::SteeredName& name, uint32_t ttl) noexcept {
  const uint16_t length = name.type == wire::type::AAAA ? 16 : 4;
  const size_t start = w_.size();
  for (uint8_t i = 0; i < name.fallback_count; ++i) {
    if (!w_.writeName(owner, owner_length) || !w_.writeU16(set.type) ||
        !w_.writeU16(wire::qclass::IN) || !w_.writeU32(ttl) || !w_.writeU16(length) ||
        !w_.writeBytes(name.fallback[i], length)) {
      w_.rewind(start);
      out_.truncated = true;
      return false;
    }
    ++out_.answer_count;
  }
  return true;
}

// NXDOMAIN / NODATA: the zone's SOA in the authority section, with the
// negative TTL (RFC 2308 section 3).
void Answerer::writeNegative(uint32_t zone_index) noexcept {
  const zones::Zone& zone = table_.zone(zone_index);
  const Node& apex = table_.node(zone.apex);
  const uint16_t written = writeRecords(w_, table_.nodeName(apex), apex.name_length,
                                        table_.rdata() + zone.negative_soa,
                                        zone.negative_soa_length, 1);
  if (written == 0) {
    out_.truncated = true;
    return;
  }
  out_.authority_count += written;
}

// The A/AAAA RRsets of in-zone targets of an NS, MX or SRV RRset, linked
// when the table was built (zones/zone_table.cc, pass 4), so this only copies.
void Answerer::writeAdditional(const RRset& set, bool required) noexcept {
  for (uint16_t i = 0; i < set.additional_count; ++i) {
    const RRset& glue = table_.rrset(table_.additional()[set.additional + i]);
    const Node& owner = table_.node(glue.node);
    const uint16_t written = writeRecords(w_, table_.nodeName(owner), owner.name_length,
                                          table_.rdata() + glue.data, glue.data_length,
                                          glue.count);
    if (written == 0) {
      // Glue for a referral is required (RFC 9471): without it the client
      // must retry over TCP. Other additional data is optional: what does
      // not fit is left out without TC (RFC 2181 9), and a smaller RRset
      // after it may still fit.
      if (!required) continue;
      out_.truncated = true;
      return;
    }
    out_.additional_count += written;
  }
}

// A referral: not authoritative, the cut's NS set in authority, glue in
// additional (RFC 1034 4.3.2 step 3b).
void Answerer::writeReferral(uint32_t cut) noexcept {
  const Node& node = table_.node(cut);
  const RRset* ns = table_.findRRset(node, wire::type::NS);
  out_.authoritative = false;
  out_.referral = true;
  out_.rate_name = table_.nodeName(node);
  out_.rate_name_length = node.name_length;
  context_.counters->referrals.add();
  if (!writeRRset(*ns, table_.nodeName(node), node.name_length, &out_.authority_count)) return;
  writeAdditional(*ns, true);
}

// Moves `name` to the CNAME's target when it lies in the same zone. Returns
// false when the chain ends here (target elsewhere, or the chain is too long).
bool Answerer::followCname(const RRset& cname, uint32_t zone_index, int step, Name& name,
                           size_t& apex_label) noexcept {
  if (step + 1 >= QueryContext::kMaxChain) return false;
  const uint8_t* target = table_.rdata() + cname.data + 10;
  const uint16_t target_length = wire::readU16(table_.rdata() + cname.data + 8);
  const Node& apex = table_.node(table_.zone(zone_index).apex);
  const std::string_view target_view(reinterpret_cast<const char*>(target), target_length);
  const std::string_view apex_view(reinterpret_cast<const char*>(table_.nodeName(apex)),
                                   apex.name_length);
  if (!wire::isSubdomain(target_view, apex_view)) return false;
  uint8_t* offsets = label_offsets_[step + 1];
  uint8_t labels = 0;
  for (size_t pos = 0; target[pos] != 0; pos += 1 + target[pos]) {
    offsets[labels++] = static_cast<uint8_t>(pos);
  }
  name = {target, static_cast<uint8_t>(target_length), labels, offsets};
  apex_label = labels - wire::labelCount(apex_view);
  return true;
}

AnswerOutcome Answerer::run() noexcept {
  const wire::Query& q = context_.query;
  // Only class IN (and ANY, which matches it) is served; CHAOS (but for
  // id.server and hostname.bind, answered before: server/identity.h) and
  // the rest are refused like names outside our zones.
  if (q.qclass != wire::qclass::IN && q.qclass != wire::qclass::ANY) {
    out_.rcode = wire::rcode::REFUSED;
    out_.authoritative = false;
    return out_;
  }
  switch (q.qtype) {
    case wire::type::AXFR:
    case wire::type::IXFR:  // zone transfer is not offered
      out_.rcode = wire::rcode::REFUSED;
      out_.authoritative = false;
      return out_;
    case wire::type::MAILA:
    case wire::type::MAILB:
    case wire::type::TSIG:
      out_.rcode = wire::rcode::NOTIMP;
      out_.authoritative = false;
      return out_;
    default:
      break;
  }
  if (q.has_tsig) {  // we hold no TSIG keys (RFC 8945 5.2: unknown key)
    out_.rcode = wire::rcode::NOTAUTH;
    out_.authoritative = false;
    return out_;
  }

  // A query with ECS may be for a steered name: start bringing in the geo
  // database's first step for its subnet now, so the cache miss overlaps the
  // zone lookup below instead of stalling client() (perf: most of a geo
  // lookup's time was that one load). Wasted, and harmless, otherwise.
  if (q.ecs.present && snapshot_.geo) {
    snapshot_.geo->prefetch(q.ecs.family == 1 ? 4 : 6, q.ecs.address[0], q.ecs.address[1]);
  }

  size_t apex_label = 0;
  const uint32_t zone_index =
      table_.findZone(q.qname, q.qname_length, q.label_offsets, q.label_count, &apex_label);
  if (zone_index == kNotFound) {
    out_.rcode = wire::rcode::REFUSED;
    out_.authoritative = false;
    return out_;
  }

  Name name{q.qname, q.qname_length, q.label_count, q.label_offsets};
  for (int step = 0; step < QueryContext::kMaxChain; ++step) {
    const Lookup found = lookup(table_, zone_index, name, apex_label, q.qtype);
    if (found.match == Match::kDelegation) {
      // Referral for the question; a CNAME into a delegated name ends the
      // chain with what we have (the resolver follows it).
      if (step == 0) writeReferral(found.node);
      return out_;
    }
    if (found.match == Match::kNxDomain) {
      out_.rcode = wire::rcode::NXDOMAIN;  // for the last name in a chain (RFC 6604)
      const Node& apex = table_.node(table_.zone(zone_index).apex);
      out_.rate_name = table_.nodeName(apex);
      out_.rate_name_length = apex.name_length;
      writeNegative(zone_index);
      return out_;
    }
    const Node& node = table_.node(found.node);
    if (found.match == Match::kWildcard && step == 0) {
      // Random names under a wildcard share the wildcard's bucket.
      out_.rate_name = table_.nodeName(node);
      out_.rate_name_length = node.name_length;
    }
    const RRset* cname = table_.findRRset(node, wire::type::CNAME);
    if (cname != nullptr && q.qtype != wire::type::CNAME) {
      if (!writeRRset(*cname, name.wire, name.length, &out_.answer_count)) return out_;
      if (!followCname(*cname, zone_index, step, name, apex_label)) return out_;
      continue;
    }
    const RRset* set = nullptr;
    if (q.qtype == wire::type::ANY) {
      // RFC 8482: answer ANY with one RRset rather than all of them.
      if (node.rrset_count > 0) set = &table_.rrset(node.first_rrset);
    } else {
      set = table_.findRRset(node, q.qtype);
    }
    if (set == nullptr || (set->count == 0 && set->steered < 0)) {
      writeNegative(zone_index);  // NODATA
      return out_;
    }
    if (set->steered >= 0) {
      writeSteered(*set, name.wire, name.length, zone_index);
      return out_;
    }
    if (!writeRRset(*set, name.wire, name.length, &out_.answer_count)) return out_;
    writeAdditional(*set, false);
    return out_;
  }
  return out_;
}

}  // namespace

AnswerOutcome answerQuestion(const Snapshot& snapshot, QueryContext& context,
                             const ClientAddress& client) noexcept {
  AnswerOutcome identity;
  if (answerIdentity(context, identity)) return identity;  // CH id.server, hostname.bind
  if (!snapshot.zones) {
    AnswerOutcome refused;
    refused.rcode = wire::rcode::REFUSED;
    refused.authoritative = false;
    return refused;
  }
  return Answerer(snapshot, context, client).run();
}

}  // namespace meridian::server
