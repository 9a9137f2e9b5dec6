// meridianctl region / endpoint / steering / vantage / health / capacity / explain: over the API.

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tools/meridianctl/ctl.h"
#include "tools/meridianctl/table.h"

namespace meridian::ctl {

namespace {

struct SteeringArgs {
  std::string name;
  // region
  double latitude = 0;
  double longitude = 0;
  std::string continent;
  std::string countries;
  std::string min_healthy;
  // endpoint
  std::string region;
  std::string address;
  std::string vote;
  std::optional<int64_t> weight;
  std::optional<int64_t> capacity;
  std::optional<double> load;        // endpoint load --set
  std::optional<double> error_rate;  // endpoint load --error-rate
  std::string state;
  std::string check;
  std::string readiness;
  // steering
  std::string zone;
  std::string type;
  std::string policy;
  std::string regions;
  std::optional<int64_t> ttl;
  std::optional<int64_t> max_answers;
  std::string when_all_down;
  std::string geo_map;
  std::optional<double> panic_threshold;
  std::optional<int64_t> slow_start_s;
  std::string prefix_map;
  std::string asn_map;
  std::string geofence;
  std::optional<bool> geofence_strict;
  std::string fallback;
  std::optional<double> peak;
  std::string latency_source;
  std::optional<double> shed_low, shed_high, outlier_error_rate, outlier_max_ejected;
  std::optional<int64_t> outlier_interval_s, outlier_base_ejection_s, outlier_max_ejection_s;
  // explain
  std::string client;
};

nlohmann::json parseJsonOption(const std::string& text, const std::string& option) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded()) throw CtlError(option + " is not valid JSON: " + text);
  return doc;
}

// "EU=eu-west,us-east;default=us-east" or a JSON object, for --geo-map,
// --prefix-map, --asn-map and --geofence; "@FILE" reads either form from
// FILE (a 10,000-entry prefix_map does not fit one command-line argument,
// which Linux caps at 128 KiB).
nlohmann::json parseGeoMap(const std::string& argument,
                           const std::string& option = "--geo-map") {
  std::string text = argument;
  if (!text.empty() && text.front() == '@') {
    const std::string path = text.substr(1);
    std::ifstream in(path, std::ios::binary);
    std::ostringstream content;
    if (!in || !(content << in.rdbuf())) {
      throw CtlError(option + " " + argument + ": cannot read " + path + ": " +
                     std::strerror(errno));
    }
    text = content.str();
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
    if (!text.empty() && text.front() == '{') {
      // Named by file: the content may be far too long to quote.
      nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
      if (doc.is_discarded()) throw CtlError(option + " " + argument + ": not valid JSON");
      return doc;
    }
  }
  if (!text.empty() && text.front() == '{') return parseJsonOption(text, option);
  nlohmann::json map = nlohmann::json::object();
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(';', start);
    if (end == std::string::npos) end = text.size();
    const std::string item = text.substr(start, end - start);
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw CtlError(option + " item \"" + item + "\" is not KEY=region,region");
    }
    map[item.substr(0, eq)] = splitList(item.substr(eq + 1));
    start = end + 1;
  }
  return map;
}

void printRegions(const nlohmann::json& regions) {
  Table table({"REGION", "LATITUDE", "LONGITUDE", "CONTINENT", "COUNTRIES", "MIN_HEALTHY"});
  for (const auto& r : regions) {
    table.add({cell(r["name"]), cell(r["latitude"]), cell(r["longitude"]), cell(r["continent"]),
               cell(r["countries"]), r.contains("min_healthy") ? cell(r["min_healthy"]) : "-"});
  }
  table.print(std::cout);
}

std::string checkCell(const nlohmann::json& check) {
  if (check.is_null()) return "-";
  std::string text = cell(check["type"]);
  if (check.contains("url")) text += " " + cell(check["url"]);
  if (check.contains("port") && !check.contains("url")) text += " :" + cell(check["port"]);
  return text;
}

