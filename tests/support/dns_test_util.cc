#include "tests/support/dns_test_util.h"

// ldns's common.h defines bool/true/false as macros in C++ unless
// <stdbool.h> came first; those macros break later standard headers.
#include <stdbool.h>

#include <ldns/ldns.h>
#include <stdlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace meridian::test {

namespace {

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

std::vector<std::string> section(ldns_rr_list* list) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < ldns_rr_list_rr_count(list); ++i) {
    ldns_rr* rr = ldns_rr_list_rr(list, i);
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_OPT) continue;
    char* text = ldns_rr2str(rr);
    std::string line(text);
    free(text);
    // ldns separates fields with tabs and ends with a newline; tests compare
    // single-spaced text.
    for (char& c : line) {
      if (c == '\t') c = ' ';
    }
    while (!line.empty() && line.back() == '\n') line.pop_back();
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

std::vector<uint8_t> makeQuery(const std::string& name, const QueryOptions& o) {
  std::vector<uint8_t> q;
  put16(q, o.id);
  put16(q, o.rd ? 0x0100 : 0);
  put16(q, 1);
  put16(q, 0);
  put16(q, 0);
  put16(q, o.edns ? 1 : 0);
  // Labels exactly as written, so tests can send mixed case.
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.push_back(0);
  put16(q, o.qtype);
  put16(q, o.qclass);
  if (o.edns) {
    q.push_back(0);
    put16(q, 41);
    put16(q, o.udp_payload);
    q.push_back(0);
    q.push_back(o.edns_version);
    put16(q, o.dnssec_ok ? 0x8000 : 0);
    std::vector<uint8_t> rdata;
    if (o.ecs) {
      put16(rdata, 8);
      put16(rdata, static_cast<uint16_t>(4 + o.ecs_address.size()));
      put16(rdata, o.ecs_family);
      rdata.push_back(o.ecs_source);
      rdata.push_back(o.ecs_scope);
      rdata.insert(rdata.end(), o.ecs_address.begin(), o.ecs_address.end());
    }
    if (o.cookie) {
      put16(rdata, 10);
      put16(rdata, static_cast<uint16_t>(o.cookie->size()));
      rdata.insert(rdata.end(), o.cookie->begin(), o.cookie->end());
    }
    if (o.nsid) {
      put16(rdata, 3);
      put16(rdata, static_cast<uint16_t>(o.nsid->size()));
      rdata.insert(rdata.end(), o.nsid->begin(), o.nsid->end());
    }
    put16(q, static_cast<uint16_t>(rdata.size()));
    q.insert(q.end(), rdata.begin(), rdata.end());
  }
  return q;
}

Response decode(const uint8_t* data, size_t length) {
  Response r;
  ldns_pkt* pkt = nullptr;
  if (ldns_wire2pkt(&pkt, data, length) != LDNS_STATUS_OK) return r;
  r.ok = true;
  r.id = ldns_pkt_id(pkt);
  r.qr = ldns_pkt_qr(pkt);
  r.aa = ldns_pkt_aa(pkt);
  r.tc = ldns_pkt_tc(pkt);
  r.rd = ldns_pkt_rd(pkt);
  r.rcode = ldns_pkt_get_rcode(pkt);
  if (ldns_pkt_question(pkt) && ldns_rr_list_rr_count(ldns_pkt_question(pkt)) == 1) {
    ldns_rr* q = ldns_rr_list_rr(ldns_pkt_question(pkt), 0);
    char* owner = ldns_rdf2str(ldns_rr_owner(q));
    char* type = ldns_rr_type2str(ldns_rr_get_type(q));
    r.question = std::string(owner) + " " + type;
    free(owner);
    free(type);
  }
  r.answer = section(ldns_pkt_answer(pkt));
  r.authority = section(ldns_pkt_authority(pkt));
  r.additional = section(ldns_pkt_additional(pkt));
  // Walk the raw additional section for the OPT record and its options; ldns
  // keeps EDNS data but not the options in a convenient form.
  if (ldns_pkt_edns(pkt)) {
    r.has_opt = true;
    r.opt_payload = ldns_pkt_edns_udp_size(pkt);
    r.rcode = static_cast<uint16_t>((ldns_pkt_edns_extended_rcode(pkt) << 4) | r.rcode);
    ldns_rdf* data_rdf = ldns_pkt_edns_data(pkt);
    if (data_rdf) {
      const uint8_t* p = ldns_rdf_data(data_rdf);
      size_t n = ldns_rdf_size(data_rdf);
      size_t pos = 0;
      while (pos + 4 <= n) {
        const uint16_t code = static_cast<uint16_t>((p[pos] << 8) | p[pos + 1]);
        const uint16_t len = static_cast<uint16_t>((p[pos + 2] << 8) | p[pos + 3]);
        if (code == 8 && len >= 4 && pos + 4 + len <= n) {
          r.has_ecs = true;
          r.ecs_family = static_cast<uint16_t>((p[pos + 4] << 8) | p[pos + 5]);
          r.ecs_source = p[pos + 6];
          r.ecs_scope = p[pos + 7];
          r.ecs_address.assign(p + pos + 8, p + pos + 4 + len);
        }
        if (code == 10 && pos + 4 + len <= n) {
          r.has_cookie = true;
          r.cookie.assign(p + pos + 4, p + pos + 4 + len);
        }
        if (code == 3 && pos + 4 + len <= n) {
          r.has_nsid = true;
          r.nsid.assign(p + pos + 4, p + pos + 4 + len);
        }
        pos += 4u + len;
      }
    }
  }
  ldns_pkt_free(pkt);
  return r;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "meridian-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void writeFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  if (!out) throw std::runtime_error("cannot write " + path);
}

}  // namespace meridian::test
