#include "server/options.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "cluster/etcd_types.h"
#include "common/socket_address.h"
#include "server/dns_loop.h"
#include "server/identity.h"

namespace meridian::server {

namespace {

// An existing regular file we may read (--geodb), or an error naming it.
void checkReadableFile(const std::string& option, const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || access(path.c_str(), R_OK) != 0) {
    throw optionError(option, path, std::string("cannot read: ") + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) throw optionError(option, path, "is not a regular file");
}

// --api-listen: split as the API server splits it and, unless we only
// --check, bound once (by the API server's own function) and released, so
// that a bad address or a busy port is an error before DNS is served.
void checkApiListen(const std::string& listen, bool try_bind) {
  try {
    common::splitHostPort(listen, "API listen address");
    if (!try_bind) return;
    bool ipv6 = false;
    close(api::listenSocket(listen, &ipv6));
  } catch (const std::exception& e) {
    throw optionError("--api-listen", listen, e.what());
  }
}

std::string readWholeFile(const std::string& option, const std::string& path) {
  checkReadableFile(option, path);
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) throw optionError(option, path, "cannot read");
  return text;
}

ApiFiles readApiFiles(const Options& options) {
  ApiFiles files;
  auto token = [&](const char* option, const std::string& path) {
    try {
      return api::loadOrCreateToken(options.db_path, path);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(option) + ": " + e.what());
    }
  };
  if (!options.api_token_file.empty())
    files.token = token("--api-token-file", options.api_token_file);
  if (!options.api_read_token_file.empty()) {
    files.read_token = token("--api-read-token-file", options.api_read_token_file);
    if (files.token && *files.token == files.read_token) {
      throw optionError("--api-read-token-file", options.api_read_token_file,
                        "holds the same token as --api-token-file; the read-only token must "
                        "differ from the write token");
    }
  }
  if (options.api_tls_cert.empty() != options.api_tls_key.empty()) {
    throw std::runtime_error(options.api_tls_cert.empty()
                                 ? "--api-tls-key needs --api-tls-cert (the certificate)"
                                 : "--api-tls-cert needs --api-tls-key (the private key)");
  }
  if (!options.api_tls_cert.empty()) {
    files.tls_cert_pem = readWholeFile("--api-tls-cert", options.api_tls_cert);
    files.tls_key_pem = readWholeFile("--api-tls-key", options.api_tls_key);
    try {
      api::checkTlsCredentials(files.tls_cert_pem, files.tls_key_pem);
    } catch (const std::exception& e) {
      throw std::runtime_error("--api-tls-cert " + options.api_tls_cert + " --api-tls-key " +
                               options.api_tls_key + ": " + e.what());
    }
  }
  if (options.api_limits.max_connections_per_client > options.api_limits.max_connections) {
    throw optionError("--api-max-connections-per-client",
                      std::to_string(options.api_limits.max_connections_per_client),
                      "is more than --api-max-connections (" +
                          std::to_string(options.api_limits.max_connections) + ")");
  }
  return files;
}

}  // namespace

std::runtime_error optionError(const std::string& option, const std::string& value,
                               const std::string& problem) {
  return std::runtime_error(option + " " + value + ": " + problem);
}

CookieSecrets readCookieSecrets(const std::string& path) {
  checkReadableFile("--cookie-secret-file", path);
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw optionError("--cookie-secret-file", path, "cannot read");
  try {
    return parseCookieSecrets(text.str());
  } catch (const std::exception& e) {
    throw optionError("--cookie-secret-file", path, e.what());
  }
}

ApiFiles validateOptions(const Options& options) {
  if (!options.etcd.empty()) {
    try {
      cluster::parseEndpoints(options.etcd);
    } catch (const std::exception& e) {
      throw optionError("--etcd", options.etcd, e.what());
    }
    if (options.demo) {
      throw std::runtime_error(
          "--demo: cannot seed a cluster replica (--etcd); seed a single-node database and push "
          "it with meridianctl cluster init");
    }
  }
  try {
    checkNodeName(options.node_name);
  } catch (const std::exception& e) {
    throw optionError("--node-name", options.node_name, e.what());
  }
  for (const std::string& address : options.dns_listen) {
    try {
      parseListenAddress(address);
    } catch (const std::exception& e) {
      throw optionError("--dns-listen", address, e.what());
    }
  }
  if (options.tcp_max_per_client_given &&
      options.tcp_max_per_client > options.tcp_max_connections) {
    throw optionError(
        "--tcp-max-per-client", std::to_string(options.tcp_max_per_client),
        "is more than --tcp-max-connections (" + std::to_string(options.tcp_max_connections) + ")");
  }
  if (!options.geodb.empty()) checkReadableFile("--geodb", options.geodb);
  if (!options.asndb.empty()) checkReadableFile("--asndb", options.asndb);
  if (!options.cookie_secret_file.empty()) readCookieSecrets(options.cookie_secret_file);
  if (!options.ready_file.empty()) {
    const auto slash = options.ready_file.rfind('/');
    const std::string directory = slash == std::string::npos ? "."
                                  : slash == 0               ? "/"
                                                             : options.ready_file.substr(0, slash);
    if (access(directory.c_str(), W_OK) != 0) {
      throw optionError("--ready-file", options.ready_file,
                        "cannot write in " + directory + ": " + std::strerror(errno));
    }
  }
  if (options.no_api) return {};
  checkApiListen(options.api_listen, !options.check);
  return readApiFiles(options);
}

}  // namespace meridian::server
