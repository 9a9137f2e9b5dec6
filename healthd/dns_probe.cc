#include "healthd/dns_probe.h"

#include <algorithm>
#include <memory>
#include <vector>

// After the standard headers: ldns.h defines true/false macros for C.
// ldns's common.h defines bool/true/false as macros in C++ unless
// <stdbool.h> came first; those macros break later standard headers.
#include <stdbool.h>

#include <ldns/ldns.h>

#include "healthd/socket_address.h"
#include "wire/constants.h"
#include "zones/zone_io.h"

namespace meridian::healthd {

namespace {

struct PktDeleter {
  void operator()(ldns_pkt* p) const { ldns_pkt_free(p); }
};
using PktPtr = std::unique_ptr<ldns_pkt, PktDeleter>;
struct RrDeleter {
  void operator()(ldns_rr* r) const { ldns_rr_free(r); }
};
using RrPtr = std::unique_ptr<ldns_rr, RrDeleter>;
struct BufferDeleter {
  void operator()(ldns_buffer* b) const { ldns_buffer_free(b); }
};

// Rdata in canonical wire form (names lowercased, RFC 4034 6.2) so that
// "NS1.Example.COM." in a response matches "ns1.example.com." in the spec.
std::string canonicalRdata(const ldns_rr* rr) {
  RrPtr copy(ldns_rr_clone(rr));
  ldns_rr2canonical(copy.get());
  std::unique_ptr<ldns_buffer, BufferDeleter> buffer(ldns_buffer_new(512));
  if (ldns_rr_rdata2buffer_wire(buffer.get(), copy.get()) != LDNS_STATUS_OK) return {};
  return std::string(reinterpret_cast<const char*>(ldns_buffer_begin(buffer.get())),
                     ldns_buffer_position(buffer.get()));
}

std::string rcodeText(int rcode) {
  const ldns_lookup_table* entry = ldns_lookup_by_id(ldns_rcodes, rcode);
  return entry ? entry->name : "RCODE" + std::to_string(rcode);
}

}  // namespace

// One query in flight; freed by its close callback (see TcpProbe::Attempt).
struct DnsProbe::Attempt {
  uv_udp_t udp;
  DnsProbe* owner;
  uint16_t id;
  uint8_t buffer[4096];
};

DnsProbe::DnsProbe(ProbeEnv& env, const zones::CheckSpec& spec, const std::string& address,
                   Callback callback)
    : Probe(env, spec, std::move(callback)),
      address_(address),
      target_(socketAddress(address, spec.port)) {
  try {
    qtype_ = zones::typeFromText(spec.query_type);
  } catch (const std::exception& e) {
    setup_error_ = e.what();
    return;
  }
  expect_rcode_ = zones::rcodeFromText(spec.expect_rcode);
  ldns_rdf* qname = ldns_dname_new_frm_str(spec.query_name.c_str());
  if (!qname) {
    setup_error_ = "invalid query_name " + spec.query_name;
    return;
  }
  // RD clear: Meridian checks authoritative servers. EDNS with a 1232-byte
  // buffer keeps typical answers from being truncated.
  PktPtr pkt(ldns_pkt_query_new(qname, static_cast<ldns_rr_type>(qtype_), LDNS_RR_CLASS_IN, 0));
  ldns_pkt_set_edns_udp_size(pkt.get(), 1232);
  uint8_t* wire = nullptr;
  size_t size = 0;
  if (ldns_pkt2wire(&wire, pkt.get(), &size) != LDNS_STATUS_OK) {
    setup_error_ = "cannot encode the query";
    return;
  }
  query_.assign(wire, wire + size);
  free(wire);
  if (spec.expect_answer) {
    const std::string line =
        spec.query_name + " 0 IN " + spec.query_type + " " + *spec.expect_answer;
    ldns_rr* rr = nullptr;
    if (ldns_rr_new_frm_str(&rr, line.c_str(), 0, nullptr, nullptr) != LDNS_STATUS_OK) {
      setup_error_ = "cannot parse expect_answer";
      return;
    }
    RrPtr owned(rr);
    expected_rdata_ = canonicalRdata(rr);
  }
}

DnsProbe::~DnsProbe() {
  stop();
}

namespace {
template <typename A>
void closeUdpAttempt(A* attempt) {
  auto* handle = reinterpret_cast<uv_handle_t*>(&attempt->udp);
  if (uv_is_closing(handle)) return;
  uv_udp_recv_stop(&attempt->udp);
  uv_close(handle, [](uv_handle_t* h) { delete static_cast<A*>(h->data); });
}
}  // namespace

void DnsProbe::send() {
  if (!setup_error_.empty()) {
    finish({false, setup_error_, {}});
    return;
  }
  if (!target_) {
    finish({false, "endpoint address \"" + address_ + "\" is not an IP address", {}});
    return;
  }
  auto* attempt = new Attempt{};
  attempt->owner = this;
  attempt->id = static_cast<uint16_t>((*env().rng)());
  const auto* target = reinterpret_cast<const sockaddr*>(&*target_);
  uv_udp_init_ex(loop(), &attempt->udp, target->sa_family);
  attempt->udp.data = attempt;
  query_[0] = static_cast<uint8_t>(attempt->id >> 8);
  query_[1] = static_cast<uint8_t>(attempt->id);
  uv_buf_t buf =
      uv_buf_init(reinterpret_cast<char*>(query_.data()), static_cast<unsigned>(query_.size()));
  // A connected socket only accepts datagrams from the target and hears its
  // ICMP port-unreachable, so a closed port fails at once as "refused".
  int rc = uv_udp_connect(&attempt->udp, target);
  if (rc == 0) {
    rc = uv_udp_recv_start(
        &attempt->udp,
        [](uv_handle_t* h, size_t, uv_buf_t* out) {
          auto* a = static_cast<Attempt*>(h->data);
          *out = uv_buf_init(reinterpret_cast<char*>(a->buffer), sizeof a->buffer);
        },
        onRecv);
  }
  if (rc == 0) {
    const int sent = uv_udp_try_send(&attempt->udp, &buf, 1, nullptr);
    rc = sent < 0 ? sent : 0;
  }
  if (rc != 0) {
    attempt->owner = nullptr;
    closeUdpAttempt(attempt);
    finish({false, std::string("udp: ") + uv_strerror(rc), {}});
    return;
  }
  attempt_ = attempt;
}

void DnsProbe::abort() {
  if (!attempt_) return;
  attempt_->owner = nullptr;
  closeUdpAttempt(attempt_);
  attempt_ = nullptr;
}

void DnsProbe::onRecv(uv_udp_t* udp, ssize_t nread, const uv_buf_t*, const sockaddr*,
                      unsigned flags) {
  auto* attempt = static_cast<Attempt*>(udp->data);
  DnsProbe* owner = attempt ? attempt->owner : nullptr;
  if (!owner || nread == 0) return;
  std::optional<ProbeResult> result;
  if (nread < 0) {
    result = ProbeResult{false, std::string("udp: ") + uv_strerror(static_cast<int>(nread)), {}};
  } else if (flags & UV_UDP_PARTIAL) {
    result = ProbeResult{false, "response larger than 4096 octets", {}};
  } else {
    result = owner->judge(attempt->buffer, static_cast<size_t>(nread), attempt->id);
    if (!result) return;  // not our answer; keep waiting until the timeout
  }
  if (result->ok) result->rtt_ms = owner->elapsedMs();
  owner->attempt_ = nullptr;
  attempt->owner = nullptr;
  closeUdpAttempt(attempt);
  owner->finish(std::move(*result));
}

std::optional<ProbeResult> DnsProbe::judge(const uint8_t* data, size_t length, uint16_t id) const {
  // The verdict reads the header, the question and the answer section only,
  // so the authority and additional counts are zeroed before ldns parses the
  // datagram: what follows the answers is never read. That also keeps clear
  // of ldns 1.8.3's wire2pkt, which leaks the first TSIG record when an
  // additional section carries two (it overwrites the packet's one slot),
  // a leak any endpoint could repeat on every probe.
  std::vector<uint8_t> datagram(data, data + length);
  // NSCOUNT and ARCOUNT are the header's last four octets (RFC 1035 4.1.1).
  if (datagram.size() >= wire::kHeaderSize) {
    std::fill(datagram.begin() + 8, datagram.begin() + wire::kHeaderSize, uint8_t{0});
  }
  ldns_pkt* raw = nullptr;
  if (ldns_wire2pkt(&raw, datagram.data(), datagram.size()) != LDNS_STATUS_OK) {
    return ProbeResult{false, "malformed DNS response", {}};
  }
  PktPtr pkt(raw);
  if (ldns_pkt_id(pkt.get()) != id || !ldns_pkt_qr(pkt.get())) return std::nullopt;
  const ldns_rr_list* question = ldns_pkt_question(pkt.get());
  if (!question || ldns_rr_list_rr_count(question) != 1) return std::nullopt;
  const ldns_rr* q = ldns_rr_list_rr(question, 0);
  ldns_rdf* want = ldns_dname_new_frm_str(spec().query_name.c_str());
  const bool same_name = want && ldns_dname_compare(ldns_rr_owner(q), want) == 0;
  ldns_rdf_deep_free(want);
  if (!same_name || ldns_rr_get_type(q) != qtype_) return std::nullopt;

  const int rcode = ldns_pkt_get_rcode(pkt.get());
  if (rcode != expect_rcode_) {
    return ProbeResult{
        false, "rcode " + rcodeText(rcode) + " (expected " + spec().expect_rcode + ")", {}};
  }
  if (expected_rdata_.empty()) return ProbeResult{true, {}, {}};
  if (ldns_pkt_tc(pkt.get())) return ProbeResult{false, "response truncated (TC)", {}};
  const ldns_rr_list* answer = ldns_pkt_answer(pkt.get());
  const size_t count = answer ? ldns_rr_list_rr_count(answer) : 0;
  for (size_t i = 0; i < count; ++i) {
    const ldns_rr* rr = ldns_rr_list_rr(answer, i);
    if (ldns_rr_get_type(rr) == qtype_ && canonicalRdata(rr) == expected_rdata_) {
      return ProbeResult{true, {}, {}};
    }
  }
  return ProbeResult{false,
                     "answer has no " + spec().query_type + " " + *spec().expect_answer + " (" +
                         std::to_string(count) + " answer records)",
                     {}};
}

}  // namespace meridian::healthd
