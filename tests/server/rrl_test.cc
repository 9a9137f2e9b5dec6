// Response rate limiting: the bucket arithmetic with scripted time, the
// classes and prefixes, slip, the exemptions (TCP, a valid server cookie),
// and answers below the rate unchanged to the byte.

#include "server/rrl.h"

#include <doctest/doctest.h>

#include <thread>

#include "tests/server/test_zone.h"

using namespace meridian;
using namespace meridian::test;

namespace {

server::RrlSettings rate(unsigned per_second, unsigned slip = 2) {
  server::RrlSettings s;
  s.rate = per_second;
  s.slip = slip;
  return s;
}

const uint8_t kAddress[4] = {192, 0, 2, 77};

uint64_t keyFor(server::RateLimiter& rrl, const std::string& name, uint16_t qtype = 1) {
  return rrl.key(4, kAddress, server::RrlClass::kPositive,
                 reinterpret_cast<const uint8_t*>(name.data()), name.size(), qtype);
}

// What came back for a batch of queries.
struct Tally {
  int full = 0;       // answered with records
  int truncated = 0;  // TC, no records
  int badcookie = 0;  // BADCOOKIE, no records
  int dropped = 0;    // nothing sent
  int other = 0;
};

struct Limited {
  TempDir dir;
  server::Snapshot snapshot = snapshotFor(dir, kExampleZone);
  server::ManualClock clock;
  std::unique_ptr<server::RateLimiter> rrl;
  server::CookieEngine cookies{server::randomCookieSecrets()};
  QueryRunner runner;

  explicit Limited(const server::RrlSettings& settings = rate(200)) {
    rrl = std::make_unique<server::RateLimiter>(settings, clock.micros);
    runner.context.rrl = rrl.get();
    runner.context.cookies = &cookies;
    runner.context.clock = &clock;
  }

  // One query from `client` (198.51.100.7 unless given).
  size_t raw(const std::vector<uint8_t>& query, server::Transport transport,
             const server::ClientAddress* client = nullptr) {
    server::ClientAddress from;
    from.family = 4;
    from.bytes[0] = 198;
    from.bytes[1] = 51;
    from.bytes[2] = 100;
    from.bytes[3] = 7;
    runner.last_length = server::handleQuery(snapshot, runner.context, query.data(), query.size(),
                                             client ? *client : from, transport,
                                             runner.buffer.data(), runner.buffer.size());
    return runner.last_length;
  }

  void count(Tally& t, const std::vector<uint8_t>& query,
             server::Transport transport = server::Transport::kUdp,
             const server::ClientAddress* client = nullptr) {
    const size_t length = raw(query, transport, client);
    if (length == 0) {
      ++t.dropped;
      return;
    }
    const Response r = decode(runner.buffer.data(), length);
    if (r.tc && r.answer.empty() && r.authority.empty()) {
      ++t.truncated;
    } else if (r.rcode == 23 && r.answer.empty()) {
      ++t.badcookie;
    } else if (!r.answer.empty() || !r.authority.empty()) {
      ++t.full;
    } else {
      ++t.other;
    }
  }
};

}  // namespace

TEST_CASE("RRL bucket: a burst of one second's worth, then one per interval") {
  // rate 10: interval 100,000 us, tolerance 900,000 us.
  server::RateLimiter rrl(rate(10), 0);
  const uint64_t key = keyFor(rrl, "www");
  int allowed = 0;
  for (int i = 0; i < 25; ++i) allowed += rrl.charge(key, 1000);
  CHECK(allowed == 10);
  CHECK_FALSE(rrl.charge(key, 1000 + 99999));  // not yet a whole interval
  CHECK(rrl.charge(key, 1000 + 100000));       // one interval later: one more
  CHECK_FALSE(rrl.charge(key, 1000 + 100000));
  // Limited answers do not push the bucket further back: half a second on,
  // five more pass.
  allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += rrl.charge(key, 1000 + 600000);
  CHECK(allowed == 5);
  // Idle for a second and more: a full burst again, never more.
  allowed = 0;
  for (int i = 0; i < 25; ++i) allowed += rrl.charge(key, 1000 + 5000000);
  CHECK(allowed == 10);
  // Other keys have their own buckets.
  CHECK(rrl.charge(keyFor(rrl, "mail"), 1000 + 5000000));
  CHECK(rrl.charge(keyFor(rrl, "www", 28), 1000 + 5000000));
}

