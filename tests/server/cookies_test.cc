// DNS cookies: the RFC 9018 appendix A vectors, the time window, secret
// files, what answers carry (RFC 7873 5.2), and no allocation by OpenSSL.

#include "server/cookies.h"

#include <doctest/doctest.h>
#include <openssl/crypto.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "tests/server/test_zone.h"

using namespace meridian;
using namespace meridian::test;

namespace {

// OpenSSL's own allocations, counted from before its first one (a static
// initializer runs before main), so the test can pin that SipHash through
// EVP_MAC allocates nothing per cookie.
std::atomic<bool> g_counting{false};
std::atomic<size_t> g_openssl_allocations{0};
void* countingMalloc(size_t size, const char*, int) {
  if (g_counting) ++g_openssl_allocations;
  return std::malloc(size);
}
void* countingRealloc(void* p, size_t size, const char*, int) {
  if (g_counting) ++g_openssl_allocations;
  return std::realloc(p, size);
}
void countingFree(void* p, const char*, int) {
  std::free(p);
}
const bool g_hooked = CRYPTO_set_mem_functions(countingMalloc, countingRealloc, countingFree) == 1;

std::vector<uint8_t> hex(const std::string& text) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    out.push_back(static_cast<uint8_t>(std::stoi(text.substr(i, 2), nullptr, 16)));
  }
  return out;
}

std::string toHex(const uint8_t* data, size_t length) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < length; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

server::CookieSecrets secrets(const std::string& primary, const std::string& staging = "") {
  return server::parseCookieSecrets(primary + "\n" + staging + "\n");
}

std::string mint(server::CookieEngine& engine, const std::string& client,
                 const std::vector<uint8_t>& address, uint32_t now) {
  uint8_t out[16];
  engine.mint(hex(client).data(), address.data(), address.size(), now, out);
  return toHex(out, 16);
}

server::CookieVerdict verify(server::CookieEngine& engine, const std::string& cookie,
                             const std::vector<uint8_t>& address, uint32_t now) {
  const std::vector<uint8_t> bytes = hex(cookie);
  return engine.verify(bytes.data(), bytes.data() + 8, bytes.size() - 8, address.data(),
                       address.size(), now);
}

const std::vector<uint8_t> kClient1 = {198, 51, 100, 100};
const std::vector<uint8_t> kClient2 = {203, 0, 113, 203};
const std::vector<uint8_t> kClient6 = {0x20, 0x01, 0x0d, 0xb8, 0x02, 0x20, 0x00, 0x01,
                                       0x59, 0xde, 0xd0, 0xf4, 0x87, 0x69, 0x82, 0xb8};

}  // namespace

TEST_CASE("cookies: RFC 9018 A.1 and A.2, a new and a renewed server cookie") {
  server::CookieEngine engine(secrets("e5e973e5a6b2a43f48e7dc849e37bfcf"));
  CHECK(mint(engine, "2464c4abcf10c957", kClient1, 1559731985) ==
        "010000005cf79f111f8130c3eee29480");
  // A.2: 40 minutes later the client sends it back; it is ours and in time.
  CHECK(verify(engine, "2464c4abcf10c957010000005cf79f111f8130c3eee29480", kClient1, 1559734385) ==
        server::CookieVerdict::kValid);
  CHECK(mint(engine, "2464c4abcf10c957", kClient1, 1559734385) ==
        "010000005cf7a871d4a564a1442aca77");
}

TEST_CASE("cookies: RFC 9018 A.3, Reserved octets set by another implementation are hashed") {
  server::CookieEngine engine(secrets("e5e973e5a6b2a43f48e7dc849e37bfcf"));
  const std::string sent = "fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5";
  // Its timestamp is 1559727985; a minute later it verifies.
  CHECK(verify(engine, sent, kClient2, 1559727985 + 60) == server::CookieVerdict::kValid);
  // One Reserved bit changed: not ours.
  CHECK(verify(engine, "fc93fc62807ddb8601abcdee5cf78f71a314227b6679ebf5", kClient2,
               1559727985 + 60) == server::CookieVerdict::kBad);
  // At the RFC's reply time it is 1 h 52 min old: stale, so the answer
  // carries a fresh cookie, which is the RFC's.
  CHECK(verify(engine, sent, kClient2, 1559734700) == server::CookieVerdict::kStale);
  CHECK(mint(engine, "fc93fc62807ddb86", kClient2, 1559734700) ==
        "010000005cf7a9acf73a7810aca2381e");
}

