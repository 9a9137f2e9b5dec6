// The hot path allocates nothing: count every operator new while queries of
// every kind run through handleQuery(), and expect zero.

// GCC 12 misreads a replaced operator new backed by malloc as a mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <doctest/doctest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "tests/server/test_zone.h"

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
  g_counting = false;
  CHECK(answered == 10 * 2 * (queries.size() - 1));
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
