#include "server/api/router.h"

#include <algorithm>

namespace meridian::api {

namespace {

// Splits on '/' before decoding, so "%2F" stays inside its segment.
std::vector<std::string> splitRaw(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;  // paths begin with '/'
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  // "/api/v1/regions/" names the same collection as "/api/v1/regions".
  if (out.size() > 1 && out.back().empty()) out.pop_back();
  return out;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// "a%2Fb" -> "a/b". A '%' not followed by two hex digits, or an escape that
// makes a NUL (which a name or C string would cut short), is a 400.
std::string percentDecode(const std::string& segment) {
  std::string out;
  out.reserve(segment.size());
  for (size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out += segment[i];
      continue;
    }
    const bool complete = i + 2 < segment.size();
    const int high = complete ? hexValue(segment[i + 1]) : -1;
    const int low = complete ? hexValue(segment[i + 2]) : -1;
    if (high < 0 || low < 0) {
      throw HttpError(400, "Bad request",
                      "path segment \"" + segment + "\" has a '%' not followed by two hex digits");
    }
    if (high == 0 && low == 0) {
      throw HttpError(400, "Bad request", "path segment \"" + segment + "\" contains %00");
    }
    out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return out;
}

}  // namespace

std::vector<std::string> Router::decodePath(const std::string& path) {
  std::vector<std::string> segments = splitRaw(path);
  for (std::string& segment : segments) segment = percentDecode(segment);
  return segments;
}

namespace {

bool segmentsMatch(const Route& route, const std::vector<std::string>& segments,
                   std::vector<std::string>* params) {
  if (route.segments.size() != segments.size()) return false;
  std::vector<std::string> found;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (route.segments[i] == "{}") {
      if (segments[i].empty()) return false;
      found.push_back(segments[i]);
    } else if (route.segments[i] != segments[i]) {
      return false;
    }
  }
  if (params) *params = std::move(found);
  return true;
}

}  // namespace

void Router::add(const std::string& method, const std::string& pattern, Handler handler,
                 size_t body_limit) {
  Route route;
  route.method = method;
  route.segments = splitRaw(pattern);
  route.handler = std::move(handler);
  route.body_limit = body_limit;
  route.writes = method != "GET";
  routes_.push_back(std::move(route));
}

void Router::addClusterAware(const std::string& method, const std::string& pattern,
                             Handler handler) {
  add(method, pattern, std::move(handler));
  routes_.back().cluster_aware = true;
}

void Router::addPublic(const std::string& method, const std::string& pattern, Handler handler) {
  add(method, pattern, std::move(handler));
  routes_.back().writes = false;
}

Match Router::match(const std::string& method, const std::string& path) const {
  if (path.empty() || path[0] != '/') return Match{};
  return match(method, decodePath(path));
}

Match Router::match(const std::string& method, const std::vector<std::string>& segments) const {
  Match m;
  const std::string wanted = method == "HEAD" ? "GET" : method;
  for (const Route& route : routes_) {
    std::vector<std::string> params;
    if (!segmentsMatch(route, segments, &params)) continue;
    if (route.method == wanted) {
      m.route = &route;
      m.params = std::move(params);
      m.allowed.clear();
      return m;
    }
    if (std::find(m.allowed.begin(), m.allowed.end(), route.method) == m.allowed.end()) {
      m.allowed.push_back(route.method);
    }
  }
  return m;
}

}  // namespace meridian::api