TEST_CASE("RRL bucket: a steady client at the rate is never limited") {
  server::RateLimiter rrl(rate(200), 0);
  const uint64_t key = keyFor(rrl, "www");
  int limited = 0;
  // 200 per second for 10 seconds, evenly spaced (5,000 us apart).
  for (uint64_t i = 0; i < 2000; ++i) limited += !rrl.charge(key, 1 + i * 5000);
  CHECK(limited == 0);
}

TEST_CASE("RRL bucket: client prefixes are /24 and /56 by default, and settable") {
  server::RateLimiter rrl(rate(1), 0);
  const uint8_t a[4] = {192, 0, 2, 1}, b[4] = {192, 0, 2, 254}, c[4] = {192, 0, 3, 1};
  auto key = [&](const uint8_t* address, uint8_t family = 4) {
    return rrl.key(family, address, server::RrlClass::kError, nullptr, 0, 0);
  };
  CHECK(key(a) == key(b));
  CHECK(key(a) != key(c));
  uint8_t v6a[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0x78};
  uint8_t v6b[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x56, 0xff, 1, 2, 3};
  uint8_t v6c[16] = {0x20, 0x01, 0x0d, 0xb8, 0x12, 0x34, 0x57, 0x78};
  CHECK(key(v6a, 6) == key(v6b, 6));  // same /56
  CHECK(key(v6a, 6) != key(v6c, 6));
  server::RrlSettings narrow = rate(1);
  narrow.ipv4_prefix = 32;
  server::RateLimiter per_host(narrow, 0);
  CHECK(per_host.key(4, a, server::RrlClass::kError, nullptr, 0, 0) !=
        per_host.key(4, b, server::RrlClass::kError, nullptr, 0, 0));
  // The class is part of the key.
  CHECK(rrl.key(4, a, server::RrlClass::kError, nullptr, 0, 0) !=
        rrl.key(4, a, server::RrlClass::kNxDomain, nullptr, 0, 0));
}

TEST_CASE("RRL bucket: a flood split over threads is limited as one (shared table)") {
  server::RateLimiter rrl(rate(1000), 0);
  const uint64_t key = keyFor(rrl, "www");
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      int mine = 0;
      for (int i = 0; i < 5000; ++i) mine += rrl.charge(key, 42);  // one instant
      allowed += mine;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(allowed == 1000);  // the burst, exactly, whatever the interleaving
}

TEST_CASE("RRL: 2,900 identical queries in 2 s: 599 full answers, 1,150 TC, 1,151 dropped") {
  Limited s;  // rate 200, slip 2
  const auto query = makeQuery("www.example.com");
  Tally t;
  for (uint64_t i = 0; i < 2900; ++i) {
    s.clock.micros = 1 + i * 2000000 / 2900;  // evenly spaced, 690 us apart
    s.count(t, query);
  }
  // Allowed: the burst (200) plus one per 5 ms after it: the GCRA admits
  // floor((t_last + tolerance) / interval) + 1 = floor((1999310 + 995000)
  // / 5000) + 1 = 599. Limited 2,301: every second one slips.
  CHECK(t.full == 599);
  CHECK(t.truncated == 1150);
  CHECK(t.dropped == 1151);
  CHECK(t.other == 0);
  CHECK(s.runner.counters.rrl_limited_positive.get() == 2301);
  CHECK(s.runner.counters.rrl_slipped_positive.get() == 1150);
  CHECK(s.runner.counters.rrl_dropped_positive.get() == 1151);
  CHECK(s.runner.counters.truncated.get() == 1150);
  CHECK(s.runner.counters.rrl_limited_nxdomain.get() == 0);
}

TEST_CASE("RRL: a slipped answer is the question alone with TC, no AA, NOERROR") {
  Limited s(rate(1, 1));
  QueryOptions o;
  o.edns = true;
  const auto query = makeQuery("nothere.example.com", o);
  REQUIRE(s.raw(query, server::Transport::kUdp) > 0);
  const Response first = decode(s.runner.buffer.data(), s.runner.last_length);
  CHECK(first.rcode == 3);
  REQUIRE(s.raw(query, server::Transport::kUdp) > 0);
  const Response slipped = decode(s.runner.buffer.data(), s.runner.last_length);
  CHECK(slipped.tc);
  CHECK_FALSE(slipped.aa);
  CHECK(slipped.rcode == 0);
  CHECK(slipped.question == "nothere.example.com. A");
  CHECK(slipped.answer.empty());
  CHECK(slipped.authority.empty());
  CHECK(slipped.has_opt);  // EDNS is still echoed
  CHECK_FALSE(slipped.has_cookie);
}

