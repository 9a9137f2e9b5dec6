#include "server/rrl.h"

#include <sys/random.h>

#include <climits>
#include <cstring>
#include <stdexcept>

namespace meridian::server {

namespace {

// A bucket word: the key's top 16 bits as a tag (the low bits chose the
// set), and the bucket's "theoretical arrival time" (TAT) in microseconds
// since the epoch, in 48 bits (8.9 years). 0 is an empty bucket.
constexpr unsigned kTimeBits = 48;
constexpr uint64_t kTimeMask = (uint64_t{1} << kTimeBits) - 1;

uint64_t tagOf(uint64_t key) noexcept {
  return key >> kTimeBits;
}

// How far the bucket's TAT is ahead of `now`, in microseconds (negative:
// the bucket is full and idle). The 48-bit difference is sign-extended, so
// it is right across a wrap of the stored time.
int64_t debtOf(uint64_t word, uint64_t now) noexcept {
  const uint64_t difference = ((word & kTimeMask) - now) & kTimeMask;
  return static_cast<int64_t>(difference << (64 - kTimeBits)) >> (64 - kTimeBits);
}

uint64_t mix(uint64_t h, uint64_t v) noexcept {
  h ^= v;
  h *= 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 32);
}

// MurmurHash3's 64-bit finalizer: every input bit moves every output bit,
// so the set index (low bits) and the tag (high bits) are independent.
uint64_t finish(uint64_t h) noexcept {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

uint64_t load64(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);  // a fixed size: one unaligned load
  return v;
}

// The last 1..7 octets of a name, zero-padded.
uint64_t loadTail(const uint8_t* p, size_t length) noexcept {
  uint64_t v = 0;
  for (size_t i = 0; i < length; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

// Network-order address octets kept by a prefix of `bits`, as two 64-bit
// masks; e.g. /56 keeps the first 7 octets: ff..ff00 and 0.
void prefixMasks(unsigned bits, size_t octets, uint8_t* masks) noexcept {
  for (size_t i = 0; i < 16; ++i) {
    const unsigned keep = i >= octets || i * 8 >= bits ? 0 : bits - i * 8 >= 8 ? 8 : bits - i * 8;
    masks[i] = static_cast<uint8_t>(0xff00u >> keep);
  }
}

}  // namespace

const char* rrlClassName(RrlClass c) noexcept {
  switch (c) {
    case RrlClass::kPositive:
      return "positive";
    case RrlClass::kNxDomain:
      return "nxdomain";
    case RrlClass::kReferral:
      return "referral";
    case RrlClass::kError:
      return "error";
  }
  return "error";
}

RateLimiter::RateLimiter(const RrlSettings& settings, uint64_t now_us)
    : settings_(settings), epoch_us_(now_us) {
  if (settings_.rate == 0 || settings_.rate > 1000000) {
    throw std::invalid_argument("RRL rate must be 1..1000000 responses per second");
  }
  if (settings_.table_bits < 4 || settings_.table_bits > 28) {
    throw std::invalid_argument("RRL table size must be 2^4..2^28 buckets");
  }
  interval_us_ = 1000000u / settings_.rate;
  tolerance_us_ = (settings_.rate - 1) * interval_us_;
  if (getrandom(&seed_, sizeof seed_, 0) != static_cast<ssize_t>(sizeof seed_)) {
    seed_ = now_us * 0x9e3779b97f4a7c15ull ^ reinterpret_cast<uintptr_t>(this);
  }
  uint8_t masks[16];
  prefixMasks(settings_.ipv4_prefix, 4, masks);
  mask4_ = load64(masks);
  prefixMasks(settings_.ipv6_prefix, 16, masks);
  mask6_[0] = load64(masks);
  mask6_[1] = load64(masks + 8);
  const size_t buckets = size_t{1} << settings_.table_bits;
  set_mask_ = buckets / kWays - 1;
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(buckets);  // value-initialized: empty
}

uint64_t RateLimiter::key(uint8_t family, const uint8_t* address, RrlClass c, const uint8_t* name,
                          size_t name_length, uint16_t qtype) const noexcept {
  // The client prefix, e.g. 192.0.2.77 with /24 -> 192.0.2.0.
  uint64_t high, low = 0;
  if (family == 4) {
    uint32_t v4;
    std::memcpy(&v4, address, 4);
    high = v4 & mask4_;
  } else {
    high = load64(address) & mask6_[0];
    low = load64(address + 8) & mask6_[1];
  }
  uint64_t h = seed_;
  h = mix(h, uint64_t{family} | uint64_t{static_cast<uint8_t>(c)} << 8 | uint64_t{qtype} << 16 |
                 uint64_t{name_length} << 32);
  h = mix(h, high);
  h = mix(h, low);
  size_t at = 0;
  for (; at + 8 <= name_length; at += 8) h = mix(h, load64(name + at));
  if (at < name_length) h = mix(h, loadTail(name + at, name_length - at));
  return finish(h);
}

// The generic cell rate algorithm (GCRA), a token bucket kept as one time:
// each response moves the bucket's TAT one interval (1e6 / rate us) later,
// starting from now when the bucket is idle; a response is over the rate
// when the TAT is more than the tolerance, (rate - 1) intervals, ahead of
// now. Worked example, rate 200: interval 5,000 us, tolerance 995,000 us.
// 200 responses at one instant take the TAT 1,000,000 us ahead: all pass
// (the burst is one second's worth); the 201st is limited (1,000,000 >
// 995,000), and 5 ms later one more passes. A client steady at 200 per
// second or below never sees a limit; one at 1,450 per second gets 200 per
// second through (after the first second's burst). Limited responses do not
// move the TAT, so a flood cannot starve itself into silence either.
bool RateLimiter::charge(uint64_t key, uint64_t now_us) noexcept {
  const uint64_t now = (now_us > epoch_us_ ? now_us - epoch_us_ : 0) & kTimeMask;
  const uint64_t tag = tagOf(key);
  std::atomic<uint64_t>* set = &buckets_[(key & set_mask_) * kWays];
  // The key's bucket, else the one closest to idle (empty or longest idle),
  // which it takes over: an idle bucket is full, so nothing is lost; a
  // busy one is lost only when four busy keys share a set.
  std::atomic<uint64_t>* bucket = nullptr;
  uint64_t seen = 0;
  int64_t idlest = INT64_MAX;
  for (unsigned i = 0; i < kWays; ++i) {
    const uint64_t word = set[i].load(std::memory_order_relaxed);
    if (word != 0 && tagOf(word) == tag) {
      bucket = &set[i];
      seen = word;
      break;
    }
    const int64_t debt = word == 0 ? INT64_MIN : debtOf(word, now);
    if (debt < idlest) {
      idlest = debt;
      bucket = &set[i];
      seen = word;
    }
  }
  // Another thread may update the same bucket meanwhile (a flood spread
  // over threads): retry with the word it wrote. Each failure means another
  // thread's response was charged, moving the TAT on, so the loop is
  // lock-free and ends at the latest when the bucket is over the rate
  // (limited responses write nothing).
  for (;;) {
    const bool mine = seen != 0 && tagOf(seen) == tag;
    const int64_t debt = mine ? debtOf(seen, now) : INT64_MIN;
    if (debt > static_cast<int64_t>(tolerance_us_)) return false;
    const uint64_t tat =
        (now + (debt > 0 ? static_cast<uint64_t>(debt) : 0) + interval_us_) & kTimeMask;
    if (bucket->compare_exchange_weak(seen, tag << kTimeBits | tat, std::memory_order_relaxed)) {
      return true;
    }
  }
}

}  // namespace meridian::server
