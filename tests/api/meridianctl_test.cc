// The real meridianctl binary: offline on a database file (--db), and online
// against an in-process API server.

#include <doctest/doctest.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>
#include <sstream>

#include "tests/api/api_test_util.h"
#include "tests/support/process.h"
#include "tools/meridianctl/api_client.h"

namespace meridian::test {

namespace {

struct Run {
  int status = -1;
  std::string out;  // stdout and stderr together
};

Run ctl(const std::string& args) {
  Run r;
  r.out = runCommand(buildPath("tools/meridianctl/meridianctl") + " " + args + " 2>&1", &r.status);
  return r;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("meridianctl offline: zone import, list, show, export, check, delete") {
  TempDir dir;
  const std::string db = "--db " + dir.file("m.db");
  writeFile(dir.file("example.zone"), kTestZone);

  Run r = ctl(db + " zone import " + dir.file("example.zone"));
  CHECK(r.status == 0);
  CHECK(contains(r.out, "imported 6 records into example.com."));
  r = ctl(db + " zone import " + dir.file("example.zone"));
  CHECK(r.status != 0);
  CHECK(contains(r.out, "already exists"));
  CHECK(ctl(db + " zone import --replace " + dir.file("example.zone")).status == 0);

  r = ctl(db + " zone list");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "ZONE"));
  CHECK(contains(r.out, "example.com.  101"));  // re-import raised the serial
  r = ctl(db + " --json zone list");
  const nlohmann::json list = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(list.is_array());
  CHECK(list[0]["record_count"] == 6);

  r = ctl(db + " zone show example.com");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "www.example.com."));
  CHECK(contains(r.out, "192.0.2.10"));

  r = ctl(db + " zone export example.com.");
  CHECK(r.status == 0);
  writeFile(dir.file("exported.zone"), r.out + "\n");
  r = ctl("zone check " + dir.file("exported.zone"));
  CHECK(r.status == 0);
  CHECK(contains(r.out, "OK, 6 records"));

  writeFile(dir.file("bad.zone"), "@ IN SOA ns1.x. h.x. 1 2 3 4 5\nwww IN A 1.2.3\n");
  r = ctl("zone check --zone x. " + dir.file("bad.zone"));
  CHECK(r.status != 0);
  CHECK(contains(r.out, "bad.zone:2:"));
  CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 0);  // one line

  CHECK(ctl(db + " zone delete example.com.").status == 0);
  r = ctl(db + " zone show example.com.");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "does not exist"));
  r = ctl("--db " + dir.file("nothing.db") + " zone list");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "nothing.db"));
}

