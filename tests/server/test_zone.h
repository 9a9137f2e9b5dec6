#pragma once
// The zone most server tests answer from, and a helper that runs it through
// the real import -> SQLite -> compile path.

#include <memory>
#include <string>

#include "server/query_handler.h"
#include "tests/support/dns_test_util.h"
#include "zones/compiler.h"
#include "zones/zone_io.h"

namespace meridian::test {

inline const char* kExampleZone = R"(
$ORIGIN example.com.
$TTL 3600
@        IN SOA  ns1.example.com. hostmaster.example.com. 2026112701 7200 3600 1209600 300
@        IN NS   ns1.example.com.
@        IN NS   ns2.example.net.
@        IN MX   10 mail.example.com.
@        IN A    192.0.2.1
ns1      IN A    192.0.2.53
ns1      IN AAAA 2001:db8::53
www      IN A    192.0.2.10
www      IN A    192.0.2.11
www      IN AAAA 2001:db8::10
mail     IN A    192.0.2.25
alias    IN CNAME www
chain1   IN CNAME chain2
chain2   IN CNAME www.example.com.
outside  IN CNAME www.example.org.
dangling IN CNAME nothere
loop1    IN CNAME loop2
loop2    IN CNAME loop1
*.wild   IN A    192.0.2.99
*.wild   IN TXT  "wildcard"
a.b.c.deep IN A  192.0.2.77
txt      IN TXT  "hello world" "second string"
sub      IN NS   ns1.sub.example.com.
sub      IN NS   ns.elsewhere.net.
sub      IN DS   12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns1.sub  IN A    192.0.2.200
big      IN TXT  "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT  "1123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT  "2123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT  "3123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT  "4123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
big      IN TXT  "5123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
)";

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