void printEndpoints(const nlohmann::json& endpoints) {
  Table table({"ENDPOINT", "REGION", "ADDRESS", "WEIGHT", "CAPACITY", "STATE", "CHECK"});
  for (const auto& e : endpoints) {
    table.add({cell(e["name"]), cell(e["region"]), cell(e["address"]), cell(e["weight"]),
               cell(e["capacity"]), cell(e["state"]), checkCell(e["check"])});
  }
  table.print(std::cout);
}

void printSteering(const nlohmann::json& list) {
  Table table({"NAME", "TYPE", "POLICY", "REGIONS", "TTL", "MAX", "ALL-DOWN"});
  for (const auto& s : list) {
    table.add({cell(s["name"]), cell(s["type"]), cell(s["policy"]), cell(s["regions"]),
               cell(s["ttl"]), cell(s["max_answers"]), cell(s["when_all_down"])});
  }
  table.print(std::cout);
  for (const auto& s : list) {
    if (!s.contains("geo_map")) continue;
    for (const auto& item : s["geo_map"].items()) {
      std::cout << "  " << cell(s["name"]) << " geo " << item.key() << " -> " << cell(item.value())
                << '\n';
    }
  }
}

void printVantages(const nlohmann::json& list) {
  Table table({"NAME", "STATE", "LAST-WRITE", "LOCATION"});
  for (const auto& v : list) {
    char age[48];
    std::snprintf(age, sizeof age, "%.1f s ago", v.value("age_ms", int64_t{0}) / 1000.0);
    std::string location = "-";
    if (v.contains("latitude") && !v["latitude"].is_null()) {
      char where[64];
      std::snprintf(where, sizeof where, "%.4f,%.4f", v["latitude"].get<double>(),
                    v["longitude"].get<double>());
      location = where;
    }
    table.add({cell(v["name"]), v.value("live", false) ? "live" : "gone", age, location});
  }
  table.print(std::cout);
}

void printHealth(const nlohmann::json& health) {
  Table table({"ENDPOINT", "REGION", "ADDRESS", "STATE", "HEALTHY", "SERVING", "VANTAGES",
               "RTT-MS", "ERROR"});
  for (const auto& e : health.value("endpoints", nlohmann::json::array())) {
    std::string vantages;
    std::string rtt = "-";
    std::string error = "-";
    for (const auto& v : e.value("vantages", nlohmann::json::array())) {
      // +=, not "literal" + temporary: g++ 12 -O3 false -Wrestrict
      if (!vantages.empty()) vantages += ',';
      vantages += cell(v["vantage"]);
      // A vantage whose votes no longer count (it stopped writing, or its
      // lease ended) is gone, whatever it said last.
      if (v.contains("counted") && !v.value("counted", true)) {
        vantages += ":gone";
        continue;
      }
      vantages += v.value("healthy", false) ? '+' : '-';
      if (v.contains("rtt_ms") && !v["rtt_ms"].is_null()) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%.1f", v["rtt_ms"].get<double>());
        rtt = buf;
      }
      // Only while failing: an old error next to a healthy row misleads.
      if (!v.value("healthy", false) && v.contains("last_error") && !v["last_error"].is_null()) {
        error = cell(v["last_error"]);
      }
    }
    const std::string healthy = !e.contains("healthy") || e["healthy"].is_null()
                                    ? "unknown"
                                    : (e["healthy"].get<bool>() ? "yes" : "no");
    table.add({cell(e["name"]), cell(e["region"]), cell(e["address"]), cell(e["state"]), healthy,
               e.contains("serving") ? cell(e["serving"]) : "-", vantages.empty() ? "-" : vantages,
               rtt, error});
  }
  table.print(std::cout);
  if (health.contains("data")) {
    std::cout << "\nhealth data: " << cell(health["data"]["state"]) << " (snapshot "
              << cell(health["data"]["snapshot_generation"]) << ")\n";
  }
}

