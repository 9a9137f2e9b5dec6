#include "server/api/http.h"

#include <set>

namespace meridian::api {

namespace {

constexpr int kMaxJsonDepth = 64;

// Deepest bracket nesting outside strings. "[[1],{"a":[2]}]" -> 3.
int nestingDepth(const std::string& text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// The first string (value or key) holding a NUL, as the JSON path the
// validation errors use ("records[0]", "check.url"); "" when there is none.
// Names and rdata go through C strings (ldns, SQLite text, libc), where a
// NUL silently ends them: "ab\u0000cd" would be stored as "ab".
std::string pathWithNul(const nlohmann::json& value, const std::string& path) {
  if (value.is_string()) {
    return value.get_ref<const std::string&>().find('\0') != std::string::npos ? path : "";
  }
  if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      std::string found = pathWithNul(value[i], path + "[" + std::to_string(i) + "]");
      if (!found.empty()) return found;
    }
  } else if (value.is_object()) {
    for (const auto& [key, member] : value.items()) {
      const std::string here = path.empty() ? key : path + "." + key;
      if (key.find('\0') != std::string::npos) return here.substr(0, here.find('\0'));
      std::string found = pathWithNul(member, here);
      if (!found.empty()) return found;
    }
  }
  return {};
}

}  // namespace

nlohmann::json Request::json() const {
  if (body.empty()) throw HttpError(400, "Missing body", "this request needs a JSON body");
  if (nestingDepth(body) > kMaxJsonDepth) {
    throw HttpError(400, "Malformed JSON",
                    "the document nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }
  // Duplicate keys are refused rather than letting the last one win silently:
  // {"weight":1,"weight":1000} is almost certainly a mistake.
  std::vector<std::set<std::string>> keys;
  std::string duplicate;
  auto callback = [&](int, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using E = nlohmann::json::parse_event_t;
    if (event == E::object_start) {
      keys.emplace_back();
    } else if (event == E::object_end) {
      keys.pop_back();
    } else if (event == E::key && !keys.empty() && duplicate.empty()) {
      const std::string key = parsed.get<std::string>();
      if (!keys.back().insert(key).second) duplicate = key;
    }
    return true;
  };
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(body, callback);
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and out_of_range for numbers such as 1e999.
    std::string what = e.what();
    // "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    const size_t bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    throw HttpError(400, "Malformed JSON", what);
  }
  if (!duplicate.empty()) {
    throw HttpError(400, "Malformed JSON", "key \"" + duplicate + "\" appears twice", duplicate);
  }
  if (const std::string field = pathWithNul(doc, ""); !field.empty()) {
    throw HttpError(400, "Invalid input",
                    "contains a NUL character (\\u0000), which no name or record can hold; "
                    "in TXT data write a zero byte as \\000",
                    field);
  }
  return doc;
}

std::string Request::arg(const std::string& name) const {
  const auto it = query.find(name);
  return it == query.end() ? std::string() : it->second;
}

Response Response::json(int status, const nlohmann::json& body) {
  return Response{status,
                  "application/json",
                  body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  {}};
}

Response problem(int status, const std::string& title, const std::string& detail,
                 const std::string& field) {
  nlohmann::json doc = {
      {"type", "about:blank"}, {"title", title}, {"status", status}, {"detail", detail}};
  if (!field.empty()) doc["field"] = field;
  return Response{status,
                  "application/problem+json",
                  doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  {}};
}

}  // namespace meridian::api
