// The hot path allocates nothing: count every operator new while queries of
// every kind run through handleQuery(), and expect zero.

// GCC 12 misreads a replaced operator new backed by malloc as a mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string_view>

#include "server/steering/outlier.h"
#include "tests/server/steering_fixture.h"
#include "zones/load_store.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<size_t> g_allocations{0};
}  // namespace

void* operator new(size_t size) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

using namespace meridian;
using namespace meridian::test;

TEST_CASE("handleQuery allocates nothing, whatever the query") {
  TempDir dir;
  const server::Snapshot snapshot = snapshotFor(dir, kExampleZone);
  QueryRunner runner;

  // Every kind of answer, built before counting starts.
  std::vector<std::vector<uint8_t>> queries;
  QueryOptions edns;
  edns.edns = true;
  QueryOptions ecs = edns;
  ecs.ecs = true;
  ecs.ecs_address = {198, 51, 100};
  for (const char* name : {"www.example.com", "WWW.EXAMPLE.COM", "nothere.example.com",
                           "chain1.example.com", "loop1.example.com", "x.wild.example.com",
                           "a.sub.example.com", "c.deep.example.com", "www.example.org",
                           "big.example.com", "example.com"}) {
    for (uint16_t type : {1, 2, 15, 16, 28, 43, 255}) {
      QueryOptions o;
      o.qtype = type;
      queries.push_back(makeQuery(name, o));
      edns.qtype = type;
      queries.push_back(makeQuery(name, edns));
      ecs.qtype = type;
      queries.push_back(makeQuery(name, ecs));
    }
  }
  // Additional-section processing: MX, SRV and NS answers with in-zone
  // targets, one of them larger than 512 octets.
  const server::Snapshot targets = snapshotFor(dir, targetsZone(), "targets.test.");
  std::vector<std::vector<uint8_t>> target_queries;
  for (const auto& [name, type] :
       std::vector<std::pair<const char*, uint16_t>>{{"targets.test", 15},
                                                     {"many.targets.test", 15},
                                                     {"below.targets.test", 15},
                                                     {"_imap._tcp.targets.test", 33},
                                                     {"targets.test", 2},
                                                     {"x.cut.targets.test", 1}}) {
    QueryOptions o;
    o.qtype = type;
    target_queries.push_back(makeQuery(name, o));
    edns.qtype = type;
    target_queries.push_back(makeQuery(name, edns));
  }
  auto malformed = makeQuery("www.example.com");
  malformed.push_back(0);
  queries.push_back(malformed);
  queries.push_back({1, 2, 3});

  const server::ClientAddress client;
  g_allocations = 0;
  g_counting = true;
  size_t answered = 0;
  for (int round = 0; round < 10; ++round) {
    for (const auto& q : queries) {
      for (auto transport : {server::Transport::kUdp, server::Transport::kTcp}) {
        answered += server::handleQuery(snapshot, runner.context, q.data(), q.size(), client,
                                        transport, runner.buffer.data(), runner.buffer.size()) > 0;
      }
    }
  }
  size_t with_additional = 0;
  for (int round = 0; round < 10; ++round) {
    for (const auto& q : target_queries) {
      for (auto transport : {server::Transport::kUdp, server::Transport::kTcp}) {
        const size_t length =
            server::handleQuery(targets, runner.context, q.data(), q.size(), client, transport,
                                runner.buffer.data(), runner.buffer.size());
        // ARCOUNT (low octet) beyond the OPT record that every second query has.
        const size_t opt = (&q - target_queries.data()) % 2;
        with_additional += length > 0 && runner.buffer[11] > opt;
      }
    }
  }
  g_counting = false;
  CHECK(answered == 10 * 2 * (queries.size() - 1));
  // Every target query but below.targets.test (its MX target is glue) adds data.
  CHECK(with_additional == 10 * 2 * (target_queries.size() - 2));
  CHECK(g_allocations.load() == 0);
}

TEST_CASE("the allocation counter itself works") {
  g_allocations = 0;
  g_counting = true;
  auto* p = new int(42);
  g_counting = false;
  delete p;
  CHECK(g_allocations.load() == 1);
}

