// meridianctl: the operator's command line over Meridian's JSON API, and
// offline zone tooling on the database file itself (--db), like pdnsutil.
//
//   meridianctl region add eu-west --lat 53.35 --lon -6.26 --continent EU
//   meridianctl endpoint drain eu-west-1
//   meridianctl --db meridian.db zone import example.com.zone

#include <cstdlib>
#include <iostream>

#include "tools/meridianctl/ctl.h"
#include "zones/database.h"
#include "zones/validation.h"
#include "zones/zone_io.h"

namespace meridian::ctl {

ApiClient& Context::api() {
  if (!client_) {
    std::string file = token_file;
    if (file.empty() && !db.empty()) file = db + ".token";
    if (file.empty()) {
      const char* env = std::getenv("MERIDIAN_TOKEN_FILE");
      if (env != nullptr) file = env;
    }
    if (file.empty()) {
      throw CtlError(
          "no API token: give --token-file FILE, --db FILE (uses FILE.token) or set "
          "MERIDIAN_TOKEN_FILE");
    }
    client_ = std::make_unique<ApiClient>(api_url, readTokenFile(file), tls);
  }
  return *client_;
}

std::vector<std::string> splitList(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

void printWarnings(const nlohmann::json& warnings) {
  if (!warnings.is_array()) return;
  for (const auto& w : warnings) {
    std::cerr << "meridianctl: warning: " << (w.is_string() ? w.get<std::string>() : w.dump())
              << '\n';
  }
}

}  // namespace meridian::ctl

int main(int argc, char** argv) {
  using namespace meridian;
  ctl::Context ctx;
  if (const char* env = std::getenv("MERIDIAN_API")) ctx.api_url = env;
  CLI::App app{"meridianctl: manage Meridian zones, regions, endpoints and steering"};
  app.require_subcommand(1);
  app.add_option("--api", ctx.api_url,
                 "API base URL (default http://127.0.0.1:8053, $MERIDIAN_API)");
  app.add_option("--token-file", ctx.token_file,
                 "file holding the API token (default: <db>.token with --db, else "
                 "$MERIDIAN_TOKEN_FILE)");
  app.add_option("--db", ctx.db,
                 "database file: zone commands work on it directly (offline); other commands "
                 "take the API token from <db>.token");
  app.add_flag("--json", ctx.json, "print the API's JSON instead of tables");
  app.add_option("--cacert", ctx.tls.cacert,
                 "PEM file of the CA (or self-signed certificate) to trust for an https:// --api")
      ->check(CLI::ExistingFile);
  app.add_flag("--insecure", ctx.tls.insecure,
               "do not verify the https:// API's certificate (testing only)");
  ctl::addZoneCommands(app, ctx);
  ctl::addSteeringCommands(app, ctx);
  ctl::addClusterCommands(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ctl::CtlError& e) {
    std::cerr << "meridianctl: " << e.what() << '\n';
    return 1;
  } catch (const zones::ValidationError& e) {
    std::cerr << "meridianctl: " << e.what() << '\n';
    return 1;
  } catch (const std::exception& e) {
    // ZoneError, DatabaseError, NotFoundError, ConflictError: their messages
    // already say what and where.
    std::cerr << "meridianctl: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