TEST_CASE("cookies: RFC 9018 A.4, IPv6 client across a secret roll-over (staging secret)") {
  const std::string old_secret = "dd3bdf9344b678b185a6f5cb60fca715";
  const std::string new_secret = "445536bcd2513298075a5d379663c962";
  const std::string sent = "22681ab97d52c298010000005cf7c57926556bd0934c72f8";
  const uint32_t now = 1559741961;
  // Before the roll: the old secret is primary and minted the client's cookie.
  server::CookieEngine before(secrets(old_secret));
  CHECK(verify(before, sent, kClient6, now) == server::CookieVerdict::kValid);
  // Rolled: the new secret mints, the old one (staging) still verifies.
  server::CookieEngine rolled(secrets(new_secret, old_secret));
  CHECK(verify(rolled, sent, kClient6, now) == server::CookieVerdict::kValid);
  CHECK(mint(rolled, "22681ab97d52c298", kClient6, now) == "010000005cf7c609a6bb79d16625507a");
  // Done: without the old secret the old cookie is no longer ours.
  server::CookieEngine after(secrets(new_secret));
  CHECK(verify(after, sent, kClient6, now) == server::CookieVerdict::kBad);
}

TEST_CASE(
    "cookies: valid an hour back and five minutes ahead; other address, length, version bad") {
  server::CookieEngine engine(secrets("e5e973e5a6b2a43f48e7dc849e37bfcf"));
  const std::string cookie = "2464c4abcf10c957010000005cf79f111f8130c3eee29480";
  const uint32_t minted = 1559731985;
  CHECK(verify(engine, cookie, kClient1, minted + 3600) == server::CookieVerdict::kValid);
  CHECK(verify(engine, cookie, kClient1, minted + 3601) == server::CookieVerdict::kStale);
  CHECK(verify(engine, cookie, kClient1, minted - 300) == server::CookieVerdict::kValid);
  CHECK(verify(engine, cookie, kClient1, minted - 301) == server::CookieVerdict::kStale);
  CHECK(verify(engine, cookie, kClient2, minted) == server::CookieVerdict::kBad);
  CHECK(verify(engine, "2464c4abcf10c957020000005cf79f111f8130c3eee29480", kClient1, minted) ==
        server::CookieVerdict::kBad);  // version 2
  CHECK(verify(engine, "2464c4abcf10c957010000005cf79f11", kClient1, minted) ==
        server::CookieVerdict::kBad);  // 8-octet server cookie: not one of ours
  // The window holds across the 32-bit wrap of the timestamp (2106).
  uint8_t wrapped[16];
  engine.mint(hex("2464c4abcf10c957").data(), kClient1.data(), 4, 0xffffff00u, wrapped);
  const std::string text = "2464c4abcf10c957" + toHex(wrapped, 16);
  CHECK(verify(engine, text, kClient1, 0x00000100u) == server::CookieVerdict::kValid);
}

