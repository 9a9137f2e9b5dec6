#include "server/demo.h"

#include "zones/model.h"
#include "zones/steering_store.h"
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
info    TXT   "Meridian demo zone: try www, app, anything.pages, lb and geo with +subnet"
)";

struct DemoRegion {
  const char* name;
  double latitude, longitude;
  const char* endpoint;
  const char* address;
};

// Three regions on three continents, one documentation-range address each.
const DemoRegion kRegions[] = {
    {"eu-west", 53.35, -6.26, "eu-west-1", "192.0.2.101"},     // Dublin
    {"us-east", 38.90, -77.04, "us-east-1", "198.51.100.101"},  // Virginia
    {"ap-south", 19.08, 72.88, "ap-south-1", "203.0.113.101"},  // Mumbai
};

}  // namespace

bool seedDemo(zones::Database& db) {
  if (!zones::listZones(db).empty()) return false;
  zones::storeZone(db, zones::parseZoneText(kDemoZone, "embedded demo zone", kDemoZoneName));
  for (const DemoRegion& r : kRegions) {
    zones::Region region;
    region.name = r.name;
    region.latitude = r.latitude;
    region.longitude = r.longitude;
    zones::createRegion(db, region);
    zones::Endpoint endpoint;
    endpoint.name = r.endpoint;
    endpoint.region = r.name;
    endpoint.address = r.address;
    zones::createEndpoint(db, endpoint);
  }
  // lb: the nearest region to the client; geo: by continent.
  const std::string zone = kDemoZoneName;
  zones::putSteeredName(
      db, zones::parseSteeredName({{"type", "A"}, {"policy", "nearest"},
                                   {"regions", {"eu-west", "us-east", "ap-south"}}, {"ttl", 30}},
                                  zone, "lb." + zone));
  zones::putSteeredName(
      db, zones::parseSteeredName(
              {{"type", "A"}, {"policy", "geo"}, {"regions", {"eu-west", "us-east", "ap-south"}},
               {"ttl", 30},
               {"geo_map", {{"EU", {"eu-west"}}, {"AF", {"eu-west"}}, {"AS", {"ap-south"}},
                            {"OC", {"ap-south"}}, {"default", {"us-east"}}}}},
              zone, "geo." + zone));
  return true;
}

}  // namespace meridian::server
