// The hot-path promise of geo/: lookups, client subnets, distances and the
// country table never allocate. This binary replaces the global operator new
// (and, outside sanitizer builds, malloc/calloc/realloc, to catch the C
// library too) with counting versions, runs many lookups inside a counting
// window, and expects zero.

// GCC 12 misreads a replaced operator new backed by malloc as a mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <doctest/doctest.h>
#include <netinet/in.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>

#include "geo/client_subnet.h"
#include "geo/countries.h"
#include "geo/distance.h"
#include "geo/mmdb.h"
#include "geo_test_util.h"

#if !defined(__SANITIZE_ADDRESS__)
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
}
#endif

namespace {
std::atomic<bool> g_counting{false};
std::atomic<size_t> g_allocations{0};

void count() {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1);
}

// Allocates without going through the counting malloc below, so one
// operator new counts once.
void* rawMalloc(std::size_t size) {
#if defined(__SANITIZE_ADDRESS__)
  return std::malloc(size ? size : 1);
#else
  return __libc_malloc(size ? size : 1);
#endif
}

void* allocate(std::size_t size) {
  count();
  if (void* p = rawMalloc(size)) return p;
  throw std::bad_alloc();
}

void* allocateAligned(std::size_t size, std::align_val_t align) {
  count();
  const auto a = static_cast<std::size_t>(align);
  if (void* p = std::aligned_alloc(a, (size + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t size) {
  return allocate(size);
}
void* operator new[](std::size_t size) {
  return allocate(size);
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  count();
  return rawMalloc(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  count();
  return rawMalloc(size);
}
void* operator new(std::size_t size, std::align_val_t align) {
  return allocateAligned(size, align);
}
void* operator new[](std::size_t size, std::align_val_t align) {
  return allocateAligned(size, align);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}

#if !defined(__SANITIZE_ADDRESS__)
// glibc's own entry points; defining malloc here interposes it for the shared
// libraries too (libmaxminddb), so a C-side allocation is counted as well.
extern "C" {
void* malloc(size_t size) {
  count();
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) {
  count();
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) {
  count();
  return __libc_realloc(p, size);
}
}
#endif

using meridian::geo::GeoDatabase;
using meridian::geo::GeoRecord;

namespace {

// Runs `lookups` pseudo-random lookups of each kind against `db` and folds the
// results into a checksum (so nothing is optimised away).
uint64_t exercise(const GeoDatabase& db, int lookups) {
  uint64_t state = 0x2545f4914f6cdd1dull, checksum = 0;
  GeoRecord r;
  for (int i = 0; i < lookups; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    uint8_t v6[16] = {0x20, 0x01};
    std::memcpy(v6 + 2, &state, 8);
    uint8_t v4[4];
    std::memcpy(v4, &state, 4);
    uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    std::memcpy(mapped + 12, v4, 4);

    checksum += db.lookup(v4, 4, r) + r.prefix;
    checksum += db.lookup(v6, 6, r) + r.prefix;
    checksum += db.lookup(mapped, 6, r) + r.prefix;
    const auto ecs = meridian::geo::clientFromEcs(1, 24, v4, 3);
    checksum += db.lookup(ecs, r);
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    std::memcpy(&sin6.sin6_addr, mapped, 16);
    const auto source = meridian::geo::clientFromSockaddr(reinterpret_cast<sockaddr*>(&sin6));
    checksum += db.lookup(source, r);
    if (r.has_location) {
      checksum +=
          static_cast<uint64_t>(meridian::geo::greatCircleKm(r.latitude, r.longitude, 53.3, -6.3));
    }
    if (const auto* country = meridian::geo::findCountry(r.country))
      checksum += country->name.size();
    checksum += meridian::geo::isValidCountryCode(r.country) +
                meridian::geo::isValidContinentCode(r.continent);
  }
  return checksum;
}

}  // namespace

TEST_CASE("the counter sees operator new and malloc (so zero below means something)") {
  g_allocations = 0;
  g_counting = true;
  int* p = new int(7);
  void* q = std::malloc(16);
  // Keep the compiler from eliding the pairs (clang does, C++14 allows it).
  asm volatile("" : : "g"(p), "g"(q) : "memory");
  g_counting = false;
  delete p;
  std::free(q);
#if defined(__SANITIZE_ADDRESS__)
  CHECK(g_allocations.load() >= 1);
#else
  CHECK(g_allocations.load() == 2);
#endif
}

TEST_CASE("geo lookups, client subnets, distance and country table allocate nothing") {
  // Opening allocates (control plane): do it before counting.
  auto city = GeoDatabase::open(meridian::test::geoipTestFile("GeoIP2-City-Test.mmdb"));
  auto country = GeoDatabase::open(meridian::test::geoipTestFile("GeoIP2-Country-Test.mmdb"));
  std::unique_ptr<GeoDatabase> fallback;
  if (std::filesystem::exists(MERIDIAN_DEFAULT_GEODB)) {
    fallback = GeoDatabase::open(MERIDIAN_DEFAULT_GEODB);
  } else {
    MESSAGE("default DB not built; checking the MaxMind test DBs only");
  }

  g_allocations = 0;
  g_counting = true;
  uint64_t checksum = exercise(*city, 100000) + exercise(*country, 100000);
  if (fallback) checksum += exercise(*fallback, 100000);
  g_counting = false;

  CHECK(g_allocations.load() == 0);
  CHECK(checksum != 0);
}