TEST_CASE("steered queries allocate nothing: every policy, health applied, ECS and not") {
  SteeringWorld world;
  world.steer("multi", "nearest", {"eu-west", "us-east", "us-west", "ap-east"}, "", 1,
              R"({"max_answers":3})");
  world.health("eu-west-1", false, 20);
  world.health("us-east-1", true, 80);
  world.health("us-west-1", true, 40, "test", zones::nowMillis() - 5000, 2);  // slow start
  world.replaceLatency();
  const auto snapshot = world.snapshot();
  QueryRunner runner;
  std::vector<std::vector<uint8_t>> queries;
  for (const char* owner : {"nearest", "failover", "latency", "weighted", "sticky", "geo", "multi"}) {
    for (const auto& address : std::vector<std::vector<uint8_t>>{
             {81, 2, 69, 142}, {216, 160, 83, 56}, {175, 16, 199, 7}, {10, 1, 2, 3}}) {
      queries.push_back(ecsQuery(owner, address, 32));
      queries.push_back(ecsQuery(owner, address, 24));
      queries.push_back(ecsQuery(owner, address, 0));
    }
    queries.push_back(makeQuery(std::string(owner) + ".gslb.example"));
  }
  queries.push_back(ecsQuery("nearest", {0x20, 0x01, 0x02, 0x18, 0, 0, 0, 1}, 56, 28));
  server::ClientAddress client;
  g_allocations = 0;
  g_counting = true;
  size_t answered = 0;
  for (int round = 0; round < 20; ++round) {
    for (const auto& q : queries) {
      answered += server::handleQuery(*snapshot, runner.context, q.data(), q.size(), client,
                                      server::Transport::kUdp, runner.buffer.data(),
                                      runner.buffer.size()) > 0;
    }
  }
  g_counting = false;
  CHECK(answered == 20 * queries.size());
  CHECK(runner.counters.steered.get() == 20 * queries.size());
  CHECK(g_allocations.load() == 0);
}

TEST_CASE("maps and fences allocate nothing: prefix_map (10,000 entries), asn_map, geofence") {
  SteeringWorld world;
  nlohmann::json big = nlohmann::json::object();
  for (int i = 0; i < 10000; ++i) {
    big["100." + std::to_string(64 + i / 256) + "." + std::to_string(i % 256) + ".0/24"] = {
        i % 2 ? "eu-west" : "ap-east"};
  }
  big["10.1.0.0/16"] = {"us-west"};
  big["10.1.2.0/24"] = {"eu-west"};
  big["2001:218::/32"] = {"us-east"};
  world.steer("mapped", "nearest", {"eu-west", "us-east", "us-west", "ap-east"}, "", 1,
              nlohmann::json({{"prefix_map", big},
                              {"asn_map", {{"AS15169", {"ap-east"}}, {"AS7018", {"eu-west"}}}},
                              {"geofence", {{"GB", {"eu-west"}}, {"US", {"us-east", "us-west"}}}},
                              {"geofence_strict", false},
                              {"max_answers", 2}})
                  .dump());
  world.health("us-east-1", false);  // the US fence half down; non-strict fallback below
  world.health("us-west-1", false);
  const auto snapshot = world.snapshot();
  snapshot->asn = geo::GeoDatabase::open(geoTestData("GeoLite2-ASN-Test.mmdb"), geo::Content::kAsn);
  QueryRunner runner;
  std::vector<std::vector<uint8_t>> queries;
  for (const auto& address : std::vector<std::vector<uint8_t>>{{81, 2, 69, 142},
                                                               {216, 160, 83, 56},
                                                               {175, 16, 199, 7},
                                                               {10, 1, 2, 3},
                                                               {10, 1, 9, 9},
                                                               {100, 70, 3, 1},
                                                               {1, 0, 0, 1},
                                                               {12, 81, 92, 5}}) {
    queries.push_back(ecsQuery("mapped", address, 32));
    queries.push_back(ecsQuery("mapped", address, 16));
    queries.push_back(ecsQuery("mapped", address, 0));
  }
  queries.push_back(makeQuery("mapped.gslb.example"));
  server::ClientAddress client;
  g_allocations = 0;
  g_counting = true;
  size_t answered = 0;
  for (int round = 0; round < 20; ++round) {
    for (const auto& q : queries) {
      answered += server::handleQuery(*snapshot, runner.context, q.data(), q.size(), client,
                                      server::Transport::kUdp, runner.buffer.data(),
                                      runner.buffer.size()) > 0;
    }
  }
  g_counting = false;
  CHECK(answered == 20 * queries.size());
  CHECK(runner.counters.steered.get() == 20 * queries.size());
  CHECK(g_allocations.load() == 0);
}