std::string oneDecimal(const nlohmann::json& value) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", value.get<double>());
  return buf;
}

// explain as a person reads it: who asked, where the database puts them, the
// ranking with each region's reason and endpoints, and the answer.
void printExplain(const nlohmann::json& x) {
  std::cout << cell(x["name"]) << " " << cell(x["type"]);
  if (!x.value("steered", false)) {
    std::cout << "  " << cell(x["rcode"]) << ", " << cell(x["note"]) << '\n';
    return;
  }
  std::cout << "  policy " << cell(x["policy"]) << "  (snapshot " << cell(x["snapshot_generation"])
            << ")\n";
  std::cout << "client   " << cell(x["client"]["address"]) << "/" << cell(x["client"]["prefix"])
            << " (sent as an ECS option)\n";
  const nlohmann::json& g = x["geo"];
  std::cout << "geo      ";
  if (!g.value("database_loaded", false)) {
    std::cout << "no geo database loaded";
  } else if (!g.value("found", false)) {
    std::cout << "not in the database (prefix /" << cell(g["prefix"]) << ")";
  } else {
    std::cout << cell(g["country"]) << " " << cell(g["continent"]);
    if (g.contains("subdivision")) std::cout << " " << cell(g["subdivision"]);
    if (g.contains("latitude")) {
      std::cout << "  " << cell(g["latitude"]) << "," << cell(g["longitude"]) << " ("
                << cell(g["location"]) << ")";
    }
    std::cout << "  prefix /" << cell(g["prefix"]);
  }
  if (x.contains("latency_ranked_by")) {
    std::cout << "\nlatency  source " << cell(x["latency_source"]) << ", ranked by "
              << cell(x["latency_ranked_by"]);
  }
  std::cout << "\nhealth   " << cell(x["health_data"]);
  if (x.value("panic", false)) std::cout << ", PANIC: too many down, health ignored";
  if (x.value("all_down", false)) std::cout << ", ALL DOWN: when_all_down applied";
  if (x.value("used_drained", false)) std::cout << ", only drained endpoints left";
  std::cout << "\nranking\n";
  for (const auto& r : x.value("ranking", nlohmann::json::array())) {
    std::cout << "  " << cell(r["rank"]) << " " << cell(r["region"]) << "  " << cell(r["reason"]);
    if (r.contains("distance_km")) std::cout << " " << oneDecimal(r["distance_km"]) << " km";
    if (r.contains("rtt_ms")) std::cout << " " << oneDecimal(r["rtt_ms"]) << " ms";
    if (r.contains("skipped")) std::cout << "  SKIPPED, " << cell(r["skipped"]);
    std::cout << '\n';
    for (const auto& e : r["endpoints"]) {
      std::cout << "      " << cell(e["name"]) << "  " << cell(e["address"]) << "  "
                << cell(e["admin_state"]) << ", " << cell(e["status"]) << ", weight "
                << cell(e["weight"]);
      if (e["effective_weight"].get<double>() < e["weight"].get<double>()) {
        std::cout << " (slow start: " << oneDecimal(e["effective_weight"]) << ")";
      }
      if (e.value("chosen", false)) std::cout << "  <- answer";
      std::cout << '\n';
    }
  }
  std::cout << "answer   ";
  if (x["action"] != "answer") std::cout << cell(x["action"]) << " ";
  for (const auto& a : x.value("answer", nlohmann::json::array())) {
    if (a.value("fallback", false)) {
      std::cout << cell(a["address"]) << " ";
      continue;
    }
    std::cout << cell(a["address"]) << " (" << cell(a["endpoint"]) << ", " << cell(a["region"])
              << ") ";
  }
  std::cout << " ttl " << cell(x["ttl"]) << "  ecs scope /" << cell(x["ecs_scope"]) << '\n';
}

