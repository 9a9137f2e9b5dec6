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
  c.cookies_client_only.add(v++);
  c.cookies_valid.add(v++);
  c.cookies_stale.add(v++);
  c.cookies_bad.add(v++);
  for (server::Counter* rrl :
       {&c.rrl_limited_positive, &c.rrl_limited_nxdomain, &c.rrl_limited_referral,
        &c.rrl_limited_error, &c.rrl_slipped_positive, &c.rrl_slipped_nxdomain,
        &c.rrl_slipped_referral, &c.rrl_slipped_error, &c.rrl_dropped_positive,
        &c.rrl_dropped_nxdomain, &c.rrl_dropped_referral, &c.rrl_dropped_error}) {
    rrl->add(v++);
  }
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

// The lifted-filter counters (shed load, outlier ejection), added after
// the transport ones and filled after them for the same reason.
void fillFilters(server::DnsCounters& c, uint64_t& v) {
  c.steered_shed_ignored.add(v++);
  c.steered_ejection_ignored.add(v++);
}

// Captured from server/metrics.cc before the change, for the values above
// (since then: BADCOOKIE, the cookie and the RRL counters, and the transport
// counters in their places).
const char* kDnsSection = R"(# HELP meridian_dns_queries_total DNS queries received, by transport.
# TYPE meridian_dns_queries_total counter
meridian_dns_queries_total{transport="udp"} 393
meridian_dns_queries_total{transport="tcp"} 395
# HELP meridian_dns_responses_total DNS responses sent, by RCODE.
# TYPE meridian_dns_responses_total counter
meridian_dns_responses_total{rcode="NOERROR"} 397
meridian_dns_responses_total{rcode="FORMERR"} 399
meridian_dns_responses_total{rcode="SERVFAIL"} 401
meridian_dns_responses_total{rcode="NXDOMAIN"} 403
meridian_dns_responses_total{rcode="NOTIMP"} 405
meridian_dns_responses_total{rcode="REFUSED"} 407
meridian_dns_responses_total{rcode="NOTAUTH"} 415
meridian_dns_responses_total{rcode="BADVERS"} 429
meridian_dns_responses_total{rcode="BADCOOKIE"} 443
# HELP meridian_dns_truncated_total UDP responses sent with TC set.
# TYPE meridian_dns_truncated_total counter
meridian_dns_truncated_total 445
# HELP meridian_dns_dropped_total Packets not answered: shorter than a header, QR set, or lost on send.
# TYPE meridian_dns_dropped_total counter
meridian_dns_dropped_total 447
# HELP meridian_dns_send_errors_total UDP replies the kernel refused to send (source port 0: EINVAL, a firewall: EPERM); each is also counted as dropped, and the rest of its batch is sent.
# TYPE meridian_dns_send_errors_total counter
meridian_dns_send_errors_total 899
# HELP meridian_dns_ecs_queries_total Queries with a valid ECS option.
# TYPE meridian_dns_ecs_queries_total counter
meridian_dns_ecs_queries_total 449
# HELP meridian_dns_referrals_total Referrals to delegated zones.
# TYPE meridian_dns_referrals_total counter
meridian_dns_referrals_total 451
# HELP meridian_tcp_connections_total TCP connections accepted.
# TYPE meridian_tcp_connections_total counter
meridian_tcp_connections_total 465
# HELP meridian_tcp_rejected_total TCP connections refused at the cap.
# TYPE meridian_tcp_rejected_total counter
meridian_tcp_rejected_total 467
# HELP meridian_tcp_evicted_total TCP connections closed to make room at --tcp-max-connections (the one that had waited longest for a query).
# TYPE meridian_tcp_evicted_total counter
meridian_tcp_evicted_total 901
# HELP meridian_tcp_client_refused_total TCP connections refused because their address held --tcp-max-per-client.
# TYPE meridian_tcp_client_refused_total counter
meridian_tcp_client_refused_total 903
# HELP meridian_tcp_idle_closed_total TCP connections closed when idle.
# TYPE meridian_tcp_idle_closed_total counter
meridian_tcp_idle_closed_total 469
# HELP meridian_tcp_io_timeout_total TCP connections closed when a query did not arrive whole (read) or a reply was not taken (write) within --tcp-io-timeout-ms.
# TYPE meridian_tcp_io_timeout_total counter
meridian_tcp_io_timeout_total{direction="read"} 905
meridian_tcp_io_timeout_total{direction="write"} 907
# HELP meridian_steered_answers_total Answers chosen by a steering policy.
# TYPE meridian_steered_answers_total counter
meridian_steered_answers_total 453
# HELP meridian_steered_all_down_total Steered answers with every candidate down, by when_all_down action.
# TYPE meridian_steered_all_down_total counter
meridian_steered_all_down_total{action="all"} 455
meridian_steered_all_down_total{action="nodata"} 457
meridian_steered_all_down_total{action="servfail"} 459
meridian_steered_all_down_total{action="fallback"} 915
# HELP meridian_steered_panic_total Steered answers in panic mode (too many endpoints down: health ignored).
# TYPE meridian_steered_panic_total counter
meridian_steered_panic_total 461
# HELP meridian_steered_drained_only_total Steered answers that fell back to drained endpoints.
# TYPE meridian_steered_drained_only_total counter
meridian_steered_drained_only_total 463
# HELP meridian_dns_cookies_total Queries with a DNS COOKIE option, by what their server cookie was.
# TYPE meridian_dns_cookies_total counter
meridian_dns_cookies_total{state="client_only"} 471
meridian_dns_cookies_total{state="valid"} 473
meridian_dns_cookies_total{state="stale"} 475
meridian_dns_cookies_total{state="bad"} 477
# HELP meridian_rrl_limited_total UDP responses over the rate limit (slipped + dropped), by RRL class.
# TYPE meridian_rrl_limited_total counter
meridian_rrl_limited_total{class="positive"} 479
meridian_rrl_limited_total{class="nxdomain"} 481
meridian_rrl_limited_total{class="referral"} 483
meridian_rrl_limited_total{class="error"} 485
# HELP meridian_rrl_slipped_total Rate-limited responses sent truncated (TC) or as BADCOOKIE, by RRL class.
# TYPE meridian_rrl_slipped_total counter
meridian_rrl_slipped_total{class="positive"} 487
meridian_rrl_slipped_total{class="nxdomain"} 489
meridian_rrl_slipped_total{class="referral"} 491
meridian_rrl_slipped_total{class="error"} 493
# HELP meridian_rrl_dropped_total Rate-limited responses not sent, by RRL class.
# TYPE meridian_rrl_dropped_total counter
meridian_rrl_dropped_total{class="positive"} 495
meridian_rrl_dropped_total{class="nxdomain"} 497
meridian_rrl_dropped_total{class="referral"} 499
meridian_rrl_dropped_total{class="error"} 501
# HELP meridian_steered_filter_lifted_total Steered answers for which a filter was lifted because it left no endpoint.
# TYPE meridian_steered_filter_lifted_total counter
meridian_steered_filter_lifted_total{filter="shed_load"} 920
meridian_steered_filter_lifted_total{filter="outlier_ejection"} 922
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
  // Added after the transport counters: when_all_down = fallback.
  a.steered_all_down_fallback.add(v++);
  b.steered_all_down_fallback.add(v++);
  fillFilters(a, v);
  fillFilters(b, v);
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