TEST_CASE("pool thresholds, fallback answers and per-region counts allocate nothing") {
  SteeringWorld world;
  zones::Region eu = zones::getRegion(world.db, "eu-west");
  eu.min_healthy = zones::parseMinHealthy(2, "min_healthy");  // one of two down: skipped
  zones::replaceRegion(world.db, eu);
  zones::Region us = zones::getRegion(world.db, "us-east");
  us.min_healthy = zones::parseMinHealthy("100%", "min_healthy");
  zones::replaceRegion(world.db, us);
  world.steer("thin", "nearest", {"eu-west", "us-east"}, "", 1,
              R"({"panic_threshold":0,"max_answers":2})");  // both below: last resort
  world.steer("gone", "failover", {"us-west"}, "", 1,
              R"({"when_all_down":"fallback","fallback":["192.0.2.250","192.0.2.251"]})");
  world.steer("gone", "failover", {"us-east"}, "", 28,
              R"({"when_all_down":"fallback","fallback":["2001:db8:f::1"]})");
  world.health("eu-west-1", false);
  world.health("us-west-1", false);
  world.health("us-east-6", false);
  world.health("us-east-1", true);
  const auto snapshot = world.snapshot();
  QueryRunner runner;
  std::vector<std::vector<uint8_t>> queries;
  for (const char* owner : {"nearest", "thin", "gone", "weighted"}) {
    queries.push_back(ecsQuery(owner, {81, 2, 69, 142}, 32));
    queries.push_back(ecsQuery(owner, {175, 16, 199, 7}, 24));
  }
  queries.push_back(ecsQuery("gone", {81, 2, 69, 142}, 32, 28));
  server::ClientAddress client;
  g_allocations = 0;
  g_counting = true;
  for (int round = 0; round < 20; ++round) {
    for (const auto& q : queries) {
      server::handleQuery(*snapshot, runner.context, q.data(), q.size(), client,
                          server::Transport::kUdp, runner.buffer.data(), runner.buffer.size());
    }
  }
  g_counting = false;
  CHECK(g_allocations.load() == 0);
  CHECK(runner.counters.steered_all_down_fallback.get() == 20 * 3);
  uint64_t counted = 0;
  for (const auto& c : runner.counters.region_answers) counted += c.get();
  CHECK(counted > 0);
}

TEST_CASE("round_robin, shed load and outlier ejection allocate nothing") {
  SteeringWorld world;
  const std::vector<std::string> all = {"eu-west", "us-east", "us-west", "ap-east"};
  world.steer("rr", "round_robin", all, "", 1, R"({"max_answers":2})");
  world.steer("shed", "failover", all, "", 1, R"({"shed_low":0.8,"shed_high":1.0})");
  world.steer("eject", "weighted", all, "", 1,
              R"({"outlier_error_rate":0.2,"outlier_max_ejected":0.5,"shed_low":0.5,"shed_high":0.9})");
  world.db.prepare("UPDATE endpoints SET capacity = 100").run();
  world.health("us-west-1", false);
  auto snapshot = world.snapshot();
  // Loads and error rates as the load reports would set them, then the
  // outlier state as buildHealth computes it: eu-west-1 ejected, the others
  // loaded so that some answers shed and some lift shedding.
  auto health = std::make_shared<steering::HealthTable>(*snapshot->health);
  const steering::SteeringTable& table = *snapshot->steering;
  for (uint32_t e = 0; e < table.endpoints.size(); ++e) {
    health->endpoints[e].load = table.endpoints[e].name == "us-east-1" ? 95.0f : 85.0f;
    health->endpoints[e].error_rate = table.endpoints[e].name == "eu-west-1" ? 0.9f : 0.0f;
  }
  const int64_t now = zones::nowMillis();
  steering::computeOutliers(table, *health, nullptr, nullptr, now - 20000);
  const steering::HealthTable first = *health;
  steering::computeOutliers(table, *health, &first, &table, now - 5000);
  REQUIRE(steering::outlierEjectedCount(*health, now) == 1);
  snapshot->health = health;

  QueryRunner runner;
  std::vector<std::vector<uint8_t>> queries;
  for (const char* owner : {"rr", "shed", "eject"}) {
    queries.push_back(ecsQuery(owner, {81, 2, 69, 142}, 24));
    queries.push_back(makeQuery(std::string(owner) + ".gslb.example"));
  }
  server::ClientAddress client;
  g_allocations = 0;
  g_counting = true;
  size_t answered = 0;
  for (int round = 0; round < 200; ++round) {
    for (const auto& q : queries) {
      answered += server::handleQuery(*snapshot, runner.context, q.data(), q.size(), client,
                                      server::Transport::kUdp, runner.buffer.data(),
                                      runner.buffer.size()) > 0;
    }
  }
  g_counting = false;
  CHECK(answered == 200 * queries.size());
  CHECK(runner.counters.steered.get() == 200 * queries.size());
  CHECK(runner.counters.steered_shed_ignored.get() > 0);  // every path was taken
  CHECK(g_allocations.load() == 0);
}