TEST_CASE("meridianctl online: regions, endpoints, steering, rrsets, health") {
  api::ApiHooks hooks;
  hooks.geo_has_subdivisions = [] { return false; };  // as with the default country DB
  ApiFixture api(hooks);
  const std::string base = "--api " + api.url("") + " --token-file " + api.dbPath() + ".token ";

  Run r = ctl(base + "region add eu-west --lat 53.35 --lon -6.26 --continent EU --countries IE,GB");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "eu-west"));
  CHECK(ctl(base + "region add us-east --lat 39 --lon -77.5").status == 0);
  r = ctl(base + "regions list");
  CHECK(contains(r.out, "REGION   LATITUDE  LONGITUDE  CONTINENT  COUNTRIES"));
  CHECK(contains(r.out, "IE,GB"));

  r = ctl(base +
          "endpoint add eu-west-1 --region eu-west --address 192.0.2.10 --weight 50 "
          "--check '{\"type\":\"tcp\",\"port\":80}'");
  CHECK(r.status == 0);
  CHECK(ctl(base + "endpoint drain eu-west-1").status == 0);
  r = ctl(base + "--json endpoint show eu-west-1");
  const nlohmann::json endpoint = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(endpoint.is_object());
  CHECK(endpoint["state"] == "drain");
  CHECK(endpoint["weight"] == 50);
  CHECK(ctl(base + "endpoint down eu-west-1").status == 0);
  CHECK(ctl(base + "endpoint undrain eu-west-1").status == 0);
  // Load: shown as unknown until a report arrives, pushed with --set.
  r = ctl(base + "endpoint load eu-west-1");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "eu-west-1: load unknown"));
  r = ctl(base + "endpoint load eu-west-1 --set 42 --error-rate 0.01");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "eu-west-1: load 42"));
  CHECK(contains(r.out, "from api"));
  CHECK(contains(r.out, "error rate 0.01"));
  r = ctl(base + "endpoint load eu-west-1 --error-rate 0.5");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "--error-rate needs --set"));
  r = ctl(base + "endpoint load eu-west-1 --set 5 --error-rate 2");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "error_rate"));
  r = ctl(base + "endpoint list");
  CHECK(contains(r.out, "eu-west-1"));
  CHECK(contains(r.out, " up "));
  CHECK(contains(r.out, "tcp :80"));

  // A clear one-line error and a non-zero exit for bad input.
  r = ctl(base + "endpoint add x --region mars --address 192.0.2.1");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "400 Invalid input: region: region \"mars\" does not exist"));

  writeFile(api.dir().file("example.zone"), kTestZone);
  r = ctl(base + "zone import " + api.dir().file("example.zone"));
  CHECK(r.status == 0);
  CHECK(contains(r.out, "imported 6 records into example.com."));
  CHECK(ctl(base + "rrset set example.com. mail MX 300 '10 mx1' '20 mx2.example.net.'").status ==
        0);
  r = ctl(base + "rrset list example.com.");
  CHECK(contains(r.out, "mail.example.com."));
  CHECK(contains(r.out, "20 mx2.example.net."));
  CHECK(ctl(base + "rrset delete example.com. mail MX").status == 0);

  r = ctl(base +
          "steering set example.com. gslb --type A --policy geo --regions eu-west,us-east "
          "--ttl 20 --geo-map 'EU=eu-west;default=us-east'");
  CHECK(r.status == 0);
  r = ctl(base + "--json steering show example.com. gslb");
  const nlohmann::json steered = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(steered.is_object());
  CHECK(steered["ttl"] == 20);
  CHECK(steered["geo_map"]["EU"] == nlohmann::json({"eu-west"}));
  // Maps and fences, in the same KEY=regions form.
  r = ctl(base +
          "steering set example.com. mapped --type A --policy nearest --regions eu-west,us-east "
          "--prefix-map '10.0.0.0/8=us-east;2001:DB8::/32=eu-west' --asn-map 'AS15169=eu-west' "
          "--geofence 'EU=eu-west;default=eu-west,us-east' --geofence-strict false");
  CHECK(r.status == 0);
  r = ctl(base + "--json steering show example.com. mapped");
  const nlohmann::json mapped = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(mapped.is_object());
  CHECK(mapped["prefix_map"]["2001:db8::/32"] == nlohmann::json({"eu-west"}));
  CHECK(mapped["asn_map"]["AS15169"] == nlohmann::json({"eu-west"}));
  CHECK(mapped["geofence"]["default"] == nlohmann::json({"eu-west", "us-east"}));
  CHECK(mapped["geofence_strict"] == false);
  r = ctl(base +
          "steering set example.com. mapped --type A --policy nearest --regions eu-west "
          "--prefix-map '10.0.0.1/8=eu-west'");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "prefix_map.10.0.0.1/8"));
  CHECK(ctl(base + "steering delete example.com. mapped").status == 0);
  // @FILE: a map too long for one argument, read from a file.
  std::string big = "{";
  for (int i = 0; i < 5000; ++i) {
    big += (i ? "," : "");
    big += "\"10." + std::to_string(i / 256) + "." + std::to_string(i % 256) + ".0/24\":[\"" +
           (i % 2 ? "eu-west" : "us-east") + "\"]";
  }
  big += "}\n";
  writeFile(api.dir().file("prefix-map.json"), big);
  r = ctl(base +
          "steering set example.com. filed --type A --policy nearest --regions "
          "eu-west,us-east --prefix-map @" +
          api.dir().file("prefix-map.json"));
  CHECK(r.status == 0);
  r = ctl(base + "--json steering show example.com. filed");
  const nlohmann::json filed = nlohmann::json::parse(r.out, nullptr, false);
  REQUIRE(filed.is_object());
  CHECK(filed["prefix_map"].size() == 5000);
  CHECK(filed["prefix_map"]["10.19.135.0/24"] == nlohmann::json({"eu-west"}));
  writeFile(api.dir().file("text-map"), "10.0.0.0/8=eu-west;192.0.2.0/24=us-east\n");
  r = ctl(base +
          "steering set example.com. filed --type A --policy nearest --regions "
          "eu-west,us-east --prefix-map @" +
          api.dir().file("text-map"));
  CHECK(r.status == 0);
  r = ctl(base +
          "steering set example.com. filed --type A --policy nearest --regions eu-west "
          "--prefix-map @" +
          api.dir().file("no-such-file"));
  CHECK(r.status != 0);
  CHECK(contains(r.out, "--prefix-map @" + api.dir().file("no-such-file") + ": cannot read"));
  writeFile(api.dir().file("broken.json"), "{\"10.0.0.0/8\": [");
  r = ctl(base +
          "steering set example.com. filed --type A --policy nearest --regions eu-west "
          "--prefix-map @" +
          api.dir().file("broken.json"));
  CHECK(r.status != 0);
  CHECK(contains(r.out, "broken.json: not valid JSON"));
  CHECK(ctl(base + "steering delete example.com. filed").status == 0);
  // The API's warnings reach the operator (on stderr; the table stays on stdout).
  r = ctl(base +
          "steering set example.com. subdiv --type A --policy geo --regions eu-west "
          "--geo-map 'US-CA=eu-west;default=eu-west'");
  CHECK(r.status == 0);
  CHECK_MESSAGE(contains(r.out, "meridianctl: warning: key \"US-CA\" names a subdivision"), r.out);
  CHECK(ctl(base + "steering delete example.com. subdiv").status == 0);
  r = ctl(base + "steering list example.com.");
  CHECK(contains(r.out, "gslb.example.com."));
  r = ctl(base + "zone show example.com.");
  CHECK(contains(r.out, "STEERED"));
  CHECK(ctl(base + "steering delete example.com. gslb").status == 0);

  r = ctl(base + "health");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "eu-west-1"));
  r = ctl(base + "explain gslb.example.com. 192.0.2.1");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "501"));

  // --db finds the token next to the database.
  r = ctl("--api " + api.url("") + " --db " + api.dbPath() + " region show us-east");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "us-east"));
  CHECK(ctl(base + "endpoint delete eu-west-1").status == 0);
  CHECK(ctl(base + "region delete eu-west").status == 0);
}

