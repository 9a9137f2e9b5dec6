// meridianctl zone ... and rrset ...: over the API, or on the database file
// directly with --db (zone import/list/show/delete/export; check needs neither).

#include <fstream>
#include <iostream>

#include "tools/meridianctl/ctl.h"
#include "tools/meridianctl/table.h"
#include "zones/record_store.h"
#include "zones/steering_store.h"
#include "zones/zone_io.h"
#include "zones/zone_json.h"

namespace meridian::ctl {

namespace {

struct ZoneArgs {
  std::string file;
  std::string zone;
  bool replace = false;
  std::string name;
  std::string type;
  int64_t ttl = 0;
  std::vector<std::string> rdata;
};

void printZones(const Context& ctx, const nlohmann::json& zones) {
  if (ctx.json) return ctx.printJson(zones);
  Table table({"ZONE", "SERIAL", "RECORDS"});
  for (const auto& z : zones)
    table.add({cell(z["name"]), cell(z["serial"]), cell(z["record_count"])});
  table.print(std::cout);
}

void printRRsets(const nlohmann::json& rrsets) {
  Table table({"NAME", "TTL", "TYPE", "RDATA"});
  for (const auto& rrset : rrsets) {
    for (const auto& record : rrset["records"]) {
      table.add({cell(rrset["name"]), cell(rrset["ttl"]), cell(rrset["type"]), cell(record)});
    }
  }
  table.print(std::cout);
}

void printZone(const Context& ctx, const nlohmann::json& zone) {
  if (ctx.json) return ctx.printJson(zone);
  std::cout << "zone     " << cell(zone["name"]) << "\nserial   " << cell(zone["serial"])
            << "\nrecords  " << cell(zone["record_count"]) << "\n\n";
  printRRsets(zone["rrsets"]);
  if (zone.contains("steering") && !zone["steering"].empty()) {
    std::cout << '\n';
    Table table({"STEERED", "TYPE", "POLICY", "REGIONS", "TTL"});
    for (const auto& s : zone["steering"]) {
      table.add({cell(s["name"]), cell(s["type"]), cell(s["policy"]), cell(s["regions"]),
                 cell(s["ttl"])});
    }
    table.print(std::cout);
  }
}

std::optional<std::string> optionalZone(const std::string& zone) {
  if (zone.empty()) return std::nullopt;
  return zone;
}

// The zone file named on the command line, parsed and checked.
zones::ParsedZone parseFile(const ZoneArgs& a) {
  try {
    return zones::parseZoneFile(a.file, optionalZone(a.zone));
  } catch (const zones::UnknownOriginError& e) {
    throw CtlError(std::string(e.what()) + "; give the zone with --zone NAME");
  }
}

void zoneImport(Context& ctx, const ZoneArgs& a) {
  if (ctx.offline()) {
    zones::Database db(ctx.db);
    const zones::ParsedZone parsed = parseFile(a);
    const size_t count = zones::importZone(db, parsed, a.replace);
    printWarnings(parsed.warnings);
    std::cout << "imported " << count << " records into " << parsed.name << '\n';
    return;
  }
  // Parse locally first: errors then name the file and line, and the upload
  // names the zone even when the file's SOA had to supply it. The warnings
  // printed are the server's, from its answer.
  const zones::ParsedZone parsed = parseFile(a);
  std::ifstream in(a.file, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const nlohmann::json body = {{"name", parsed.name}, {"zonefile", text}};
  const ApiReply reply =
      a.replace ? ctx.api().call("PUT", "/api/v1/zones/" + ctx.api().escape(parsed.name), body)
                : ctx.api().call("POST", "/api/v1/zones", body);
  const nlohmann::json doc = reply.json();
  if (doc.contains("warnings")) printWarnings(doc["warnings"]);
  if (ctx.json) return ctx.printJson(doc);
  std::cout << "imported " << cell(doc["record_count"]) << " records into " << cell(doc["name"])
            << " (serial " << cell(doc["serial"]) << ")\n";
}

void addZoneGroup(CLI::App& app, Context& ctx, ZoneArgs& a) {
  CLI::App* zone = app.add_subcommand("zone", "hosted zones (offline with --db)")->alias("zones");
  zone->require_subcommand(1);

  CLI::App* import = zone->add_subcommand("import", "import an RFC 1035 zone file");
  import->add_option("FILE", a.file, "zone file")->required();
  import->add_option("--zone", a.zone,
                     "zone name (default: the SOA's owner; required when the file uses relative "
                     "names without $ORIGIN)");
  import->add_flag("--replace", a.replace, "replace the zone's records if it exists");
  import->callback([&] { zoneImport(ctx, a);
});

zone->add_subcommand("list", "list zones")->callback([&] {
  if (ctx.offline()) {
    zones::Database db(ctx.db, false);
    return printZones(ctx, zones::zoneListJson(db));
  }
  printZones(ctx, ctx.api().call("GET", "/api/v1/zones").json());
});

CLI::App* show = zone->add_subcommand("show", "a zone's records and steered names");
show->add_option("NAME", a.zone, "zone")->required();
show->callback([&] {
  if (ctx.offline()) {
    zones::Database db(ctx.db, false);
    // The same document the API's GET /api/v1/zones/{zone} answers.
    return printZone(ctx, zones::zoneJson(db, zones::zoneNameFromText(a.zone)));
  }
  printZone(ctx, ctx.api().call("GET", "/api/v1/zones/" + ctx.api().escape(a.zone)).json());
});

CLI::App* del = zone->add_subcommand("delete", "delete a zone and everything in it");
del->add_option("NAME", a.zone, "zone")->required();
del->callback([&] {
  if (ctx.offline()) {
    zones::Database db(ctx.db, false);
    if (!zones::deleteZone(db, zones::zoneNameFromText(a.zone))) {
      throw CtlError("zone " + a.zone + " does not exist");
    }
  } else {
    ctx.api().call("DELETE", "/api/v1/zones/" + ctx.api().escape(a.zone));
  }
  std::cout << "deleted zone " << a.zone << '\n';
});

CLI::App* exp = zone->add_subcommand("export", "print a zone as an RFC 1035 zone file");
exp->add_option("NAME", a.zone, "zone")->required();
exp->callback([&] {
  if (ctx.offline()) {
    zones::Database db(ctx.db, false);
    std::cout << zones::exportZone(db, zones::zoneNameFromText(a.zone));
    return;
  }
  std::cout << ctx.api().call("GET", "/api/v1/zones/" + ctx.api().escape(a.zone) + "/export").body;
});

CLI::App* check = zone->add_subcommand("check", "parse and validate a zone file; store nothing");
check->add_option("FILE", a.file, "zone file")->required();
check->add_option("--zone", a.zone,
                  "zone name (default: the SOA's owner; required when the file uses relative "
                  "names without $ORIGIN)");
check->callback([&] {
  const zones::ParsedZone parsed = parseFile(a);
  printWarnings(parsed.warnings);
  std::cout << a.file << ": zone " << parsed.name << " OK, " << parsed.records.size() << " records";
  if (!parsed.warnings.empty()) std::cout << ", " << parsed.warnings.size() << " warnings";
  std::cout << '\n';
});
}  // namespace

void addRRsetGroup(CLI::App& app, Context& ctx, ZoneArgs& a) {
  CLI::App* rrset = app.add_subcommand("rrset", "RRsets of a zone (over the API)")->alias("rrsets");
  rrset->require_subcommand(1);

  CLI::App* list = rrset->add_subcommand("list", "list a zone's RRsets");
  list->add_option("ZONE", a.zone, "zone")->required();
  list->callback([&] {
    const nlohmann::json doc =
        ctx.api().call("GET", "/api/v1/zones/" + ctx.api().escape(a.zone) + "/rrsets").json();
    if (ctx.json) return ctx.printJson(doc);
    printRRsets(doc);
  });

  CLI::App* set = rrset->add_subcommand("set", "create or replace one RRset");
  set->add_option("ZONE", a.zone, "zone")->required();
  set->add_option("NAME", a.name, "owner (@, relative or absolute)")->required();
  set->add_option("TYPE", a.type, "record type")->required();
  set->add_option("TTL", a.ttl, "TTL in seconds")->required();
  set->add_option("RDATA", a.rdata, "one argument per record, e.g. \"10 mail\"")->required();
  set->callback([&] {
    const std::string path = "/api/v1/zones/" + ctx.api().escape(a.zone) + "/rrsets/" +
                             ctx.api().escape(a.name) + "/" + ctx.api().escape(a.type);
    const nlohmann::json doc =
        ctx.api().call("PUT", path, nlohmann::json{{"ttl", a.ttl}, {"records", a.rdata}}).json();
    if (ctx.json) return ctx.printJson(doc);
    printRRsets(nlohmann::json::array({doc}));
  });

  CLI::App* del = rrset->add_subcommand("delete", "delete one RRset");
  del->add_option("ZONE", a.zone, "zone")->required();
  del->add_option("NAME", a.name, "owner")->required();
  del->add_option("TYPE", a.type, "record type")->required();
  del->callback([&] {
    ctx.api().call("DELETE", "/api/v1/zones/" + ctx.api().escape(a.zone) + "/rrsets/" +
                                 ctx.api().escape(a.name) + "/" + ctx.api().escape(a.type));
    std::cout << "deleted " << a.name << " " << a.type << '\n';
  });
}

}  // namespace meridian::ctl

void addZoneCommands(CLI::App& app, Context& ctx) {
  static ZoneArgs args;  // CLI11 writes into it while parsing; lives for the run
  addZoneGroup(app, ctx, args);
  addRRsetGroup(app, ctx, args);
}

}  // namespace meridian::ctl
