#pragma once
// meridiand's command line (defined with CLI11 in server/main.cc) and its
// validation: every option is checked before the database is opened, a
// socket bound or a query answered, and a mistake is one error naming the
// option ("--option VALUE: problem").
//
// Threads: the main thread, before anything is started.

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "server/api/api_server.h"
#include "server/cookies.h"

namespace meridian::server {

/// What meridiand was told on its command line; defaults as in README's
/// configuration table.
struct Options {
  std::string db_path = "meridian.db";
  std::string geodb;
  bool no_geodb = false;
  std::string asndb;  // --asndb: GeoLite2-ASN format, for asn_map ("" = none)
  unsigned health_stale_after_s = 15;
  unsigned health_grace_s = 30;
  double rtt_hysteresis = 0.10;
  unsigned load_max_age_s = 60;  // load reports older than this count as unknown
  std::vector<std::string> dns_listen;
  unsigned threads = 0;
  std::string ready_file;
  std::string api_listen = "127.0.0.1:8053";
  std::string api_token_file;
  std::string api_read_token_file;
  std::string api_tls_cert;
  std::string api_tls_key;
  api::ApiLimits api_limits;
  unsigned api_request_timeout_s = 30;
  bool no_api = false;
  unsigned stats_interval_s = 0;
  unsigned edns_payload = 1232;
  unsigned tcp_max_connections = 512;
  unsigned tcp_max_per_client = 64;
  bool tcp_max_per_client_given = false;
  unsigned tcp_idle_timeout_ms = 10000;
  unsigned tcp_io_timeout_ms = 2000;
  unsigned reload_poll_ms = 200;
  unsigned rrl_rate = 200;
  unsigned rrl_slip = 2;
  unsigned rrl_ipv4_prefix = 24;
  unsigned rrl_ipv6_prefix = 56;
  std::string cookie_secret_file;
  bool no_cookies = false;
  std::string log_level = "info";
  bool demo = false;
  bool check = false;
  std::string etcd;               // cluster mode: etcd endpoints, comma-separated
  std::string node_name;          // default: the host name
  std::string identity = "auto";  // NSID, CH TXT id.server: on, off, auto (on with --etcd)
  unsigned node_lease_ttl_s = 10;
};

/// What the --api-* files hold, read and checked before anything is served.
struct ApiFiles {
  std::optional<std::string> token;  // --api-token-file
  std::string read_token;            // --api-read-token-file
  std::string tls_cert_pem, tls_key_pem;
};

/// "--option VALUE: problem", the form of every option error.
std::runtime_error optionError(const std::string& option, const std::string& value,
                               const std::string& problem);

/// --cookie-secret-file: one or two secrets in hex (server/cookies.h), or an
/// error naming the option, the file and the line.
CookieSecrets readCookieSecrets(const std::string& path);

/// Checks every option (throws std::runtime_error naming the option and the
/// file; a missing --api-token-file used to be found only after DNS was
/// already being served). Unless options.check, binds --api-listen once and
/// releases it, so a busy port is an error too. Returns what the --api-*
/// files hold when the API is on.
ApiFiles validateOptions(const Options& options);

}  // namespace meridian::server