std::string percent(const nlohmann::json& value) {
  if (!value.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f%%", value.get<double>() * 100);
  return buf;
}

// The capacity-collapse table: now, then each region lost in turn.
void printCapacity(const nlohmann::json& c) {
  std::cout << cell(c["name"]) << " " << cell(c["type"]) << "  policy " << cell(c["policy"])
            << "  " << cell(c["answers"]) << " answers over the last " << cell(c["window_s"])
            << " s  peak " << cell(c["peak"]) << "\n\n";
  Table now({"REGION", "SHARE", "CAPACITY", "UTILIZATION"});
  for (const auto& r : c["regions"]) {
    now.add({cell(r["region"]), percent(r["share"]), cell(r["capacity"]),
             percent(r["utilization"])});
  }
  now.print(std::cout);
  std::cout << '\n';
  Table lost({"IF LOST", "SHARE", "MOVES TO", "THEN", "OVERLOADED"});
  for (const auto& l : c["if_lost"]) {
    std::string moves;
    for (const auto& [region, fraction] : l["moves_to"].items()) {
      if (!moves.empty()) moves += ", ";
      moves += region + " " + percent(fraction);
    }
    if (l["unserved"].get<double>() > 0) {
      if (!moves.empty()) moves += ", ";
      moves += "unserved " + percent(l["unserved"]);
    }
    std::string then;
    for (const auto& a : l["after"]) {
      if (!then.empty()) then += ", ";
      then += cell(a["region"]) + " " + percent(a["share"]) + " (" + percent(a["utilization"]) +
              " of capacity)";
    }
    lost.add({cell(l["region"]), percent(l["share"]), moves.empty() ? "-" : moves, then,
              l["overloaded"].empty() ? (c["peak"].is_null() ? "?" : "no") : cell(l["overloaded"])});
  }
  lost.print(std::cout);
  if (c.contains("note_peak")) std::cout << "\n" << cell(c["note_peak"]) << " (--peak N)\n";
}

// Prints a document as JSON with --json, else through `table`.
template <typename Print>
void show(Context& ctx, const nlohmann::json& doc, Print table) {
  if (ctx.json) return ctx.printJson(doc);
  table(doc);
}

void addRegionGroup(CLI::App& app, Context& ctx, SteeringArgs& a) {
  CLI::App* g =
      app.add_subcommand("region", "regions: named places with coordinates")->alias("regions");
  g->require_subcommand(1);
  CLI::App* add = g->add_subcommand("add", "create a region");
  add->add_option("NAME", a.name, "region")->required();
  add->add_option("--lat,--latitude", a.latitude, "degrees north")->required();
  add->add_option("--lon,--longitude", a.longitude, "degrees east")->required();
  add->add_option("--continent", a.continent, "AF AN AS EU NA OC SA");
  add->add_option("--countries", a.countries, "ISO codes, comma separated (IE,GB)");
  add->add_option("--min-healthy", a.min_healthy,
                  "fewer live endpoints and the region counts as down: a count (2) or a share (50%)");
  add->callback([&] {
    nlohmann::json body = {{"name", a.name}, {"latitude", a.latitude}, {"longitude", a.longitude}};
    if (!a.continent.empty()) body["continent"] = a.continent;
    if (!a.countries.empty()) body["countries"] = splitList(a.countries);
    if (!a.min_healthy.empty()) {
      // Digits are a count; anything else ("50%") goes as text, and the API
      // names what is wrong with it.
      const bool count = a.min_healthy.size() <= 9 &&
                         a.min_healthy.find_first_not_of("0123456789") == std::string::npos;
      body["min_healthy"] = count ? nlohmann::json(std::stoll(a.min_healthy))
                                  : nlohmann::json(a.min_healthy);
    }
    show(ctx, ctx.api().call("POST", "/api/v1/regions", body).json(),
         [](const nlohmann::json& r) { printRegions(nlohmann::json::array({r})); });
  });
  g->add_subcommand("list", "list regions")->callback([&] {
    show(ctx, ctx.api().call("GET", "/api/v1/regions").json(), printRegions);
  });
  CLI::App* get = g->add_subcommand("show", "one region");
  get->add_option("NAME", a.name, "region")->required();
  get->callback([&] {
    show(ctx, ctx.api().call("GET", "/api/v1/regions/" + ctx.api().escape(a.name)).json(),
         [](const nlohmann::json& r) { printRegions(nlohmann::json::array({r})); });
  });
  CLI::App* del = g->add_subcommand("delete", "delete an unused region");
  del->add_option("NAME", a.name, "region")->required();
  del->callback([&] {
    ctx.api().call("DELETE", "/api/v1/regions/" + ctx.api().escape(a.name));
    std::cout << "deleted region " << a.name << '\n';
  });
}

void patchState(Context& ctx, const std::string& name, const char* state) {
  const nlohmann::json doc = ctx.api()
                                 .call("PATCH", "/api/v1/endpoints/" + ctx.api().escape(name),
                                       nlohmann::json{{"state", state}})
                                 .json();
  if (ctx.json) return ctx.printJson(doc);
  std::cout << "endpoint " << name << " is now " << state << '\n';
}

void addEndpointGroup(CLI::App& app, Context& ctx, SteeringArgs& a) {
  CLI::App* g =
      app.add_subcommand("endpoint", "endpoints: addresses in regions")->alias("endpoints");
  g->require_subcommand(1);
  CLI::App* add = g->add_subcommand("add", "create an endpoint");
  add->add_option("NAME", a.name, "endpoint")->required();
  add->add_option("--region", a.region, "the region it is in")->required();
  add->add_option("--address", a.address, "IPv4 or IPv6 address")->required();
  add->add_option("--weight", a.weight, "0..1000000 (default 100)");
  add->add_option("--capacity", a.capacity, "1..1000000000 (default none)");
  add->add_option("--state", a.state, "up, drain or down (default up)");
  add->add_option("--check", a.check,
                  "liveness check as JSON, e.g. '{\"type\":\"tcp\",\"port\":80}'");
  add->add_option("--readiness", a.readiness, "readiness check as JSON");
  add->add_option("--vote", a.vote,
                  "how the vantages decide its health: quorum (default), any, all, or a share of "
                  "healthy vantages such as 0.18");
  add->callback([&] {
    nlohmann::json body = {{"name", a.name}, {"region", a.region}, {"address", a.address}};
    if (a.weight) body["weight"] = *a.weight;
    if (a.capacity) body["capacity"] = *a.capacity;
    if (!a.state.empty()) body["state"] = a.state;
    if (!a.check.empty()) body["check"] = parseJsonOption(a.check, "--check");
    if (!a.vote.empty()) {
      // A number is a healthy share; the API names what is wrong with either.
      char* end = nullptr;
      const double share = std::strtod(a.vote.c_str(), &end);
      if (end != a.vote.c_str() && *end == '\0') {
        body["vote"] = {{"healthy_share", share}};
      } else {
        body["vote"] = a.vote;
      }
    }
    if (!a.readiness.empty()) body["readiness"] = parseJsonOption(a.readiness, "--readiness");
    show(ctx, ctx.api().call("POST", "/api/v1/endpoints", body).json(),
         [](const nlohmann::json& e) { printEndpoints(nlohmann::json::array({e})); });
  });
  CLI::App* list = g->add_subcommand("list", "list endpoints");
  list->add_option("--region", a.region, "only this region");
  list->callback([&] {
    const std::string query = a.region.empty() ? "" : "?region=" + ctx.api().escape(a.region);
    show(ctx, ctx.api().call("GET", "/api/v1/endpoints" + query).json(), printEndpoints);
  });
  CLI::App* get = g->add_subcommand("show", "one endpoint");
  get->add_option("NAME", a.name, "endpoint")->required();
  get->callback([&] {
    show(ctx, ctx.api().call("GET", "/api/v1/endpoints/" + ctx.api().escape(a.name)).json(),
         [](const nlohmann::json& e) { printEndpoints(nlohmann::json::array({e})); });
  });
  CLI::App* del = g->add_subcommand("delete", "delete an endpoint");
  del->add_option("NAME", a.name, "endpoint")->required();
  del->callback([&] {
    ctx.api().call("DELETE", "/api/v1/endpoints/" + ctx.api().escape(a.name));
    std::cout << "deleted endpoint " << a.name << '\n';
  });
  CLI::App* load = g->add_subcommand("load", "show an endpoint's load, or push one (--set)");
  load->add_option("NAME", a.name, "endpoint")->required();
  load->add_option("--set", a.load, "push this load (>= 0, in the endpoint's own unit)");
  load->add_option("--error-rate", a.error_rate, "with --set: its error rate, 0..1");
  load->callback([&] {
    const std::string path = "/api/v1/endpoints/" + ctx.api().escape(a.name) + "/load";
    if (a.error_rate && !a.load) throw CtlError("endpoint load: --error-rate needs --set LOAD");
    if (a.load) {
      nlohmann::json body = {{"load", *a.load}};
      if (a.error_rate) body["error_rate"] = *a.error_rate;
      ctx.api().call("PUT", path, body);
    }
    show(ctx, ctx.api().call("GET", path).json(), [](const nlohmann::json& l) {
      // The report meridiand uses; "unknown" when none is fresh (never idle).
      std::cout << l.value("endpoint", "") << ": load ";
      if (l["load"].is_number()) {
        std::cout << l["load"].dump() << " from " << l.value("source", "?") << ", "
                  << l["age_s"].dump() << " s old";
        if (l["error_rate"].is_number()) std::cout << ", error rate " << l["error_rate"].dump();
      } else {
        std::cout << "unknown";
      }
      std::cout << '\n';
    });
  });
  for (const auto& [verb, state, help] :
       {std::tuple{"drain", "drain", "stop handing it out (kept as a last resort)"},
        std::tuple{"undrain", "up", "hand it out again"},
        std::tuple{"down", "down", "take it out; counts as failed"}}) {
    CLI::App* cmd = g->add_subcommand(verb, help);
    cmd->add_option("NAME", a.name, "endpoint")->required();
    const char* target = state;
    cmd->callback([&ctx, &a, target] { patchState(ctx, a.name, target); });
  }
}

std::string steeringPath(Context& ctx, const SteeringArgs& a) {
  std::string path =
      "/api/v1/zones/" + ctx.api().escape(a.zone) + "/steering/" + ctx.api().escape(a.name);
  return path;
}

void addSteeringGroup(CLI::App& app, Context& ctx, SteeringArgs& a) {
  CLI::App* g = app.add_subcommand("steering", "steered names: per-client answers");
  g->require_subcommand(1);
  CLI::App* set = g->add_subcommand("set", "create or replace a steered name");
  set->add_option("ZONE", a.zone, "zone")->required();
  set->add_option("NAME", a.name, "owner (@, relative or absolute)")->required();
  set->add_option("--type", a.type, "A or AAAA")->required();
  set->add_option("--policy", a.policy,
                  "failover, geo, nearest, latency, weighted, sticky, least_loaded, p2c, round_robin")
      ->required();
  set->add_option("--regions", a.regions, "regions, comma separated, in order")->required();
  set->add_option("--ttl", a.ttl, "1..86400 (default 30)");
  set->add_option("--max-answers", a.max_answers, "1..16 (default 1)");
  set->add_option("--when-all-down", a.when_all_down,
                  "all, nodata, servfail or fallback (default all)");
  set->add_option("--fallback", a.fallback,
                  "with --when-all-down fallback: the fixed answer, addresses comma separated");
  set->add_option("--geo-map", a.geo_map, "EU=eu-west;default=us-east, a JSON object, or @FILE");
  set->add_option("--panic-threshold", a.panic_threshold, "0..1 (default 0.5)");
  set->add_option("--latency-source", a.latency_source,
                  "policy latency: connect (default), imported or distance");
  set->add_option("--slow-start", a.slow_start_s, "seconds, 0..3600 (default 30)");
  set->add_option("--prefix-map", a.prefix_map,
                  "10.0.0.0/8=eu-west;2001:db8::/32=us-east, a JSON object, or @FILE");
  set->add_option("--asn-map", a.asn_map,
                  "AS15169=us-east;AS7018=eu-west, a JSON object, or @FILE");
  set->add_option("--geofence", a.geofence, "EU=eu-west;default=us-east, a JSON object, or @FILE");
  set->add_option("--geofence-strict", a.geofence_strict, "true or false (default true)");
  set->add_option("--shed-low", a.shed_low, "shed load above this share of capacity");
  set->add_option("--shed-high", a.shed_high, "shed all load from this share of capacity");
  set->add_option("--outlier-error-rate", a.outlier_error_rate, "0..1: eject endpoints above it");
  set->add_option("--outlier-interval", a.outlier_interval_s, "seconds above before ejection (10)");
  set->add_option("--outlier-base-ejection", a.outlier_base_ejection_s, "seconds (default 30)");
  set->add_option("--outlier-max-ejection", a.outlier_max_ejection_s, "seconds (default 300)");
  set->add_option("--outlier-max-ejected", a.outlier_max_ejected, "share, (0, 1] (default 0.1)");
  set->callback([&] {
    nlohmann::json body = {
        {"type", a.type}, {"policy", a.policy}, {"regions", splitList(a.regions)}};
    if (a.ttl) body["ttl"] = *a.ttl;
    if (a.max_answers) body["max_answers"] = *a.max_answers;
    if (!a.when_all_down.empty()) body["when_all_down"] = a.when_all_down;
    if (!a.fallback.empty()) body["fallback"] = splitList(a.fallback);
    if (!a.latency_source.empty()) body["latency_source"] = a.latency_source;
    if (!a.geo_map.empty()) body["geo_map"] = parseGeoMap(a.geo_map);
    if (a.panic_threshold) body["panic_threshold"] = *a.panic_threshold;
    if (a.slow_start_s) body["slow_start_s"] = *a.slow_start_s;
    if (!a.prefix_map.empty()) body["prefix_map"] = parseGeoMap(a.prefix_map, "--prefix-map");
    if (!a.asn_map.empty()) body["asn_map"] = parseGeoMap(a.asn_map, "--asn-map");
    if (!a.geofence.empty()) body["geofence"] = parseGeoMap(a.geofence, "--geofence");
    if (a.geofence_strict) body["geofence_strict"] = *a.geofence_strict;
    if (a.shed_low) body["shed_low"] = *a.shed_low;
    if (a.shed_high) body["shed_high"] = *a.shed_high;
    if (a.outlier_error_rate) body["outlier_error_rate"] = *a.outlier_error_rate;
    if (a.outlier_interval_s) body["outlier_interval_s"] = *a.outlier_interval_s;
    if (a.outlier_base_ejection_s) body["outlier_base_ejection_s"] = *a.outlier_base_ejection_s;
    if (a.outlier_max_ejection_s) body["outlier_max_ejection_s"] = *a.outlier_max_ejection_s;
    if (a.outlier_max_ejected) body["outlier_max_ejected"] = *a.outlier_max_ejected;
    const nlohmann::json stored = ctx.api().call("PUT", steeringPath(ctx, a), body).json();
    if (stored.contains("warnings")) printWarnings(stored["warnings"]);
    show(ctx, stored, [](const nlohmann::json& s) { printSteering(nlohmann::json::array({s})); });
  });
  CLI::App* list = g->add_subcommand("list", "steered names of a zone");
  list->add_option("ZONE", a.zone, "zone")->required();
  list->callback([&] {
    show(ctx,
         ctx.api().call("GET", "/api/v1/zones/" + ctx.api().escape(a.zone) + "/steering").json(),
         printSteering);
  });
  for (const char* verb : {"show", "delete"}) {
    CLI::App* cmd = g->add_subcommand(verb, std::string(verb) + " a steered name");
    cmd->add_option("ZONE", a.zone, "zone")->required();
    cmd->add_option("NAME", a.name, "owner (@, relative or absolute)")->required();
    cmd->add_option("--type", a.type, "A or AAAA (needed when both are steered)");
    const bool is_show = std::string(verb) == "show";
    cmd->callback([&ctx, &a, is_show] {
      const std::string path =
          steeringPath(ctx, a) + (a.type.empty() ? "" : "?type=" + ctx.api().escape(a.type));
      if (!is_show) {
        ctx.api().call("DELETE", path);
        std::cout << "deleted steering for " << a.name << '\n';
        return;
      }
      show(ctx, ctx.api().call("GET", path).json(),
           [](const nlohmann::json& s) { printSteering(nlohmann::json::array({s})); });
    });
  }
}

}  // namespace

