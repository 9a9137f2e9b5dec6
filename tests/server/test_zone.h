#pragma once
// The zone most server tests answer from, and a helper that runs it through
// the real import -> SQLite -> compile path.

#include <memory>
#include <string>

#include "server/query_handler.h"
#include "tests/support/dns_test_util.h"
#include "tests/support/example_zone.h"
#include "zones/compiler.h"
#include "zones/zone_io.h"

namespace meridian::test {

/// A zone for additional-section processing: MX, SRV and NS targets inside
/// the zone (with A, AAAA, both or neither), outside it, below a zone cut,
/// repeated, in upper case, and an MX RRset with more targets than 512
/// octets hold.
inline std::string targetsZone() {
  std::string zone = R"(
$ORIGIN targets.test.
$TTL 300
@          SOA  ns1 hostmaster 1 3600 600 604800 60
@          NS   ns1
@          NS   ns.elsewhere.example.
@          MX   10 mx1
@          MX   20 mx2
@          MX   30 mx1
@          MX   40 mx.elsewhere.example.
ns1        A    192.0.2.53
mx1        A    192.0.2.25
mx1        AAAA 2001:db8::25
mx2        AAAA 2001:db8::26
_imap._tcp SRV  0 1 993 IMAP
_imap._tcp SRV  1 1 993 nohost
_none._tcp SRV  0 0 0 .
imap       A    192.0.2.143
cut        NS   ns.cut
ns.cut     A    192.0.2.77
below      MX   10 ns.cut
)";
  for (int i = 0; i < 20; ++i) {
    std::string host = "h";  // appended: g++ 12 -O3 -Wrestrict (GCC bug 105329)
    host += std::to_string(i);
    zone += "many MX 10 " + host + "\n" + host + " A 192.0.2." + std::to_string(100 + i) + "\n";
  }
  return zone;
}

/// Imports `zone_text` into a fresh database in `dir` and compiles it.
inline server::Snapshot snapshotFor(const TempDir& dir, const std::string& zone_text,
                                    const std::string& zone_name = "example.com.") {
  zones::Database db(dir.file("zones.db"));
  zones::storeZone(db, zones::parseZoneText(zone_text, "test", zone_name));
  server::Snapshot snapshot;
  snapshot.zones = zones::compileZones(db);
  snapshot.generation = 1;
  return snapshot;
}

/// Runs one query through handleQuery and decodes the answer.
struct QueryRunner {
  server::DnsCounters counters;
  server::QueryContext context;
  std::vector<uint8_t> buffer = std::vector<uint8_t>(65535);
  size_t last_length = 0;

  QueryRunner() { context.counters = &counters; }

  Response run(const server::Snapshot& snapshot, const std::vector<uint8_t>& query,
               server::Transport transport = server::Transport::kUdp) {
    server::ClientAddress client;
    client.family = 4;
    client.bytes[0] = 198;
    client.bytes[1] = 51;
    client.bytes[2] = 100;
    client.bytes[3] = 7;
    last_length = server::handleQuery(snapshot, context, query.data(), query.size(), client,
                                      transport, buffer.data(), buffer.size());
    return decode(buffer.data(), last_length);
  }
};

}  // namespace meridian::test