TEST_CASE("RRL and DNS cookies on: limited, slipped, exempt and cookie answers allocate nothing") {
  TempDir dir;
  const server::Snapshot snapshot = snapshotFor(dir, kExampleZone);
  QueryRunner runner;
  // Built before counting: the shared table, this thread's SipHash
  // contexts (the two secrets of a roll-over) and the clock.
  server::ManualClock clock;
  server::RrlSettings settings;
  settings.rate = 20;
  settings.slip = 2;
  server::RateLimiter rrl(settings, clock.micros);
  server::CookieEngine cookies(server::parseCookieSecrets(
      "e5e973e5a6b2a43f48e7dc849e37bfcf\n445536bcd2513298075a5d379663c962\n"));
  runner.context.rrl = &rrl;
  runner.context.cookies = &cookies;
  runner.context.clock = &clock;
  server::ClientAddress client;
  client.family = 4;
  client.bytes[0] = 198;

  std::vector<std::vector<uint8_t>> queries;
  QueryOptions o;
  o.edns = true;
  o.cookie = std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8};
  // A valid server cookie for this client, minted the way the server does.
  const std::vector<uint8_t> probe = makeQuery("www.example.com", o);
  REQUIRE(server::handleQuery(snapshot, runner.context, probe.data(), probe.size(), client,
                              server::Transport::kTcp, runner.buffer.data(),
                              runner.buffer.size()) > 0);
  const std::vector<uint8_t> valid = decode(runner.buffer.data(), runner.buffer.size()).cookie;
  REQUIRE(valid.size() == 24);
  std::vector<uint8_t> bad = valid;
  bad[20] ^= 1;
  for (const char* name : {"www.example.com", "nothere.example.com", "x.wild.example.com",
                           "a.sub.example.com", "www.example.org", "big.example.com"}) {
    QueryOptions plain;
    queries.push_back(makeQuery(name, plain));
    o.cookie = std::vector<uint8_t>{1, 2, 3, 4, 5, 6, 7, 8};
    queries.push_back(makeQuery(name, o));
    o.cookie = valid;
    queries.push_back(makeQuery(name, o));
    o.cookie = bad;
    queries.push_back(makeQuery(name, o));
  }

  g_allocations = 0;
  g_counting = true;
  size_t sent = 0;
  for (int round = 0; round < 50; ++round) {  // far over 20 per second: most are limited
    clock.micros += 1000;
    for (const auto& q : queries) {
      for (auto transport : {server::Transport::kUdp, server::Transport::kTcp}) {
        sent += server::handleQuery(snapshot, runner.context, q.data(), q.size(), client,
                                    transport, runner.buffer.data(), runner.buffer.size()) > 0;
      }
    }
  }
  g_counting = false;
  CHECK(g_allocations.load() == 0);
  // Every kind happened: limited (dropped and slipped), exempt, cookies.
  CHECK(runner.counters.rrl_dropped_positive.get() > 0);
  CHECK(runner.counters.rrl_slipped_nxdomain.get() > 0);
  CHECK(runner.counters.rcode[wire::rcode::BADCOOKIE].get() > 0);
  CHECK(runner.counters.cookies_valid.get() > 0);
  CHECK(runner.counters.cookies_bad.get() > 0);
  CHECK(sent < 50 * 2 * queries.size());
}

