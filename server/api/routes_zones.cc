// /api/v1/zones: zones, their RRsets and their steered names.

#include <cmath>
#include <cstdlib>

#include "server/api/api_server.h"
#include "server/api/route_util.h"
#include "server/api/router.h"
#include "zones/json_fields.h"
#include "zones/record_store.h"
#include "zones/steering_store.h"
#include "zones/zone_io.h"
#include "zones/zone_json.h"

namespace meridian::api {

namespace {

using zones::ValidationError;

zones::ParsedZone parseZoneFileField(const std::string& text,
                                     const std::optional<std::string>& zone) {
  try {
    return zones::parseZoneText(text, "zonefile", zone);
  } catch (const zones::ZoneError& e) {
    throw ValidationError("zonefile", e.what());
  }
}

// POST /api/v1/zones: {"name":"example.com.","zonefile":"..."} or
// {"name":"example.com.","nameservers":["ns1.example.net."]}.
Response createZone(HandlerContext& ctx, const Request& req) {
  const nlohmann::json body = req.json();
  zones::ObjectReader in(body, "", {"name", "zonefile", "nameservers"});
  const bool has_file = in.has("zonefile");
  const bool has_ns = in.has("nameservers");
  if (has_file == has_ns) {
    throw ValidationError(has_file ? "nameservers" : "zonefile",
                          "give exactly one of \"zonefile\" and \"nameservers\"");
  }
  std::optional<std::string> name;
  if (auto n = in.optionalString("name")) {
    try {
      name = zones::zoneNameFromText(*n);
    } catch (const ValidationError& e) {
      throw ValidationError("name", e.detail());
    }
  }
  std::vector<std::string> warnings;  // e.g. missing glue: stored anyway, but say so
  if (has_file) {
    const std::string text = zones::stringValue(*in.raw("zonefile"), "zonefile");
    const zones::ParsedZone parsed = parseZoneFileField(text, name);
    zones::importZone(ctx.db(), parsed, false);
    name = parsed.name;
    warnings = parsed.warnings;
  } else {
    if (!name) throw ValidationError("name", "is required");
    warnings = zones::createZone(ctx.db(), *name, in.strings("nameservers"));
  }
  nlohmann::json doc = zones::zoneJson(ctx.db(), *name);
  doc["warnings"] = warnings;
  return created(doc, "/api/v1/zones/" + pathSegment(*name));
}

// PUT /api/v1/zones/{zone}: {"zonefile":"..."} replaces every record.
Response replaceZone(HandlerContext& ctx, const Request& req) {
  const std::string zone = zoneParam(req.params[0]);
  const nlohmann::json body = req.json();
  zones::ObjectReader in(body, "", {"name", "zonefile"});
  if (auto n = in.optionalString("name")) {
    if (zones::zoneNameFromText(*n) != zone) {
      throw ValidationError("name", "does not match the zone in the URL");
    }
  }
  const zones::ParsedZone parsed = parseZoneFileField(in.string("zonefile"), zone);
  const bool existed = zones::findZone(ctx.db(), zone).has_value();
  zones::importZone(ctx.db(), parsed, true);
  nlohmann::json doc = zones::zoneJson(ctx.db(), zone);
  doc["warnings"] = parsed.warnings;
  return Response::json(existed ? 200 : 201, doc);
}

Response listRRsets(HandlerContext& ctx, const Request& req) {
  const std::string zone = zoneParam(req.params[0]);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& rrset : zones::listRecordSets(ctx.db(), zone)) out.push_back(toJson(rrset));
  return Response::json(200, out);
}

Response getRRset(HandlerContext& ctx, const Request& req) {
  const std::string zone = zoneParam(req.params[0]);
  const std::string owner = zones::ownerInZone(req.params[1], zone);
  const uint16_t type = typeParam(req.params[2]);
  for (const auto& rrset : zones::listRecordSets(ctx.db(), zone)) {
    if (rrset.name == owner && rrset.type == type) return Response::json(200, toJson(rrset));
  }
  throw zones::NotFoundError("no " + zones::typeToText(type) + " RRset at " + owner);
}

Response putRRset(HandlerContext& ctx, const Request& req) {
  const std::string zone = zoneParam(req.params[0]);
  const std::string owner = zones::ownerInZone(req.params[1], zone);
  const uint16_t type = typeParam(req.params[2]);
  const zones::RecordSet rrset = zones::parseRecordSet(req.json(), zone, owner, type);
  const bool was_created = zones::putRecordSet(ctx.db(), zone, rrset);
  // Answer with what is stored (a PUT SOA may have had its serial raised).
  for (const auto& stored : zones::listRecordSets(ctx.db(), zone)) {
    if (stored.name == owner && stored.type == type) {
      return Response::json(was_created ? 201 : 200, toJson(stored));
    }
  }
  return Response::json(was_created ? 201 : 200, toJson(rrset));
}

Response deleteRRset(HandlerContext& ctx, const Request& req) {
  const std::string zone = zoneParam(req.params[0]);
  const std::string owner = zones::ownerInZone(req.params[1], zone);
  zones::deleteRecordSet(ctx.db(), zone, owner, typeParam(req.params[2]));
  return Response::noContent();
}

Response listSteering(HandlerContext& ctx, const Request& req) {
  const std::string zone = zoneParam(req.params[0]);
  nlohmann::json out = nlohmann::json::array();
  for (const auto& s : zones::listSteeredNames(ctx.db(), zone)) out.push_back(toJson(s));
  return Response::json(200, out);
}

Response getSteering(HandlerContext& ctx, const Request& req) {
  const std::string zone = zoneParam(req.params[0]);
  const std::string owner = zones::ownerInZone(req.params[1], zone);
  return Response::json(200,
                        toJson(zones::getSteeredName(ctx.db(), zone, owner, steeredTypeArg(req))));
}

Response putSteering(HandlerContext& ctx, const Request& req) {
  const std::string zone = zoneParam(req.params[0]);
  const std::string owner = zones::ownerInZone(req.params[1], zone);
  const zones::SteeredName steered = zones::parseSteeredName(req.json(), zone, owner);
  const bool was_created = zones::putSteeredName(ctx.db(), steered);
  nlohmann::json doc = toJson(steered);
  // Stored anyway (the database may be replaced by one that has them), but
  // say that these keys cannot match today; /metrics counts them too.
  if (ctx.hooks.geo_has_subdivisions && !ctx.hooks.geo_has_subdivisions()) {
    nlohmann::json warnings = nlohmann::json::array();
    for (const std::string& key : zones::subdivisionKeys(steered)) {
      warnings.push_back("key \"" + key +
                         "\" names a subdivision, but the loaded geo database has no subdivision "
                         "data, so it never matches (use --geodb with a City database)");
    }
    if (!warnings.empty()) doc["warnings"] = std::move(warnings);
  }
  return Response::json(was_created ? 201 : 200, doc);
}

Response deleteSteering(HandlerContext& ctx, const Request& req) {
  const std::string zone = zoneParam(req.params[0]);
  const std::string owner = zones::ownerInZone(req.params[1], zone);
  zones::deleteSteeredName(ctx.db(), zone, owner, steeredTypeArg(req));
  return Response::noContent();
}

// The capacity-collapse table: the stored capacities and places, the
// snapshot's steering and the recent answer counts (through the hook).
Response getCapacity(HandlerContext& ctx, const Request& req) {
  const std::string zone = zoneParam(req.params[0]);
  const std::string owner = zones::ownerInZone(req.params[1], zone);
  const zones::SteeredName steered = zones::getSteeredName(ctx.db(), zone, owner, steeredTypeArg(req));
  nlohmann::json inputs = {{"endpoint_capacity", nlohmann::json::object()},
                           {"places", nlohmann::json::object()},
                           {"peak", nullptr}};
  const std::string peak = req.arg("peak");
  if (!peak.empty()) {
    char* end = nullptr;
    const double value = std::strtod(peak.c_str(), &end);
    if (end == peak.c_str() || *end != '\0' || !(value > 0) || !std::isfinite(value)) {
      throw zones::ValidationError("peak", "\"" + peak +
                                               "\" is not a positive number (the name's busiest "
                                               "demand, in the units of endpoint capacity)");
    }
    inputs["peak"] = value;
  }
  if (!ctx.hooks.capacity) {
    throw HttpError(501, "Not implemented",
                    "capacity needs meridiand's DNS snapshot and answer counters; this API server "
                    "runs without them");
  }
  for (const zones::Endpoint& e : zones::listEndpoints(ctx.db())) {
    if (e.capacity) inputs["endpoint_capacity"][e.name] = *e.capacity;
  }
  for (const zones::Region& r : zones::listRegions(ctx.db())) {
    inputs["places"][r.name] = {{"continent", r.continent.value_or("")},
                                {"country", r.countries.empty() ? "" : r.countries.front()}};
  }
  return Response::json(200, ctx.hooks.capacity(owner, steered.type, inputs));
}

}  // namespace

