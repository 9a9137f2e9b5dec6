#pragma once
// Response rate limiting (RRL), as operators know it from BIND, NSD and
// Knot: a spoofed-source flood must not turn this server into an amplifier.
//
// Every UDP response is charged to a bucket keyed by (client prefix, class,
// what the class is about):
//   positive  NOERROR answers and NODATA: the question's name and type (a
//             wildcard answer: the wildcard, so random names under it share)
//   nxdomain  NXDOMAIN: the zone, so random-subdomain floods share one bucket
//   referral  referrals: the delegation point
//   error     every other RCODE (REFUSED, FORMERR, SERVFAIL, ...): the prefix
// with the prefix IPv4 /24 and IPv6 /56 by default. A bucket allows `rate`
// responses per second with a burst of one second's worth; the query path
// (server/query_handler.cc) drops what is over the rate, but every `slip`th
// limited answer goes out truncated (TC, no records), or as BADCOOKIE when
// the query carried a client cookie, so a real client behind a spoofed
// prefix retries over TCP (or with its cookie) and still gets its answer.
// TCP and queries with a valid server cookie are never charged.
//
// The table is allocated once at start-up and shared by every query
// thread: SO_REUSEPORT spreads one source's packets across the threads
// (by source port), so per-thread tables would allow threads x rate. A
// bucket is one 64-bit word updated with compare-and-swap: no lock, no
// allocation, no exception on the query path.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace meridian::server {

enum class RrlClass : uint8_t { kPositive, kNxDomain, kReferral, kError };
inline constexpr int kRrlClassCount = 4;
/// "positive", "nxdomain", "referral", "error": the /metrics label values.
const char* rrlClassName(RrlClass c) noexcept;

struct RrlSettings {
  unsigned rate = 200;  // responses per second per bucket; 0 = RRL off
  unsigned slip = 2;    // every slip-th limited answer is sent truncated; 0 = never
  uint8_t ipv4_prefix = 24;
  uint8_t ipv6_prefix = 56;
  unsigned table_bits = 18;  // 2^18 buckets of 8 octets: 2 MiB
};

class RateLimiter {
 public:
  static constexpr unsigned kWays = 4;  // buckets a key may occupy (one half cache line)

  /// Allocates the table (the only allocation it ever makes). `now_us` is
  /// the clock's current monotonic time: times are kept relative to it.
  RateLimiter(const RrlSettings& settings, uint64_t now_us);
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  const RrlSettings& settings() const noexcept { return settings_; }

  /// The bucket key of a response to a client at `address` (4 or 16
  /// octets, family 4 or 6): the prefix, the class and, where the class has
  /// one, the name (lowercase wire format) and, for positive answers, the
  /// type. Seeded per process, so clients cannot aim at a bucket. Any thread.
  uint64_t key(uint8_t family, const uint8_t* address, RrlClass c, const uint8_t* name,
               size_t name_length, uint16_t qtype) const noexcept;

  /// Charges one response to `key` at monotonic time `now_us`: true when it
  /// is within the rate (send it), false when over (limit it). Any thread;
  /// lock-free.
  bool charge(uint64_t key, uint64_t now_us) noexcept;

 private:
  RrlSettings settings_;
  uint64_t epoch_us_;      // times are stored relative to this
  uint64_t interval_us_;   // one response's worth of time: 1e6 / rate
  uint64_t tolerance_us_;  // the burst: (rate - 1) responses ahead of time
  uint64_t seed_;
  uint64_t mask4_;     // the IPv4 prefix's octets, as loaded from memory
  uint64_t mask6_[2];  // the IPv6 prefix's
  size_t set_mask_;    // sets - 1
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
};

}  // namespace meridian::server