TEST_CASE("identity on: NSID and CH TXT id.server / hostname.bind allocate nothing") {
  TempDir dir;
  const server::Snapshot snapshot = snapshotFor(dir, kExampleZone);
  QueryRunner runner;
  runner.context.settings.identity = server::makeNodeIdentity("ns1.alloc-test", true);
  std::vector<std::vector<uint8_t>> queries;
  QueryOptions nsid;
  nsid.edns = true;
  nsid.nsid = std::vector<uint8_t>{};
  for (const char* name : {"www.example.com", "nothere.example.com", "www.example.org"}) {
    queries.push_back(makeQuery(name, nsid));
  }
  for (const char* name : {"id.server", "hostname.bind", "version.bind"}) {
    for (uint16_t type : {16, 1, 255}) {
      QueryOptions chaos = nsid;
      chaos.qclass = 3;
      chaos.qtype = type;
      queries.push_back(makeQuery(name, chaos));
      chaos.edns = false;
      queries.push_back(makeQuery(name, chaos));
    }
  }
  const server::ClientAddress client;
  g_allocations = 0;
  g_counting = true;
  size_t with_nsid = 0;
  for (int round = 0; round < 10; ++round) {
    for (const auto& q : queries) {
      for (auto transport : {server::Transport::kUdp, server::Transport::kTcp}) {
        const size_t length =
            server::handleQuery(snapshot, runner.context, q.data(), q.size(), client, transport,
                                runner.buffer.data(), runner.buffer.size());
        // The node name is somewhere in the answer (NSID or TXT).
        const std::string_view text(reinterpret_cast<const char*>(runner.buffer.data()), length);
        with_nsid += text.find("ns1.alloc-test") != std::string_view::npos;
      }
    }
  }
  g_counting = false;
  CHECK(g_allocations.load() == 0);
  // 3 IN + 3 x (TXT, A, ANY) CH with EDNS carry NSID; CH TXT/ANY without
  // EDNS carry the name in the answer for id.server and hostname.bind.
  CHECK(with_nsid == 10 * 2 * (3 + 9 + 4));
}

TEST_CASE("least_loaded and p2c allocate nothing: known, unknown and capacity-scaled load") {
  SteeringWorld world;
  world.steer("least", "least_loaded", {"eu-west", "us-east", "us-west"}, "", 1,
              R"({"max_answers":2})");
  world.steer("p2c", "p2c", {"eu-west", "us-east", "us-west"}, "", 1, R"({"max_answers":2})");
  zones::patchEndpoint(world.db, "eu-west-1", {{"capacity", 100}});
  zones::putEndpointLoad(world.db, "eu-west-1", {40, 0.01}, zones::nowMillis());
  zones::putEndpointLoad(world.db, "us-east-1", {7, std::nullopt}, zones::nowMillis());
  world.health("us-west-1", false, 20);
  const auto snapshot = world.snapshot();
  QueryRunner runner;
  std::vector<std::vector<uint8_t>> queries;
  for (const char* owner : {"least", "p2c"}) {
    queries.push_back(ecsQuery(owner, {81, 2, 69, 142}, 24));
    queries.push_back(makeQuery(std::string(owner) + ".gslb.example"));
  }
  server::ClientAddress client;
  g_allocations = 0;
  g_counting = true;
  size_t answered = 0;
  for (int round = 0; round < 50; ++round) {
    for (const auto& q : queries) {
      answered += server::handleQuery(*snapshot, runner.context, q.data(), q.size(), client,
                                      server::Transport::kUdp, runner.buffer.data(),
                                      runner.buffer.size()) > 0;
    }
  }
  g_counting = false;
  CHECK(answered == 50 * queries.size());
  CHECK(runner.counters.steered.get() == 50 * queries.size());
  CHECK(g_allocations.load() == 0);
}