TEST_CASE("meridianctl online: auth and connection failures are one clear line") {
  ApiFixture api;
  writeFile(api.dir().file("wrong.token"), "nope\n");
  Run r = ctl("--api " + api.url("") + " --token-file " + api.dir().file("wrong.token") +
              " region list");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "401"));
  r = ctl("--api http://127.0.0.1:1 --token-file " + api.dir().file("wrong.token") +
          " region list");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "cannot reach the API at http://127.0.0.1:1"));
  r = ctl("--api " + api.url("") + " region list");
  CHECK(r.status != 0);
  CHECK(contains(r.out, "no API token"));
}

}  // namespace meridian::test

namespace meridian::test {

TEST_CASE("meridianctl: API errors name CLI options, not URL query parameters") {
  ApiFixture api;
  api.seed();
  const std::string base = "--api " + api.url("") + " --token-file " + api.dbPath() + ".token ";
  for (const char* type : {"A", "AAAA"}) {
    REQUIRE(ctl(base + "steering set example.com. gslb --type " + type +
                " --policy failover --regions eu-west")
                .status == 0);
  }
  for (const char* verb : {"show", "delete"}) {
    CAPTURE(verb);
    const Run r = ctl(base + "steering " + verb + " example.com. gslb");
    CHECK(r.status == 1);
    CHECK(contains(r.out, "is steered for both A and AAAA; add --type A or --type AAAA"));
    CHECK_FALSE(contains(r.out, "?type="));
  }
  // The API itself still speaks in URL terms.
  CHECK(contains(api.call("GET", "/api/v1/zones/example.com./steering/gslb").body,
                 "add ?type=A or ?type=AAAA"));
  CHECK(ctl(base + "steering show example.com. gslb --type AAAA").status == 0);
  CHECK(ctl(base + "steering delete example.com. gslb --type A").status == 0);
  CHECK(ctl(base + "steering show example.com. gslb").status == 0);  // only AAAA is left
}

TEST_CASE("meridianctl: cliTerms rewrites only query parameters it has options for") {
  CHECK(ctl::cliTerms("add ?type=A or ?type=AAAA") == "add --type A or --type AAAA");
  CHECK(ctl::cliTerms("?region=eu-west is empty") == "--region eu-west is empty");
  // A URL in a message keeps its query string; unknown parameters stay.
  CHECK(ctl::cliTerms("url http://h/p?type=A is bad") == "url http://h/p?type=A is bad");
  CHECK(ctl::cliTerms("add ?limit=5") == "add ?limit=5");
}

TEST_CASE("meridianctl: token files follow the same rule as meridiand's") {
  ApiFixture api;
  const std::string two = api.dir().file("two.token");
  writeFile(two, api.token() + "\nsecond line\n");
  Run r = ctl("--api " + api.url("") + " --token-file " + two + " region list");
  CHECK(r.status == 1);
  CHECK(contains(r.out, "meridianctl: token file " + two + ": must hold one token on one line"));
  const std::string open = api.dir().file("open.token");
  writeFile(open, api.token() + "\n");
  REQUIRE(chmod(open.c_str(), 0666) == 0);
  r = ctl("--api " + api.url("") + " --token-file " + open + " region list");
  CHECK(r.status == 1);
  CHECK(contains(r.out, "is writable by others (mode 0666)"));
  REQUIRE(chmod(open.c_str(), 0644) == 0);
  r = ctl("--api " + api.url("") + " --token-file " + open + " region list");
  CHECK(r.status == 0);
  CHECK(contains(r.out, "meridianctl: warning: token file " + open + " is readable by others"));
}

TEST_CASE("meridianctl: offline zone documents are the API's (zones/zone_json.h)") {
  ApiFixture api;
  api.seed();
  REQUIRE(api.call("PUT", "/api/v1/zones/example.com./steering/gslb",
                   nlohmann::json{{"type", "A"}, {"policy", "failover"}, {"regions", {"eu-west"}}})
              .status == 201);
  const std::string offline = "--db " + api.dbPath() + " --json ";
  Run r = ctl(offline + "zone show example.com.");
  REQUIRE(r.status == 0);
  const nlohmann::json from_api = api.call("GET", "/api/v1/zones/example.com.").json();
  CHECK(nlohmann::json::parse(r.out, nullptr, false) == from_api);
  CHECK(from_api["steering"].size() == 1);
  CHECK(from_api["rrsets"].size() > 0);
  r = ctl(offline + "zone list");
  REQUIRE(r.status == 0);
  CHECK(nlohmann::json::parse(r.out, nullptr, false) == api.call("GET", "/api/v1/zones").json());
}

}  // namespace meridian::test

