#include "server/demo.h"

#include "zones/zone_io.h"

namespace meridian::server {

namespace {

// RFC 2606 reserves .example, so the demo can never clash with a real name.
const char* kDemoZone = R"(; Meridian's embedded demo zone.
$ORIGIN demo.meridian.example.
$TTL 300
@       SOA   ns1 hostmaster 1 3600 600 604800 60
@       NS    ns1
@       NS    ns2
ns1     A     127.0.0.1
ns2     AAAA  ::1
@       A     192.0.2.1
@       MX    10 mail
www     A     192.0.2.10
www     A     192.0.2.11
www     AAAA  2001:db8::10
mail    A     192.0.2.25
app     CNAME www
*.pages A     192.0.2.80
info    TXT   "Meridian demo zone: try www, app, anything.pages, and a name that does not exist"
)";

}  // namespace

bool seedDemo(zones::Database& db) {
  if (!zones::listZones(db).empty()) return false;
  zones::storeZone(db, zones::parseZoneText(kDemoZone, "embedded demo zone", kDemoZoneName));
  return true;
}

}  // namespace meridian::server
