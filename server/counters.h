#pragma once
// Per-loop DNS counters. Each loop thread is the only writer of its own
// counters, so an increment is a relaxed load and store (two plain moves, no
// locked instruction); other threads read them relaxed to aggregate.

#include <atomic>
#include <cstdint>

#include "wire/constants.h"

namespace meridian::server {

class Counter {
 public:
  void add(uint64_t n = 1) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

struct DnsCounters {
  Counter queries_udp;
  Counter queries_tcp;
  Counter rcode[wire::rcode::kCount];  // responses by (extended) RCODE
  Counter truncated;                  // UDP answers sent with TC
  Counter dropped;                    // packets not answered (QR set, < 12 octets, send failure)
  Counter ecs_queries;                // queries carrying a valid ECS option
  Counter referrals;
  Counter steered;                    // answers chosen by a steering policy
  Counter steered_fail_open;          // every candidate down, answered as if all were up
  Counter steered_all_down_nodata;    // every candidate down, when_all_down = nodata
  Counter steered_all_down_servfail;  // every candidate down, when_all_down = servfail
  Counter steered_panic;              // too many down: health ignored (panic threshold)
  Counter steered_drained;            // only drained endpoints were left to answer
  Counter tcp_connections;
  Counter tcp_rejected;               // connections refused at the cap
  Counter tcp_idle_closed;
};

/// Plain totals, summed over every loop's DnsCounters.
struct DnsTotals {
  uint64_t queries_udp = 0, queries_tcp = 0, rcode[wire::rcode::kCount] = {}, truncated = 0,
           dropped = 0, ecs_queries = 0, referrals = 0, steered = 0, steered_fail_open = 0,
           steered_all_down_nodata = 0, steered_all_down_servfail = 0, steered_panic = 0,
           steered_drained = 0,
           tcp_connections = 0, tcp_rejected = 0, tcp_idle_closed = 0;

  void add(const DnsCounters& c) {
    queries_udp += c.queries_udp.get();
    queries_tcp += c.queries_tcp.get();
    for (int i = 0; i < wire::rcode::kCount; ++i) rcode[i] += c.rcode[i].get();
    truncated += c.truncated.get();
    dropped += c.dropped.get();
    ecs_queries += c.ecs_queries.get();
    referrals += c.referrals.get();
    steered += c.steered.get();
    steered_fail_open += c.steered_fail_open.get();
    steered_all_down_nodata += c.steered_all_down_nodata.get();
    steered_all_down_servfail += c.steered_all_down_servfail.get();
    steered_panic += c.steered_panic.get();
    steered_drained += c.steered_drained.get();
    tcp_connections += c.tcp_connections.get();
    tcp_rejected += c.tcp_rejected.get();
    tcp_idle_closed += c.tcp_idle_closed.get();
  }
};

}  // namespace meridian::server
