// The DNS counters in /metrics: the text for fixed counter values, pinned to
// what meridiand printed before the counter list became one table
// (MERIDIAN_DNS_COUNTERS), and DnsTotals::add summing every counter.

#include <doctest/doctest.h>

#include <string>

#include "server/counters.h"
#include "server/metrics.h"

using namespace meridian;

namespace {

// Distinct values per counter and per loop, so a counter printed under the
// wrong name, or left out of DnsTotals::add, changes the text.
void fill(server::DnsCounters& c, uint64_t& v) {
  c.queries_udp.add(v++);
  c.queries_tcp.add(v++);
  for (auto& r : c.rcode) r.add(v++);
  c.truncated.add(v++);
  c.dropped.add(v++);
  c.ecs_queries.add(v++);
  c.referrals.add(v++);
  c.steered.add(v++);
  c.steered_fail_open.add(v++);
  c.steered_all_down_nodata.add(v++);
  c.steered_all_down_servfail.add(v++);
  c.steered_panic.add(v++);
  c.steered_drained.add(v++);
  c.tcp_connections.add(v++);
  c.tcp_rejected.add(v++);
  c.tcp_idle_closed.add(v++);
}

// Counters added after the capture below, filled after both loops' others
// so that the captured values stay as they were.
void fillTransport(server::DnsCounters& c, uint64_t& v) {
  c.send_errors.add(v++);
  c.tcp_evicted.add(v++);
  c.tcp_client_refused.add(v++);
  c.tcp_read_timeouts.add(v++);
  c.tcp_write_timeouts.add(v++);
}

// Captured from server/metrics.cc before the change, for the values above
// (plus the transport counters added since, in their places).
const char* kDnsSection = R"(# HELP meridian_dns_queries_total DNS queries received, by transport.
# TYPE meridian_dns_queries_total counter
meridian_dns_queries_total{transport="udp"} 232
meridian_dns_queries_total{transport="tcp"} 234
# HELP meridian_dns_responses_total DNS responses sent, by RCODE.
# TYPE meridian_dns_responses_total counter
meridian_dns_responses_total{rcode="NOERROR"} 236
meridian_dns_responses_total{rcode="FORMERR"} 238
meridian_dns_responses_total{rcode="SERVFAIL"} 240
meridian_dns_responses_total{rcode="NXDOMAIN"} 242
meridian_dns_responses_total{rcode="NOTIMP"} 244
meridian_dns_responses_total{rcode="REFUSED"} 246
meridian_dns_responses_total{rcode="NOTAUTH"} 254
meridian_dns_responses_total{rcode="BADVERS"} 268
# HELP meridian_dns_truncated_total UDP responses sent with TC set.
# TYPE meridian_dns_truncated_total counter
meridian_dns_truncated_total 270
# HELP meridian_dns_dropped_total Packets not answered: shorter than a header, QR set, or lost on send.
# TYPE meridian_dns_dropped_total counter
meridian_dns_dropped_total 272
# HELP meridian_dns_send_errors_total UDP replies the kernel refused to send (source port 0: EINVAL, a firewall: EPERM); each is also counted as dropped, and the rest of its batch is sent.
# TYPE meridian_dns_send_errors_total counter
meridian_dns_send_errors_total 531
# HELP meridian_dns_ecs_queries_total Queries with a valid ECS option.
# TYPE meridian_dns_ecs_queries_total counter
meridian_dns_ecs_queries_total 274
# HELP meridian_dns_referrals_total Referrals to delegated zones.
# TYPE meridian_dns_referrals_total counter
meridian_dns_referrals_total 276
# HELP meridian_tcp_connections_total TCP connections accepted.
# TYPE meridian_tcp_connections_total counter
meridian_tcp_connections_total 290
# HELP meridian_tcp_rejected_total TCP connections refused at the cap.
# TYPE meridian_tcp_rejected_total counter
meridian_tcp_rejected_total 292
# HELP meridian_tcp_evicted_total TCP connections closed to make room at --tcp-max-connections (the one that had waited longest for a query).
# TYPE meridian_tcp_evicted_total counter
meridian_tcp_evicted_total 533
# HELP meridian_tcp_client_refused_total TCP connections refused because their address held --tcp-max-per-client.
# TYPE meridian_tcp_client_refused_total counter
meridian_tcp_client_refused_total 535
# HELP meridian_tcp_idle_closed_total TCP connections closed when idle.
# TYPE meridian_tcp_idle_closed_total counter
meridian_tcp_idle_closed_total 294
# HELP meridian_tcp_io_timeout_total TCP connections closed when a query did not arrive whole (read) or a reply was not taken (write) within --tcp-io-timeout-ms.
# TYPE meridian_tcp_io_timeout_total counter
meridian_tcp_io_timeout_total{direction="read"} 537
meridian_tcp_io_timeout_total{direction="write"} 539
# HELP meridian_steered_answers_total Answers chosen by a steering policy.
# TYPE meridian_steered_answers_total counter
meridian_steered_answers_total 278
# HELP meridian_steered_all_down_total Steered answers with every candidate down, by when_all_down action.
# TYPE meridian_steered_all_down_total counter
meridian_steered_all_down_total{action="all"} 280
meridian_steered_all_down_total{action="nodata"} 282
meridian_steered_all_down_total{action="servfail"} 284
# HELP meridian_steered_panic_total Steered answers in panic mode (too many endpoints down: health ignored).
# TYPE meridian_steered_panic_total counter
meridian_steered_panic_total 286
# HELP meridian_steered_drained_only_total Steered answers that fell back to drained endpoints.
# TYPE meridian_steered_drained_only_total counter
meridian_steered_drained_only_total 288
)";

}  // namespace

TEST_CASE("metrics: the DNS counters print exactly as before, summed over loops") {
  server::DnsCounters a, b;
  uint64_t v = 1;
  fill(a, v);
  v *= 7;
  fill(b, v);
  fillTransport(a, v);
  fillTransport(b, v);
  server::DnsTotals totals;
  totals.add(a);
  totals.add(b);
  const std::string text = server::prometheusText(totals, server::ReloadStats{}, 0);
  REQUIRE(text.size() > std::string(kDnsSection).size());
  CHECK(text.substr(0, std::string(kDnsSection).size()) == kDnsSection);
  CHECK(text.find("# HELP meridian_health_data_state") == std::string(kDnsSection).size());
}

TEST_CASE("metrics: every counter in the table has a HELP line once and a sample") {
  server::DnsTotals totals;
  const std::string text = server::prometheusText(totals, server::ReloadStats{}, 0);
#define CHECK_SCALAR(member, metric_name, label, help)                                        \
  CHECK(text.find(std::string("# HELP ") + metric_name + " " + help + "\n") != std::string::npos); \
  CHECK(text.find(std::string("# HELP ") + metric_name + " ") ==                               \
        text.rfind(std::string("# HELP ") + metric_name + " "));                               \
  CHECK(text.find(std::string(metric_name) + (*label ? std::string("{") + label + "}" : "") +   \
                  " 0\n") != std::string::npos);
#define CHECK_RCODE(member, metric_name, label_name, help) \
  CHECK(text.find(std::string(metric_name) + "{" + label_name + "=\"NXDOMAIN\"} 0\n") !=   \
        std::string::npos);
  MERIDIAN_DNS_COUNTERS(CHECK_SCALAR, CHECK_RCODE)
#undef CHECK_SCALAR
#undef CHECK_RCODE
}