void addSteeringCommands(CLI::App& app, Context& ctx) {
  static SteeringArgs args;  // CLI11 writes into it while parsing; lives for the run
  addRegionGroup(app, ctx, args);
  addEndpointGroup(app, ctx, args);
  addSteeringGroup(app, ctx, args);
  CLI::App* vantage = app.add_subcommand("vantage", "vantages: the healthds that vote on health")
                          ->alias("vantages");
  vantage->require_subcommand(1);
  vantage->add_subcommand("list", "every vantage: live or gone, last write, location")
      ->callback(
          [&] { show(ctx, ctx.api().call("GET", "/api/v1/vantages").json(), printVantages); });
  CLI::App* remove =
      vantage->add_subcommand("remove", "forget a vantage that is gone (its rows and votes)");
  remove->add_option("NAME", args.name, "the vantage's name")->required();
  remove->callback([&] {
    ctx.api().call("DELETE", "/api/v1/vantages/" + ctx.api().escape(args.name));
    std::cout << "removed vantage " << args.name << '\n';
  });
  app.add_subcommand("health", "current health per endpoint and vantage")->callback([&] {
    show(ctx, ctx.api().call("GET", "/api/v1/health").json(), printHealth);
  });
  CLI::App* capacity = app.add_subcommand(
      "capacity", "if each region of a steered name were lost now: where its answers go, and "
                  "which regions that overloads");
  capacity->add_option("ZONE", args.zone, "zone")->required();
  capacity->add_option("NAME", args.name, "owner (@, relative or absolute)")->required();
  capacity->add_option("--type", args.type, "A or AAAA (needed when both are steered)");
  capacity->add_option("--peak", args.peak,
                       "the name's busiest demand, in the units of endpoint capacity");
  capacity->callback([&] {
    std::string path = steeringPath(ctx, args) + "/capacity";
    std::string sep = "?";
    if (!args.type.empty()) {
      path += sep + "type=" + ctx.api().escape(args.type);
      sep = "&";
    }
    if (args.peak) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.17g", *args.peak);
      path += sep + "peak=" + buf;
    }
    show(ctx, ctx.api().call("GET", path).json(), printCapacity);
  });
  CLI::App* explain = app.add_subcommand("explain", "how a client's query would be answered");
  explain->add_option("NAME", args.name, "any name: steered ones get the full ranking")->required();
  explain->add_option("CLIENT", args.client, "client IP or IP/PREFIX")->required();
  explain->add_option("--type", args.type, "A or AAAA (default A)");
  explain->callback([&] {
    std::string path = "/api/v1/explain?name=" + ctx.api().escape(args.name) +
                       "&client=" + ctx.api().escape(args.client);
    if (!args.type.empty()) path += "&type=" + ctx.api().escape(args.type);
    show(ctx, ctx.api().call("GET", path).json(), printExplain);
  });
}

}  // namespace meridian::ctl
