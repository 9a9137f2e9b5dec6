#include "zones/zone_table.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "wire/constants.h"
#include "wire/name.h"

namespace meridian::zones {

namespace {


uint32_t nodeHash(uint32_t zone, const uint8_t* name, size_t length) {
  return wire::hashName(name, length, 2166136261u ^ (zone * 0x9e3779b1u));
}

// Lowercases the uncompressed name at rdata[pos]; returns the offset after it,
// or throws if the name runs past the rdata.
size_t lowercaseName(std::string& rdata, size_t pos) {
  while (true) {
    if (pos >= rdata.size()) throw std::invalid_argument("name in rdata runs past its end");
    const uint8_t length = static_cast<uint8_t>(rdata[pos]);
    if (length > wire::kMaxLabelLength) throw std::invalid_argument("bad label in rdata name");
    if (length == 0) return pos + 1;
    if (pos + 1 + length > rdata.size()) throw std::invalid_argument("name in rdata runs past its end");
    for (size_t i = pos + 1; i <= pos + length; ++i) {
      rdata[i] = static_cast<char>(wire::asciiLower(static_cast<uint8_t>(rdata[i])));
    }
    pos += 1 + length;
  }
}

std::string canonicalRdata(uint16_t type, std::string_view rdata) {
  std::string out(rdata);
  switch (type) {
    case wire::type::NS:
    case wire::type::CNAME:
    case wire::type::PTR:
      if (lowercaseName(out, 0) != out.size()) throw std::invalid_argument("junk after name");
      break;
    case wire::type::MX:
      if (out.size() < 3 || lowercaseName(out, 2) != out.size()) {
        throw std::invalid_argument("malformed MX rdata");
      }
      break;
    case wire::type::SOA: {
      size_t pos = lowercaseName(out, 0);
      pos = lowercaseName(out, pos);
      if (out.size() - pos != 20) throw std::invalid_argument("malformed SOA rdata");
      break;
    }
    default:
      break;
  }
  return out;
}

void appendRecord(std::vector<uint8_t>& out, uint16_t type, uint32_t ttl, std::string_view rdata) {
  const size_t at = out.size();
  out.resize(at + 10 + rdata.size());
  uint8_t* p = out.data() + at;
  wire::writeU16(p, type);
  wire::writeU16(p + 2, wire::qclass::IN);
  wire::writeU32(p + 4, ttl);
  wire::writeU16(p + 8, static_cast<uint16_t>(rdata.size()));
  std::memcpy(p + 10, rdata.data(), rdata.size());
}

}  // namespace

uint32_t ZoneTable::probe(const std::vector<uint32_t>& slots, uint32_t hash, uint32_t zone,
                          const uint8_t* name, size_t length) const noexcept {
  if (slots.empty()) return kNotFound;
  const size_t mask = slots.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const uint32_t slot = slots[i];
    if (slot == 0) return kNotFound;
    const Node& n = nodes_[slot - 1];
    if (n.hash == hash && n.zone == zone && n.name_length == length &&
        std::memcmp(names_.data() + n.name, name, length) == 0) {
      return slot - 1;
    }
  }
}

uint32_t ZoneTable::findZone(const uint8_t* name, size_t length, const uint8_t* label_offsets,
                             size_t label_count, size_t* apex_label) const noexcept {
  if (zone_slots_.empty()) return kNotFound;
  const size_t mask = zone_slots_.size() - 1;
  // Longest suffix first, so a hosted child zone wins over its parent.
  for (size_t label = 0; label <= label_count; ++label) {
    const size_t offset = label < label_count ? label_offsets[label] : length - 1;
    const uint8_t* suffix = name + offset;
    const size_t suffix_length = length - offset;
    if (!(apex_lengths_[suffix_length / 64] & (uint64_t{1} << (suffix_length % 64)))) continue;
    const uint32_t hash = wire::hashName(suffix, suffix_length);
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const uint32_t slot = zone_slots_[i];
      if (slot == 0) break;
      const Node& n = nodes_[slot - 1];
      if (n.name_length == suffix_length &&
          std::memcmp(names_.data() + n.name, suffix, suffix_length) == 0) {
        *apex_label = label;
        return n.zone;
      }
    }
  }
  return kNotFound;
}