void addZoneRoutes(Router& r) {
  r.add("GET", "/api/v1/zones", [](HandlerContext& ctx, const Request&) {
    return Response::json(200, zones::zoneListJson(ctx.db()));
  });
  r.add("POST", "/api/v1/zones", createZone, kZoneFileBodyLimit);
  r.add("GET", "/api/v1/zones/{}", [](HandlerContext& ctx, const Request& req) {
    return Response::json(200, zones::zoneJson(ctx.db(), zoneParam(req.params[0])));
  });
  r.add("PUT", "/api/v1/zones/{}", replaceZone, kZoneFileBodyLimit);
  r.add("DELETE", "/api/v1/zones/{}", [](HandlerContext& ctx, const Request& req) {
    const std::string zone = zoneParam(req.params[0]);
    if (!zones::deleteZone(ctx.db(), zone)) {
      throw zones::NotFoundError("zone " + zone + " does not exist");
    }
    return Response::noContent();
  });
  r.add("GET", "/api/v1/zones/{}/export", [](HandlerContext& ctx, const Request& req) {
    const std::string zone = zoneParam(req.params[0]);
    try {
      return Response{200, "text/dns; charset=utf-8", zones::exportZone(ctx.db(), zone), {}};
    } catch (const zones::ZoneError& e) {
      throw zones::NotFoundError(e.what());
    }
  });
  r.add("GET", "/api/v1/zones/{}/rrsets", listRRsets);
  r.add("GET", "/api/v1/zones/{}/rrsets/{}/{}", getRRset);
  r.add("PUT", "/api/v1/zones/{}/rrsets/{}/{}", putRRset);
  r.add("DELETE", "/api/v1/zones/{}/rrsets/{}/{}", deleteRRset);
  r.add("GET", "/api/v1/zones/{}/steering", listSteering);
  r.add("GET", "/api/v1/zones/{}/steering/{}", getSteering);
  r.add("PUT", "/api/v1/zones/{}/steering/{}", putSteering);
  r.add("DELETE", "/api/v1/zones/{}/steering/{}", deleteSteering);
  r.add("GET", "/api/v1/zones/{}/steering/{}/capacity", getCapacity);
}

}  // namespace meridian::api