TEST_CASE(
    "RRL: slip 0 drops every limited answer, slip 1 sends each truncated, slip 3 every third") {
  for (unsigned slip : {0u, 1u, 3u}) {
    Limited s(rate(10, slip));
    const auto query = makeQuery("www.example.com");
    Tally t;
    for (int i = 0; i < 40; ++i) s.count(t, query);
    INFO("slip " << slip);
    CHECK(t.full == 10);
    CHECK(t.truncated == (slip == 0 ? 0 : 30 / static_cast<int>(slip)));
    CHECK(t.dropped == 30 - t.truncated);
  }
}

TEST_CASE("RRL: classes: NXDOMAIN per zone, wildcard per wildcard, positive per name and type") {
  Limited s(rate(5, 0));
  Tally nx;
  for (int i = 0; i < 20; ++i)
    s.count(nx, makeQuery("random" + std::to_string(i) + ".example.com"));
  CHECK(nx.full == 5);  // random names share the zone's NXDOMAIN bucket
  CHECK(s.runner.counters.rrl_limited_nxdomain.get() == 15);
  Tally wild;
  for (int i = 0; i < 20; ++i)
    s.count(wild, makeQuery(numbered("r", i) + ".wild.example.com"));
  CHECK(wild.full == 5);  // names under *.wild share the wildcard's bucket
  Tally www, mail, aaaa;
  for (int i = 0; i < 20; ++i) s.count(www, makeQuery("www.example.com"));
  for (int i = 0; i < 20; ++i) s.count(mail, makeQuery("mail.example.com"));
  QueryOptions o;
  o.qtype = 28;
  for (int i = 0; i < 20; ++i) s.count(aaaa, makeQuery("www.example.com", o));
  CHECK(www.full == 5);
  CHECK(mail.full == 5);
  CHECK(aaaa.full == 5);
  CHECK(s.runner.counters.rrl_limited_positive.get() == 15 + 15 * 3);
}

TEST_CASE("RRL: classes: referrals per delegation, errors per prefix") {
  Limited s(rate(5, 0));
  Tally referral, refused;
  for (int i = 0; i < 20; ++i)
    s.count(referral, makeQuery(numbered("h", i) + ".sub.example.com"));
  CHECK(referral.full == 5);
  CHECK(s.runner.counters.rrl_limited_referral.get() == 15);
  for (int i = 0; i < 10; ++i)
    s.count(refused, makeQuery("www.example" + std::to_string(i) + ".org"));
  auto formerr = makeQuery("www.example.com");
  formerr.push_back(0);
  for (int i = 0; i < 10; ++i) s.count(refused, formerr);
  CHECK(refused.full + refused.other == 5);  // REFUSED and FORMERR share the error bucket
  CHECK(s.runner.counters.rrl_limited_error.get() == 15);
  // Another /24 is not affected; another host in the same /24 is.
  server::ClientAddress other;
  other.family = 4;
  other.bytes[0] = 198;
  other.bytes[1] = 51;
  other.bytes[2] = 101;
  other.bytes[3] = 7;
  CHECK(s.raw(makeQuery("h.sub.example.com"), server::Transport::kUdp, &other) > 0);
  other.bytes[2] = 100;
  other.bytes[3] = 200;
  CHECK(s.raw(makeQuery("h.sub.example.com"), server::Transport::kUdp, &other) == 0);
}

TEST_CASE("RRL: TCP is never limited, nor charged") {
  Limited s(rate(5, 0));
  const auto query = makeQuery("www.example.com");
  Tally tcp;
  for (int i = 0; i < 50; ++i) s.count(tcp, query, server::Transport::kTcp);
  CHECK(tcp.full == 50);
  Tally udp;
  for (int i = 0; i < 10; ++i) s.count(udp, query);
  CHECK(udp.full == 5);  // TCP took nothing from the bucket
}