uint32_t ZoneTable::findNode(uint32_t zone, const uint8_t* name, size_t length) const noexcept {
  return probe(node_slots_, nodeHash(zone, name, length), zone, name, length);
}

const RRset* ZoneTable::findRRset(const Node& node, uint16_t type) const noexcept {
  // Nodes hold a handful of RRsets; a linear scan beats anything cleverer.
  const RRset* begin = rrsets_.data() + node.first_rrset;
  for (const RRset* r = begin; r != begin + node.rrset_count; ++r) {
    if (r->type == type) return r;
  }
  return nullptr;
}

size_t ZoneTable::memoryBytes() const noexcept {
  return zones_.capacity() * sizeof(Zone) + nodes_.capacity() * sizeof(Node) +
         rrsets_.capacity() * sizeof(RRset) + names_.capacity() + rdata_.capacity() +
         (additional_.capacity() + node_slots_.capacity() + zone_slots_.capacity()) *
             sizeof(uint32_t);
}

uint32_t ZoneTableBuilder::addZone(std::string_view apex_wire) {
  zone_names_.emplace_back(apex_wire);
  return static_cast<uint32_t>(zone_names_.size() - 1);
}

void ZoneTableBuilder::addRecord(uint32_t zone, std::string_view owner, uint16_t type,
                                 uint32_t ttl, std::string_view rdata) {
  if (rdata.size() > 65535) throw std::invalid_argument("rdata longer than 65535 octets");
  PendingRecord r{zone, static_cast<uint32_t>(arena_.size()), 0,
                  static_cast<uint16_t>(rdata.size()), type, ttl, -1,
                  static_cast<uint8_t>(owner.size())};
  arena_.append(owner);
  r.rdata = static_cast<uint32_t>(arena_.size());
  arena_.append(rdata);
  records_.push_back(r);
}

void ZoneTableBuilder::addSteered(uint32_t zone, std::string_view owner, uint16_t type,
                                  uint32_t ttl, int32_t steered_index) {
  addRecord(zone, owner, type, ttl, {});
  records_.back().steered = steered_index;
}

namespace {

// Grows and fills an open-addressing table of node indices.
class SlotTable {
 public:
  explicit SlotTable(std::vector<uint32_t>& slots) : slots_(slots) {}
  void reserve(size_t count) {
    size_t size = 16;
    while (size < count * 2) size <<= 1;
    slots_.assign(size, 0);
  }
  void insert(uint32_t hash, uint32_t node) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = node + 1;
  }

 private:
  std::vector<uint32_t>& slots_;
};

// Types whose answers carry the addresses of the names in their rdata.
bool hasAdditionalTargets(uint16_t type) {
  return type == wire::type::NS || type == wire::type::MX || type == wire::type::SRV;
}

// The lowercase target name in one record's rdata (NS: the whole rdata; MX:
// after the preference; SRV: after priority, weight and port), or "" when
// there is none: SRV's "." means "no service here" (RFC 2782).
std::string additionalTarget(uint16_t type, const uint8_t* rdata, uint16_t length) {
  const size_t skip = type == wire::type::MX ? 2 : type == wire::type::SRV ? 6 : 0;
  if (length <= skip) return {};
  // NS and MX targets were lowercased and checked by canonicalRdata; an SRV
  // target keeps its case on the wire (it is not compressed or downcased,
  // RFC 2782, RFC 6840 5.1), so lowercase a copy for the lookup.
  std::string target(reinterpret_cast<const char*>(rdata + skip), length - skip);
  try {
    if (lowercaseName(target, 0) != target.size()) return {};
  } catch (const std::invalid_argument&) {
    return {};  // malformed SRV rdata: it is served as stored, with no additional data
  }
  if (type == wire::type::SRV && target.size() == 1) return {};
  return target;
}