namespace meridian::test {

namespace {

struct Usage {
  std::set<std::string> options;      // "--type"; the first spelling of each
  std::set<std::string> positionals;  // "ZONE"
};

std::string joined(const std::set<std::string>& words) {
  std::string out;
  for (const std::string& word : words) out += (out.empty() ? "" : " ") + word;
  return out;
}

bool isPlaceholder(const std::string& word) {
  return !word.empty() && word.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") == std::string::npos;
}

// What `meridianctl COMMAND --help` says COMMAND takes.
Usage helpUsage(const std::string& command) {
  const std::string text = ctl(command + " --help").out;
  Usage usage;
  std::istringstream lines(text);
  std::string line;
  std::string section;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == ':') {
      section = line;
      continue;
    }
    std::istringstream words(line);
    std::string first;
    if (!(words >> first)) continue;
    if (section == "Positionals:") {
      usage.positionals.insert(first);
    } else if (section == "Options:" && first.rfind("--", 0) == 0 && first != "-h,--help") {
      usage.options.insert(first.substr(0, first.find(',')));
    }
  }
  return usage;
}

// Every "GROUP VERB ..." and "COMMAND ..." of docs/api.md's synopsis block.
std::map<std::string, Usage> synopsis() {
  const std::string doc =
      readFile(std::string(std::getenv("MERIDIAN_SOURCE_DIR")) + "/docs/api.md");
  const size_t section = doc.find("## meridianctl");
  const size_t begin = doc.find("```\n", section) + 4;
  const std::string block = doc.substr(begin, doc.find("```", begin) - begin);
  // Continuation lines (indented) belong to the line above.
  std::vector<std::string> entries;
  std::istringstream lines(block);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line[0] == ' ' && !entries.empty()) {
      entries.back() += line;
    } else if (!line.empty()) {
      entries.push_back(line);
    }
  }
  std::map<std::string, Usage> out;
  for (const std::string& entry : entries) {
    std::istringstream words(entry);
    std::string group;
    words >> group;
    std::string verb;
    std::string previous;
    Usage* usage = nullptr;
    std::string word;
    while (words >> word) {
      if (word == "|") {
        usage = nullptr;
        verb.clear();
        continue;
      }
      if (usage == nullptr) {
        // The first word after the group is the verb, unless the command has
        // none (health, explain, capacity).
        const bool has_verbs = group != "health" && group != "explain" && group != "capacity";
        if (has_verbs) {
          verb = word;
          usage = &out[group + " " + verb];
          previous.clear();
          continue;
        }
        usage = &out[group];
      }
      std::string bare = word;
      bare.erase(
          std::remove_if(bare.begin(), bare.end(), [](char c) { return c == '[' || c == ']'; }),
          bare.end());
      if (bare.rfind("--", 0) == 0) {
        usage->options.insert(bare);
      } else if (bare.size() > 3 && bare.compare(bare.size() - 3, 3, "...") == 0) {
        usage->positionals.insert(bare.substr(0, bare.size() - 3));
      } else if (isPlaceholder(bare) && previous.rfind("--", 0) != 0) {
        usage->positionals.insert(bare);
      }
      previous = bare;
    }
    if (group == "health" || group == "explain" || group == "capacity") out[group];
  }
  return out;
}

}  // namespace

