#pragma once
// meridianctl's HTTP client for the JSON API (libcurl, one easy handle reused
// so consecutive calls share a keep-alive connection). Errors become
// CtlError with one line fit to print: the API's problem detail and field, or
// curl's reason for not reaching the server.

#include <curl/curl.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>

namespace meridian::ctl {

class CtlError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ApiReply {
  long status = 0;
  std::string content_type;
  std::string body;
  nlohmann::json json() const;  // throws CtlError when the body is not JSON
};

/// How to trust an https:// API (meridiand --api-tls-cert).
struct TlsTrust {
  std::string cacert;     // PEM file of the CA (or the self-signed certificate) to trust
  bool insecure = false;  // verify nothing (tests, first set-up); the token still travels encrypted
};

class ApiClient {
 public:
  /// `base` like "http://127.0.0.1:8053" or "https://api.example:8053";
  /// `token` sent as Bearer.
  ApiClient(std::string base, std::string token, TlsTrust trust = {});
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  /// Any status; throws CtlError only when the server cannot be reached.
  ApiReply send(const std::string& method, const std::string& path,
                const std::optional<nlohmann::json>& body = std::nullopt);
  /// 2xx or CtlError("STATUS TITLE: FIELD: DETAIL"), the detail in CLI
  /// terms (cliTerms).
  ApiReply call(const std::string& method, const std::string& path,
                const std::optional<nlohmann::json>& body = std::nullopt);

  /// Percent-encodes one path segment or query value.
  std::string escape(const std::string& text) const;

 private:
  std::string base_;
  std::string token_;
  TlsTrust trust_;
  CURL* curl_ = nullptr;
};

/// An API problem detail in meridianctl's terms: the query parameters it
/// names become the options that set them ("add ?type=A" -> "add --type A").
std::string cliTerms(const std::string& detail);

/// Reads a token file by the rule of common::readTokenFile; CtlError naming
/// the file and the problem. A warning (readable by others) goes to stderr.
std::string readTokenFile(const std::string& path);

}  // namespace meridian::ctl