// Appends to `links` (once each) the A and AAAA RRsets at `target` when it
// is a name of `zone`. Left out: names outside the zone (another zone's data
// may change without this one being rebuilt), steered addresses (chosen per
// client; the client asks for them and gets its own answer) and, except for
// NS glue, names at or below a zone cut (not authoritative data here).
void addressRRsetsOf(const ZoneTable& t, uint32_t zone, std::string_view apex,
                     std::string_view target, bool glue, std::vector<uint32_t>& links) {
  if (target.empty() || !wire::isSubdomain(target, apex)) return;
  const auto* name = reinterpret_cast<const uint8_t*>(target.data());
  const uint32_t n = t.findNode(zone, name, target.size());
  if (n == kNotFound) return;
  if (!glue) {
    for (size_t at = 0; target.size() - at > apex.size(); at += 1 + name[at]) {
      const uint32_t above = t.findNode(zone, name + at, target.size() - at);
      if (above != kNotFound && (t.node(above).flags & Node::kDelegation)) return;
    }
  }
  for (uint16_t type : {wire::type::A, wire::type::AAAA}) {
    const RRset* set = t.findRRset(t.node(n), type);
    if (set == nullptr || set->count == 0) continue;
    const auto index = static_cast<uint32_t>(set - &t.rrset(0));
    if (std::find(links.begin(), links.end(), index) == links.end()) links.push_back(index);
  }
}

}  // namespace