TEST_CASE("meridianctl: docs/api.md's synopsis lists every command and option --help has") {
  const std::map<std::string, Usage> documented = synopsis();
  // Every command meridianctl has, from its own --help.
  std::vector<std::string> commands;
  const Usage top = helpUsage("");
  std::istringstream lines(ctl("--help").out);
  std::string line;
  bool in_subcommands = false;
  std::vector<std::string> groups;
  while (std::getline(lines, line)) {
    if (line == "Subcommands:") {
      in_subcommands = true;
    } else if (in_subcommands && !line.empty()) {
      std::istringstream words(line);
      std::string name;
      words >> name;
      groups.push_back(name.substr(0, name.find(',')));
    }
  }
  REQUIRE(groups.size() >= 7);
  for (const std::string& group : groups) {
    std::istringstream verbs(ctl(group + " --help").out);
    bool in_verbs = false;
    bool any = false;
    while (std::getline(verbs, line)) {
      if (line == "Subcommands:") {
        in_verbs = true;
      } else if (in_verbs && !line.empty()) {
        std::istringstream words(line);
        std::string verb;
        words >> verb;
        commands.push_back(group + " " + verb);
        any = true;
      }
    }
    if (!any) commands.push_back(group);
  }
  CHECK(commands.size() == documented.size());
  for (const std::string& command : commands) {
    CAPTURE(command);
    const auto found = documented.find(command);
    REQUIRE(found != documented.end());
    const Usage help = helpUsage(command);
    // As text, so that a failure shows what differs.
    CHECK(joined(found->second.options) == joined(help.options));
    CHECK(joined(found->second.positionals) == joined(help.positionals));
  }
  // The global options too.
  CHECK(top.options ==
        std::set<std::string>{"--api", "--token-file", "--db", "--json", "--cacert", "--insecure"});
  const std::string doc =
      readFile(std::string(std::getenv("MERIDIAN_SOURCE_DIR")) + "/docs/api.md");
  CHECK(contains(doc,
                 "`meridianctl [--api URL] [--token-file F] [--db FILE] [--json] [--cacert PEM] "
                 "[--insecure] COMMAND`"));
}

}  // namespace meridian::test
