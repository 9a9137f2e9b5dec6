#pragma once
// Shared state of one meridianctl run: global options, the lazily created API
// client, and output helpers. Each command group registers its subcommands on
// the CLI11 app (ctl_zones.cc, ctl_steering.cc).

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "tools/meridianctl/api_client.h"

namespace meridian::ctl {

struct Context {
  std::string api_url = "http://127.0.0.1:8053";
  std::string token_file;
  std::string db;  // offline mode for zone commands; else locates <db>.token
  bool json = false;
  TlsTrust tls;  // --cacert, --insecure

  /// The client, created on first use: token from --token-file, else
  /// <db>.token when --db is given, else $MERIDIAN_TOKEN_FILE.
  ApiClient& api();
  bool offline() const { return !db.empty(); }

  void printJson(const nlohmann::json& doc) const { std::cout << doc.dump(2) << '\n'; }

 private:
  std::unique_ptr<ApiClient> client_;
};

/// "a,b,c" -> ["a","b","c"] (empty items dropped).
std::vector<std::string> splitList(const std::string& text);

/// An API answer's `warnings` array, one "meridianctl: warning: ..." line
/// each on stderr, so that stdout stays the result (or the JSON).
void printWarnings(const nlohmann::json& warnings);

void addZoneCommands(CLI::App& app, Context& ctx);
void addSteeringCommands(CLI::App& app, Context& ctx);
void addClusterCommands(CLI::App& app, Context& ctx);

}  // namespace meridian::ctl