std::shared_ptr<const ZoneTable> ZoneTableBuilder::build() {
  auto table = std::make_shared<ZoneTable>();
  ZoneTable& t = *table;

  // Group records by zone, owner and type; keep input order within an RRset.
  std::stable_sort(records_.begin(), records_.end(),
                   [this](const PendingRecord& a, const PendingRecord& b) {
                     if (a.zone != b.zone) return a.zone < b.zone;
                     const int c = ownerOf(a).compare(ownerOf(b));
                     if (c != 0) return c < 0;
                     return a.type < b.type;
                   });

  t.zones_.resize(zone_names_.size());
  std::vector<uint32_t> apex_of_zone(zone_names_.size(), kNotFound);

  // Room for everything pass 1 appends, sized from the records: at most one
  // node and one RRset per record, owner names within the arena, and each
  // record's rdata plus its 10-octet header. Growing instead (doubling 1 M
  // element vectors) left the table holding 32 MiB more of a 1,000,000-record
  // zone (tools/bench bigzone: RSS 166 -> 134 MiB; CPU unchanged in noise).
  size_t rdata_bytes = 0;
  for (const PendingRecord& r : records_) rdata_bytes += 10 + r.rdata_length;
  t.nodes_.reserve(records_.size() + zone_names_.size());
  t.rrsets_.reserve(records_.size());
  t.names_.reserve(arena_.size());
  t.rdata_.reserve(rdata_bytes);

  auto addNode = [&](uint32_t zone, std::string_view name, uint8_t flags) {
    Node n;
    n.name = static_cast<uint32_t>(t.names_.size());
    n.name_length = static_cast<uint8_t>(name.size());
    n.flags = flags;
    n.zone = zone;
    n.first_rrset = static_cast<uint32_t>(t.rrsets_.size());
    n.hash = nodeHash(zone, reinterpret_cast<const uint8_t*>(name.data()), name.size());
    t.names_.insert(t.names_.end(), name.begin(), name.end());
    t.nodes_.push_back(n);
    return static_cast<uint32_t>(t.nodes_.size() - 1);
  };

  // Pass 1: nodes and RRsets from the records.
  std::vector<std::string> seen;  // one RRset's distinct rdata, reused
  size_t i = 0;
  while (i < records_.size()) {
    const uint32_t zone = records_[i].zone;
    const std::string_view owner = ownerOf(records_[i]);
    const std::string& apex = zone_names_[zone];
    if (!wire::isSubdomain(owner, apex)) {
      throw std::invalid_argument("record owner " + wire::wireToText(owner) +
                                  " is outside zone " + wire::wireToText(apex));
    }
    uint8_t flags = 0;
    if (owner == apex) flags |= Node::kApex;
    if (owner.size() >= 2 && owner[0] == 1 && owner[1] == '*') flags |= Node::kWildcard;
    const uint32_t node_index = addNode(zone, owner, flags);
    if (flags & Node::kApex) apex_of_zone[zone] = node_index;

    while (i < records_.size() && records_[i].zone == zone && ownerOf(records_[i]) == owner) {
      const uint16_t type = records_[i].type;
      size_t end = i;
      int32_t steered = -1;
      uint32_t steered_ttl = 0;
      while (end < records_.size() && records_[end].zone == zone &&
             records_[end].type == type && ownerOf(records_[end]) == owner) {
        if (records_[end].steered >= 0) {
          steered = records_[end].steered;
          steered_ttl = records_[end].ttl;
        }
        ++end;
      }
      RRset set;
      set.type = type;
      set.node = node_index;
      set.data = static_cast<uint32_t>(t.rdata_.size());
      if (steered >= 0) {
        // A steered name replaces any static records of the same type.
        set.steered = steered;
        set.ttl = steered_ttl;
      } else {
        seen.clear();
        for (size_t k = i; k < end; ++k) {
          const PendingRecord& r = records_[k];
          std::string rdata;
          try {
            rdata = canonicalRdata(type, std::string_view(arena_).substr(r.rdata, r.rdata_length));
          } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(wire::wireToText(owner) + " type " +
                                        std::to_string(type) + ": " + e.what());
          }
          // Identical records are one record (RFC 2181 section 5).
          if (std::find(seen.begin(), seen.end(), rdata) != seen.end()) continue;
          if (set.count == 0) set.ttl = r.ttl;
          appendRecord(t.rdata_, type, r.ttl, rdata);
          seen.push_back(std::move(rdata));
          ++set.count;
        }
        set.data_length = static_cast<uint32_t>(t.rdata_.size() - set.data);
        if (set.data_length > kMaxRRsetWire) {
          throw std::invalid_argument("RRset " + wire::wireToText(owner) + " type " +
                                      std::to_string(type) +
                                      " is too large to fit in any DNS message");
        }
      }
      if (type == wire::type::NS && !(flags & Node::kApex)) t.nodes_[node_index].flags |= Node::kDelegation;
      t.rrsets_.push_back(set);
      ++t.nodes_[node_index].rrset_count;
      i = end;
    }
  }

  for (size_t z = 0; z < zone_names_.size(); ++z) {
    if (apex_of_zone[z] == kNotFound) {
      throw std::invalid_argument("zone " + wire::wireToText(zone_names_[z]) +
                                  " has no SOA record at its apex");
    }
  }

  // Pass 2: hash every node, then add the empty non-terminals between each
  // name and its zone apex, so that "does this name exist" is one probe.
  SlotTable nodes(t.node_slots_);
  nodes.reserve(t.nodes_.size() * 2);
  for (uint32_t n = 0; n < t.nodes_.size(); ++n) nodes.insert(t.nodes_[n].hash, n);
  const size_t named_nodes = t.nodes_.size();
  for (uint32_t n = 0; n < named_nodes; ++n) {
    const uint32_t zone = t.nodes_[n].zone;
    const size_t apex_length = zone_names_[zone].size();
    std::string name(reinterpret_cast<const char*>(t.names_.data() + t.nodes_[n].name),
                     t.nodes_[n].name_length);
    size_t offset = 0;
    while (name.size() - offset > apex_length) {
      offset += 1 + static_cast<uint8_t>(name[offset]);
      const auto* parent = reinterpret_cast<const uint8_t*>(name.data() + offset);
      const size_t parent_length = name.size() - offset;
      if (t.findNode(zone, parent, parent_length) != kNotFound) break;
      if (t.nodes_.size() * 2 >= t.node_slots_.size()) {  // keep the load factor under 1/2
        nodes.reserve(t.nodes_.size() * 2);
        for (uint32_t k = 0; k < t.nodes_.size(); ++k) nodes.insert(t.nodes_[k].hash, k);
      }
      const uint32_t ent = addNode(zone, std::string_view(name).substr(offset), Node::kEmpty);
      nodes.insert(t.nodes_[ent].hash, ent);
    }
  }

  // Pass 3: per zone, the SOA for negative answers and the feature flags.
  SlotTable zones(t.zone_slots_);
  zones.reserve(zone_names_.size());
  for (uint32_t z = 0; z < zone_names_.size(); ++z) {
    Zone& zone = t.zones_[z];
    zone.apex = apex_of_zone[z];
    const Node& apex = t.nodes_[zone.apex];
    zones.insert(wire::hashName(t.names_.data() + apex.name, apex.name_length), zone.apex);
    t.apex_lengths_[apex.name_length / 64] |= uint64_t{1} << (apex.name_length % 64);
    const RRset* soa = t.findRRset(apex, wire::type::SOA);
    if (soa == nullptr || soa->count == 0) {
      throw std::invalid_argument("zone " + wire::wireToText(zone_names_[z]) +
                                  " has no SOA record at its apex");
    }
    const uint8_t* record = t.rdata_.data() + soa->data;
    const uint16_t rdlength = wire::readU16(record + 8);
    const uint32_t minimum = wire::readU32(record + 10 + rdlength - 4);
    const uint32_t negative_ttl = std::min(wire::readU32(record + 4), minimum);
    const std::string soa_rdata(reinterpret_cast<const char*>(record + 10), rdlength);
    zone.negative_soa = static_cast<uint32_t>(t.rdata_.size());
    appendRecord(t.rdata_, wire::type::SOA, negative_ttl, soa_rdata);
    zone.negative_soa_length = static_cast<uint16_t>(t.rdata_.size() - zone.negative_soa);
  }
  for (const Node& n : t.nodes_) {
    if (n.flags & Node::kDelegation) t.zones_[n.zone].has_delegations = true;
    if (n.flags & Node::kWildcard) t.zones_[n.zone].has_wildcards = true;
  }

  // Pass 4: additional data, so the query path only copies: for NS, MX and
  // SRV RRsets, the A/AAAA RRsets of targets inside the same zone (glue at
  // delegations, server addresses at the apex; RFC 1035 3.3.9, RFC 2782).
  std::vector<uint32_t> links;
  for (const Node& node : t.nodes_) {
    for (uint32_t r = node.first_rrset; r < node.first_rrset + node.rrset_count; ++r) {
      RRset& set = t.rrsets_[r];
      if (set.count == 0 || !hasAdditionalTargets(set.type)) continue;
      links.clear();
      const uint8_t* p = t.rdata_.data() + set.data;
      const uint8_t* end = p + set.data_length;
      for (; p < end; p += 10 + wire::readU16(p + 8)) {
        const std::string target = additionalTarget(set.type, p + 10, wire::readU16(p + 8));
        addressRRsetsOf(t, node.zone, zone_names_[node.zone], target, set.type == wire::type::NS,
                        links);
      }
      set.additional = static_cast<uint32_t>(t.additional_.size());
      set.additional_count = static_cast<uint16_t>(links.size());
      t.additional_.insert(t.additional_.end(), links.begin(), links.end());
    }
  }
  return table;
}

}  // namespace meridian::zones