TEST_CASE("cookies: secret files: one or two hex secrets, errors name the line") {
  const server::CookieSecrets one =
      server::parseCookieSecrets("# rolled 2024-06-01\n\n  e5e973e5a6b2a43f48e7dc849e37bfcf  \n");
  CHECK(one.primary[0] == 0xe5);
  CHECK(one.primary[15] == 0xcf);
  CHECK_FALSE(one.has_staging);
  const server::CookieSecrets two = server::parseCookieSecrets(
      "445536BCD2513298075A5D379663C962\ndd3bdf9344b678b185a6f5cb60fca715\n");
  CHECK(two.primary[0] == 0x44);
  CHECK(two.has_staging);
  CHECK(two.staging[0] == 0xdd);
  auto error = [](const std::string& text) {
    try {
      server::parseCookieSecrets(text);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error("") == "no secret (32 hex digits) in the file");
  CHECK(error("e5e973e5\n") == "line 1: a secret is 32 hex digits (16 octets), got 8 characters");
  CHECK(error("#\ne5e973e5a6b2a43f48e7dc849e37bfcg\n") ==
        "line 2: not a hex digit in \"e5e973e5a6b2a43f48e7dc849e37bfcg\"");
  CHECK(error("e5e973e5a6b2a43f48e7dc849e37bfcf\ne5e973e5a6b2a43f48e7dc849e37bfcf\n"
              "e5e973e5a6b2a43f48e7dc849e37bfcf\n") ==
        "line 3: more than two secrets (primary, then staging)");
  const server::CookieSecrets random1 = server::randomCookieSecrets();
  const server::CookieSecrets random2 = server::randomCookieSecrets();
  CHECK(toHex(random1.primary, 16) != toHex(random2.primary, 16));
}

TEST_CASE("cookies: minting and verifying make no allocation inside OpenSSL") {
  REQUIRE(g_hooked);  // the hook went in before OpenSSL's first allocation
  server::CookieEngine engine(
      secrets("e5e973e5a6b2a43f48e7dc849e37bfcf", "445536bcd2513298075a5d379663c962"));
  const std::vector<uint8_t> client = hex("2464c4abcf10c957");
  uint8_t cookie[16];
  g_openssl_allocations = 0;
  g_counting = true;
  int valid = 0;
  for (uint32_t i = 0; i < 1000; ++i) {
    engine.mint(client.data(), kClient6.data(), 16, 1559731985 + i, cookie);
    valid += engine.verify(client.data(), cookie, 16, kClient6.data(), 16, 1559731985 + i) ==
             server::CookieVerdict::kValid;
    cookie[15] ^= 1;  // a bad one tries the staging secret as well
    valid += engine.verify(client.data(), cookie, 16, kClient6.data(), 16, 1559731985 + i) ==
             server::CookieVerdict::kValid;
  }
  g_counting = false;
  CHECK(valid == 1000);
  CHECK(g_openssl_allocations == 0);
  // And the counter sees OpenSSL's allocations at all.
  g_counting = true;
  server::CookieEngine another(secrets("e5e973e5a6b2a43f48e7dc849e37bfcf"));
  g_counting = false;
  CHECK(g_openssl_allocations > 0);
}

namespace {

struct CookieFixture {
  TempDir dir;
  server::Snapshot snapshot = snapshotFor(dir, kExampleZone);
  server::ManualClock clock;
  server::CookieEngine engine{secrets("e5e973e5a6b2a43f48e7dc849e37bfcf")};
  QueryRunner runner;
  CookieFixture() {
    runner.context.cookies = &engine;
    runner.context.clock = &clock;
  }
  Response ask(std::optional<std::vector<uint8_t>> cookie,
               server::Transport transport = server::Transport::kUdp) {
    QueryOptions o;
    o.edns = true;
    o.cookie = std::move(cookie);
    return runner.run(snapshot, makeQuery("www.example.com", o), transport);
  }
  // The runner's client is 198.51.100.7.
  server::CookieVerdict check(const std::vector<uint8_t>& cookie) {
    const uint8_t address[4] = {198, 51, 100, 7};
    return engine.verify(cookie.data(), cookie.data() + 8, cookie.size() - 8, address, 4,
                         clock.seconds);
  }
};

}  // namespace

TEST_CASE_FIXTURE(CookieFixture, "cookies: a client cookie gets the answer and a server cookie") {
  const std::vector<uint8_t> client = hex("2464c4abcf10c957");
  const Response r = ask(client);
  CHECK(r.rcode == 0);
  CHECK(r.answer.size() == 2);
  REQUIRE(r.has_cookie);
  REQUIRE(r.cookie.size() == 24);
  CHECK(std::vector<uint8_t>(r.cookie.begin(), r.cookie.begin() + 8) == client);
  CHECK(check(r.cookie) == server::CookieVerdict::kValid);
  CHECK(runner.counters.cookies_client_only.get() == 1);

  // Sent back later: answered, with a fresh cookie (a newer timestamp).
  clock.seconds += 100;
  const Response again = ask(r.cookie);
  CHECK(again.answer.size() == 2);
  REQUIRE(again.cookie.size() == 24);
  CHECK(again.cookie != r.cookie);
  CHECK(check(again.cookie) == server::CookieVerdict::kValid);
  CHECK(runner.counters.cookies_valid.get() == 1);

  // Over TCP as well.
  const Response tcp = ask(r.cookie, server::Transport::kTcp);
  CHECK(tcp.answer.size() == 2);
  CHECK(tcp.cookie.size() == 24);
}

TEST_CASE_FIXTURE(CookieFixture,
                  "cookies: a bad or stale server cookie is answered normally with a new one") {
  std::vector<uint8_t> cookie = ask(hex("2464c4abcf10c957")).cookie;
  REQUIRE(cookie.size() == 24);
  std::vector<uint8_t> forged = cookie;
  forged[23] ^= 0x01;
  const Response bad = ask(forged);
  CHECK(bad.rcode == 0);
  CHECK(bad.answer.size() == 2);
  CHECK(check(bad.cookie) == server::CookieVerdict::kValid);
  CHECK(runner.counters.cookies_bad.get() == 1);

  clock.seconds += 3601;
  const Response stale = ask(cookie);
  CHECK(stale.rcode == 0);
  CHECK(stale.answer.size() == 2);
  CHECK(check(stale.cookie) == server::CookieVerdict::kValid);
  CHECK(runner.counters.cookies_stale.get() == 1);

  // A server cookie of another server (any length 8..32) is just "bad".
  std::vector<uint8_t> other = hex("2464c4abcf10c957");
  other.resize(8 + 32, 0x5a);
  const Response foreign = ask(other);
  CHECK(foreign.answer.size() == 2);
  CHECK(foreign.cookie.size() == 24);
}

TEST_CASE_FIXTURE(CookieFixture,
                  "cookies: no cookie, no COOKIE option; answers are otherwise identical") {
  const Response plain = ask(std::nullopt);
  CHECK_FALSE(plain.has_cookie);
  const Response with = ask(hex("2464c4abcf10c957"));
  CHECK(with.answer == plain.answer);
  CHECK(with.authority == plain.authority);
  CHECK(with.aa == plain.aa);
  // Cookies off (as explain runs): the option is ignored.
  runner.context.cookies = nullptr;
  CHECK_FALSE(ask(hex("2464c4abcf10c957")).has_cookie);
}

TEST_CASE_FIXTURE(CookieFixture,
                  "cookies: error answers carry the cookie too (BADVERS, NXDOMAIN)") {
  QueryOptions o;
  o.edns = true;
  o.edns_version = 1;
  o.cookie = hex("2464c4abcf10c957");
  const Response badvers = runner.run(snapshot, makeQuery("www.example.com", o));
  CHECK(badvers.rcode == 16);
  CHECK(badvers.cookie.size() == 24);
  o.edns_version = 0;
  const Response nx = runner.run(snapshot, makeQuery("nothere.example.com", o));
  CHECK(nx.rcode == 3);
  CHECK(nx.cookie.size() == 24);
}

TEST_CASE_FIXTURE(CookieFixture, "cookies: QDCOUNT 0 with a COOKIE gets NOERROR, no question, a cookie") {
  const std::vector<uint8_t> packet = {0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
                                       0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 12,
                                       0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  const Response r = runner.run(snapshot, packet);
  CHECK(r.rcode == 0);
  CHECK(r.question.empty());
  CHECK(r.answer.empty());
  CHECK_FALSE(r.aa);
  REQUIRE(r.cookie.size() == 24);
  CHECK(check(r.cookie) == server::CookieVerdict::kValid);
  runner.context.cookies = nullptr;  // cookies off: malformed, as before
  const Response off = runner.run(snapshot, packet);
  CHECK(off.rcode == 1);
  CHECK_FALSE(off.has_cookie);
}
