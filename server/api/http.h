#pragma once
// The API's view of one HTTP exchange, independent of libmicrohttpd: a
// Request with the body already read, a Response to send, and HttpError for
// the problem+json answers (RFC 9457). Handlers are plain functions of these.

#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace meridian::api {

struct Request {
  std::string method;                        // "GET", "PUT", ...
  std::string path;                          // as sent (escapes kept), without the query string
  std::vector<std::string> params;           // the {} segments of the matched route
  std::map<std::string, std::string> query;  // ?name=value
  std::string content_type;
  std::string body;

  /// The body as JSON: 400 for malformed JSON, duplicate keys, nesting
  /// deeper than 64 levels (the parser recurses; 1 MiB of '[' would otherwise
  /// exhaust the stack), or a NUL character in any string or key (naming
  /// its field: C strings downstream would cut it short).
  nlohmann::json json() const;
  /// A query parameter, or "" when absent.
  std::string arg(const std::string& name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  static Response json(int status, const nlohmann::json& body);
  static Response noContent() { return Response{204, "", "", {}}; }
};

/// Any 4xx/5xx the handlers raise themselves.
class HttpError : public std::runtime_error {
 public:
  HttpError(int status, std::string title, const std::string& detail, std::string field = {})
      : std::runtime_error(detail),
        status_(status),
        title_(std::move(title)),
        field_(std::move(field)) {}
  int status() const { return status_; }
  const std::string& title() const { return title_; }
  const std::string& field() const { return field_; }

 private:
  int status_;
  std::string title_;
  std::string field_;
};

/// application/problem+json: {"type":"about:blank","title":...,"status":...,
/// "detail":...,"field":...} ("field" only when given).
Response problem(int status, const std::string& title, const std::string& detail,
                 const std::string& field = {});

}  // namespace meridian::api
