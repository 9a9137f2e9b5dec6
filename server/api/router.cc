#include "server/api/router.h"

#include <algorithm>

namespace meridian::api {

namespace {

std::vector<std::string> splitPath(const std::string& path) {
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
  route.segments = splitPath(pattern);
  route.handler = std::move(handler);
  route.body_limit = body_limit;
  route.writes = method != "GET";
  routes_.push_back(std::move(route));
}

void Router::addPublic(const std::string& method, const std::string& pattern, Handler handler) {
  add(method, pattern, std::move(handler));
  routes_.back().writes = false;
}

Match Router::match(const std::string& method, const std::string& path) const {
  Match m;
  if (path.empty() || path[0] != '/') return m;
  const std::vector<std::string> segments = splitPath(path);
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
