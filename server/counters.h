#pragma once
// Per-loop DNS counters. Each loop thread is the only writer of its own
// counters, so an increment is a relaxed load and store (two plain moves, no
// locked instruction); other threads read them relaxed to aggregate.
//
// MERIDIAN_DNS_COUNTERS is the one list of them: DnsCounters, DnsTotals and
// the /metrics text (server/metrics.cc) are all generated from it, so adding
// a counter is one line here.

#include <atomic>
#include <cstdint>

#include "wire/constants.h"

namespace meridian::server {

// One line per counter, in /metrics order:
//   SCALAR(member, metric name, label, help)   one Counter
//   PER_RCODE(member, metric name, label name, help)   one per (extended) RCODE
// Consecutive counters with the same metric name are samples of one metric
// (distinguished by `label`, e.g. transport="udp"); the first one's help is
// printed. An empty label makes an unlabelled sample.
#define MERIDIAN_DNS_COUNTERS(SCALAR, PER_RCODE)                                                 \
  SCALAR(queries_udp, "meridian_dns_queries_total", "transport=\"udp\"",                         \
         "DNS queries received, by transport.")                                                  \
  SCALAR(queries_tcp, "meridian_dns_queries_total", "transport=\"tcp\"",                         \
         "DNS queries received, by transport.")                                                  \
  PER_RCODE(rcode, "meridian_dns_responses_total", "rcode", "DNS responses sent, by RCODE.")     \
  SCALAR(truncated, "meridian_dns_truncated_total", "", "UDP responses sent with TC set.")       \
  SCALAR(dropped, "meridian_dns_dropped_total", "",                                              \
         "Packets not answered: shorter than a header, QR set, or lost on send.")                \
  SCALAR(send_errors, "meridian_dns_send_errors_total", "",                                      \
         "UDP replies the kernel refused to send (source port 0: EINVAL, a firewall: EPERM); "   \
         "each is also counted as dropped, and the rest of its batch is sent.")                  \
  SCALAR(ecs_queries, "meridian_dns_ecs_queries_total", "", "Queries with a valid ECS option.")  \
  SCALAR(referrals, "meridian_dns_referrals_total", "", "Referrals to delegated zones.")         \
  SCALAR(tcp_connections, "meridian_tcp_connections_total", "", "TCP connections accepted.")     \
  SCALAR(tcp_rejected, "meridian_tcp_rejected_total", "", "TCP connections refused at the cap.") \
  SCALAR(tcp_evicted, "meridian_tcp_evicted_total", "",                                          \
         "TCP connections closed to make room at --tcp-max-connections (the one that had waited " \
         "longest for a query).")                                                                \
  SCALAR(tcp_client_refused, "meridian_tcp_client_refused_total", "",                            \
         "TCP connections refused because their address held --tcp-max-per-client.")            \
  SCALAR(tcp_idle_closed, "meridian_tcp_idle_closed_total", "",                                  \
         "TCP connections closed when idle.")                                                    \
  SCALAR(tcp_read_timeouts, "meridian_tcp_io_timeout_total", "direction=\"read\"",               \
         "TCP connections closed when a query did not arrive whole (read) or a reply was not "   \
         "taken (write) within --tcp-io-timeout-ms.")                                            \
  SCALAR(tcp_write_timeouts, "meridian_tcp_io_timeout_total", "direction=\"write\"",             \
         "TCP connections closed when a query did not arrive whole (read) or a reply was not "   \
         "taken (write) within --tcp-io-timeout-ms.")                                            \
  SCALAR(steered, "meridian_steered_answers_total", "", "Answers chosen by a steering policy.")  \
  SCALAR(steered_fail_open, "meridian_steered_all_down_total", "action=\"all\"",                 \
         "Steered answers with every candidate down, by when_all_down action.")                  \
  SCALAR(steered_all_down_nodata, "meridian_steered_all_down_total", "action=\"nodata\"",        \
         "Steered answers with every candidate down, by when_all_down action.")                  \
  SCALAR(steered_all_down_servfail, "meridian_steered_all_down_total", "action=\"servfail\"",    \
         "Steered answers with every candidate down, by when_all_down action.")                  \
  SCALAR(steered_all_down_fallback, "meridian_steered_all_down_total", "action=\"fallback\"",   \
         "Steered answers with every candidate down, by when_all_down action.")                  \
  SCALAR(steered_panic, "meridian_steered_panic_total", "",                                      \
         "Steered answers in panic mode (too many endpoints down: health ignored).")             \
  SCALAR(steered_drained, "meridian_steered_drained_only_total", "",                             \
         "Steered answers that fell back to drained endpoints.")                                 \
  SCALAR(cookies_client_only, "meridian_dns_cookies_total", "state=\"client_only\"",             \
         "Queries with a DNS COOKIE option, by what their server cookie was.")                   \
  SCALAR(cookies_valid, "meridian_dns_cookies_total", "state=\"valid\"",                         \
         "Queries with a DNS COOKIE option, by what their server cookie was.")                   \
  SCALAR(cookies_stale, "meridian_dns_cookies_total", "state=\"stale\"",                         \
         "Queries with a DNS COOKIE option, by what their server cookie was.")                   \
  SCALAR(cookies_bad, "meridian_dns_cookies_total", "state=\"bad\"",                             \
         "Queries with a DNS COOKIE option, by what their server cookie was.")                   \
  SCALAR(rrl_limited_positive, "meridian_rrl_limited_total", "class=\"positive\"",               \
         "UDP responses over the rate limit (slipped + dropped), by RRL class.")                 \
  SCALAR(rrl_limited_nxdomain, "meridian_rrl_limited_total", "class=\"nxdomain\"",               \
         "UDP responses over the rate limit (slipped + dropped), by RRL class.")                 \
  SCALAR(rrl_limited_referral, "meridian_rrl_limited_total", "class=\"referral\"",               \
         "UDP responses over the rate limit (slipped + dropped), by RRL class.")                 \
  SCALAR(rrl_limited_error, "meridian_rrl_limited_total", "class=\"error\"",                     \
         "UDP responses over the rate limit (slipped + dropped), by RRL class.")                 \
  SCALAR(rrl_slipped_positive, "meridian_rrl_slipped_total", "class=\"positive\"",               \
         "Rate-limited responses sent truncated (TC) or as BADCOOKIE, by RRL class.")            \
  SCALAR(rrl_slipped_nxdomain, "meridian_rrl_slipped_total", "class=\"nxdomain\"",               \
         "Rate-limited responses sent truncated (TC) or as BADCOOKIE, by RRL class.")            \
  SCALAR(rrl_slipped_referral, "meridian_rrl_slipped_total", "class=\"referral\"",               \
         "Rate-limited responses sent truncated (TC) or as BADCOOKIE, by RRL class.")            \
  SCALAR(rrl_slipped_error, "meridian_rrl_slipped_total", "class=\"error\"",                     \
         "Rate-limited responses sent truncated (TC) or as BADCOOKIE, by RRL class.")            \
  SCALAR(rrl_dropped_positive, "meridian_rrl_dropped_total", "class=\"positive\"",               \
         "Rate-limited responses not sent, by RRL class.")                                       \
  SCALAR(rrl_dropped_nxdomain, "meridian_rrl_dropped_total", "class=\"nxdomain\"",               \
         "Rate-limited responses not sent, by RRL class.")                                       \
  SCALAR(rrl_dropped_referral, "meridian_rrl_dropped_total", "class=\"referral\"",               \
         "Rate-limited responses not sent, by RRL class.")                                       \
  SCALAR(rrl_dropped_error, "meridian_rrl_dropped_total", "class=\"error\"",                     \
         "Rate-limited responses not sent, by RRL class.")                                       \
  SCALAR(steered_shed_ignored, "meridian_steered_filter_lifted_total", "filter=\"shed_load\"",    \
         "Steered answers for which a filter was lifted because it left no endpoint.")           \
  SCALAR(steered_ejection_ignored, "meridian_steered_filter_lifted_total",                       \
         "filter=\"outlier_ejection\"",                                                          \
         "Steered answers for which a filter was lifted because it left no endpoint.")

class Counter {
 public:
  void add(uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

/// Answers per (steered name, type, region): slots numbered for the life of
/// the process by server/region_answers.h, so a reload never moves a count.
/// 4096 slots (32 KiB per loop); a pair past the last is not counted.
inline constexpr uint16_t kAnswerSlots = 4096;
inline constexpr uint16_t kNoAnswerSlot = 0xffff;

/// One loop's counters; written by that loop only (query path: no locks, no
/// allocation), read by any thread.
struct DnsCounters {
#define MERIDIAN_COUNTER_MEMBER(member, ...) Counter member;
#define MERIDIAN_RCODE_MEMBER(member, ...) Counter member[wire::rcode::kCount];
  MERIDIAN_DNS_COUNTERS(MERIDIAN_COUNTER_MEMBER, MERIDIAN_RCODE_MEMBER)
#undef MERIDIAN_COUNTER_MEMBER
#undef MERIDIAN_RCODE_MEMBER
  // Addresses handed out per answer slot (a two-address answer spanning two
  // regions counts once in each); summed by DnsService::regionAnswerTotals.
  Counter region_answers[kAnswerSlots];
};

/// Plain totals, summed over every loop's DnsCounters.
struct DnsTotals {
#define MERIDIAN_TOTAL_MEMBER(member, ...) uint64_t member = 0;
#define MERIDIAN_RCODE_TOTAL(member, ...) uint64_t member[wire::rcode::kCount] = {};
  MERIDIAN_DNS_COUNTERS(MERIDIAN_TOTAL_MEMBER, MERIDIAN_RCODE_TOTAL)
#undef MERIDIAN_TOTAL_MEMBER
#undef MERIDIAN_RCODE_TOTAL

  void add(const DnsCounters& c) {
#define MERIDIAN_ADD_SCALAR(member, ...) member += c.member.get();
#define MERIDIAN_ADD_RCODE(member, ...) \
  for (int i = 0; i < wire::rcode::kCount; ++i) member[i] += c.member[i].get();
    MERIDIAN_DNS_COUNTERS(MERIDIAN_ADD_SCALAR, MERIDIAN_ADD_RCODE)
#undef MERIDIAN_ADD_SCALAR
#undef MERIDIAN_ADD_RCODE
  }
};

}  // namespace meridian::server