TEST_CASE(
    "RRL: a client with a valid server cookie is exempt; others with cookies get BADCOOKIE slips") {
  Limited s(rate(5, 2));
  QueryOptions o;
  o.edns = true;
  o.cookie = std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8};
  REQUIRE(s.raw(makeQuery("www.example.com", o), server::Transport::kUdp) > 0);
  const Response first = decode(s.runner.buffer.data(), s.runner.last_length);
  REQUIRE(first.cookie.size() == 24);

  // With the server cookie: 100 at one instant, all answered in full.
  QueryOptions valid = o;
  valid.cookie = first.cookie;
  Tally exempt;
  for (int i = 0; i < 100; ++i) s.count(exempt, makeQuery("www.example.com", valid));
  CHECK(exempt.full == 100);

  // With only a client cookie (or a bad server cookie), over the rate:
  // every second limited answer is BADCOOKIE with a fresh cookie, so the
  // client learns a cookie and is exempt from then on (RFC 7873 5.2.3).
  Tally client_only;
  for (int i = 0; i < 20; ++i) s.count(client_only, makeQuery("www.example.com", o));
  CHECK(client_only.full == 4);  // the first query above took one of 5
  CHECK(client_only.badcookie == 8);
  CHECK(client_only.dropped == 8);
  CHECK(client_only.truncated == 0);
  o.cookie->resize(24, 0x5a);  // a bad server cookie
  const size_t length = s.raw(makeQuery("www.example.com", o), server::Transport::kUdp);
  const size_t length2 =
      length ? length : s.raw(makeQuery("www.example.com", o), server::Transport::kUdp);
  REQUIRE(length2 > 0);
  const Response badcookie = decode(s.runner.buffer.data(), length2);
  CHECK(badcookie.rcode == 23);
  CHECK_FALSE(badcookie.tc);
  CHECK(badcookie.answer.empty());
  REQUIRE(badcookie.cookie.size() == 24);
  const uint8_t address[4] = {198, 51, 100, 7};
  CHECK(s.cookies.verify(badcookie.cookie.data(), badcookie.cookie.data() + 8, 16, address, 4,
                         s.clock.seconds) == server::CookieVerdict::kValid);
}

TEST_CASE("RRL: below the rate every answer is byte for byte the answer without RRL") {
  Limited limited;  // rate 200
  QueryRunner plain;
  // One query per bucket (each its own name, type or class), of every kind.
  std::vector<std::vector<uint8_t>> queries;
  auto add = [&](const char* name, uint16_t type, bool edns) {
    QueryOptions o;
    o.qtype = type;
    o.edns = edns;
    queries.push_back(makeQuery(name, o));
  };
  add("www.example.com", 1, false);
  add("WWW.EXAMPLE.COM", 28, true);
  add("www.example.com", 255, false);
  add("nothere.example.com", 1, true);  // NXDOMAIN
  add("x.wild.example.com", 1, false);  // wildcard
  add("a.sub.example.com", 1, true);    // referral
  add("www.example.org", 1, false);     // REFUSED
  add("big.example.com", 16, false);    // TC: too big for 512 octets
  add("chain1.example.com", 1, true);   // CNAME chain
  add("mail.example.com", 28, false);   // NODATA
  // 190 of each per second, all at once at the start of each second (a
  // burst within the allowance), for 3 seconds.
  size_t compared = 0;
  for (int second = 0; second < 3; ++second) {
    limited.clock.micros = 1 + static_cast<uint64_t>(second) * 1000000;
    for (int i = 0; i < 190; ++i) {
      for (const auto& q : queries) {
        const size_t a = limited.raw(q, server::Transport::kUdp);
        const std::vector<uint8_t> with(limited.runner.buffer.begin(),
                                        limited.runner.buffer.begin() + static_cast<long>(a));
        plain.run(limited.snapshot, q);
        const std::vector<uint8_t> without(
            plain.buffer.begin(), plain.buffer.begin() + static_cast<long>(plain.last_length));
        compared += with == without;
      }
    }
  }
  CHECK(compared == 3 * 190 * queries.size());
  server::DnsTotals totals;
  totals.add(limited.runner.counters);
  CHECK(totals.rrl_limited_positive + totals.rrl_limited_nxdomain + totals.rrl_limited_referral +
            totals.rrl_limited_error ==
        0);
}

TEST_CASE("RRL: a BADCOOKIE slip of an answer too big for UDP is BADCOOKIE alone, without TC") {
  Limited s(rate(1, 1));
  QueryOptions o;
  o.edns = true;
  o.udp_payload = 512;
  o.qtype = 16;
  o.cookie = std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8};
  const auto query = makeQuery("big.example.com", o);
  REQUIRE(s.raw(query, server::Transport::kUdp) > 0);
  CHECK(decode(s.runner.buffer.data(), s.runner.last_length).tc);  // too big: TC, as always
  REQUIRE(s.raw(query, server::Transport::kUdp) > 0);
  const Response slipped = decode(s.runner.buffer.data(), s.runner.last_length);
  CHECK(slipped.rcode == 23);
  CHECK_FALSE(slipped.tc);
  CHECK(slipped.cookie.size() == 24);
}
