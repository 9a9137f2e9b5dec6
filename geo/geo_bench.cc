// meridian-geo-bench: how long GeoDatabase::lookup takes, and what it returns.
//
//   meridian-geo-bench DB.mmdb [COUNT]         COUNT (default 1000000) random
//                                              IPv4 and IPv6 (2000::/3) lookups
//   meridian-geo-bench DB.mmdb --lookup IP...  print the GeoRecord for each IP
//
// A measurement tool, not a test: numbers depend on the machine and the cache.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

#include "common/ip_address.h"
#include "geo/mmdb.h"

namespace {

using meridian::geo::GeoDatabase;
using meridian::geo::GeoRecord;

double threadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// xorshift64: fixed seed, so two runs look up the same addresses.
uint64_t next(uint64_t& state) {
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

void run(const GeoDatabase& db, int family, size_t count) {
  const size_t width = family == 4 ? 4 : 16;
  std::vector<uint8_t> addresses(count * width);
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < addresses.size(); i += 8) {
    const uint64_t r = next(state);
    std::memcpy(&addresses[i], &r, std::min<size_t>(8, addresses.size() - i));
  }
  if (family == 6) {
    for (size_t i = 0; i < count; ++i) addresses[i * 16] = 0x20 | (addresses[i * 16] & 0x1f);
  }
  size_t found = 0, prefix_sum = 0;
  GeoRecord record;
  // Thread CPU time as well as wall time: on a busy 2-core machine the wall
  // clock also counts time the benchmark spent descheduled.
  const auto start = std::chrono::steady_clock::now();
  const double cpu_start = threadCpuNs();
  for (size_t i = 0; i < count; ++i) {
    found += db.lookup(&addresses[i * width], family, record);
    prefix_sum += record.prefix;
  }
  const double cpu_ns = threadCpuNs() - cpu_start;
  const auto ns =
      std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start);
  std::printf(
      "IPv%d: %zu lookups, %.1f ns CPU (%.1f ns wall) per lookup, %.1f%% found, "
      "mean prefix %.1f\n",
      family, count, cpu_ns / count, ns.count() / count, 100.0 * found / count,
      double(prefix_sum) / count);
}

int printLookup(const GeoDatabase& db, const char* text) {
  const std::optional<meridian::common::IpAddress> address = meridian::common::parseIpAddress(text);
  if (!address) {
    std::fprintf(stderr, "%s: not an IP address\n", text);
    return 1;
  }
  GeoRecord r;
  const bool found = db.lookup(address->bytes, address->family, r);
  std::printf("%s: %s prefix=%u country=%s continent=%s subdivision=%s", text,
              found ? "found" : "not-found", r.prefix, r.country, r.continent, r.subdivision);
  if (r.has_location) {
    std::printf(" location=%.4f,%.4f%s", r.latitude, r.longitude,
                r.location_from_country ? " (country point)" : "");
  }
  std::printf("\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DB.mmdb [COUNT | --lookup IP...]\n", argv[0]);
    return 2;
  }
  std::unique_ptr<GeoDatabase> db;
  const auto start = std::chrono::steady_clock::now();
  try {
    db = GeoDatabase::open(argv[1]);
  } catch (const meridian::geo::GeoError& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  const auto ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  std::printf("%s: %s, opened and validated in %.1f ms\n", argv[1], db->info().summary().c_str(),
              ms.count());

  if (argc > 2 && std::strcmp(argv[2], "--lookup") == 0) {
    int status = 0;
    for (int i = 3; i < argc; ++i) status |= printLookup(*db, argv[i]);
    return status;
  }
  const size_t count = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000000;
  if (count == 0) {
    std::fprintf(stderr, "COUNT must be a positive number\n");
    return 2;
  }
  run(*db, 4, count);
  run(*db, 6, count);
  return 0;
}
