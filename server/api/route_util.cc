#include "server/api/route_util.h"

#include <algorithm>
#include <cctype>

#include "zones/steering_store.h"
#include "zones/validation.h"
#include "zones/zone_io.h"

namespace meridian::api {

std::string zoneParam(const std::string& text) {
  return zones::zoneNameFromText(text);
}

uint16_t typeParam(const std::string& text, const std::string& field) {
  std::string upper = text;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  try {
    return zones::typeFromText(upper);
  } catch (const zones::ZoneError& e) {
    throw zones::ValidationError(field, e.what());
  }
}

std::optional<uint16_t> steeredTypeArg(const Request& request) {
  const std::string text = request.arg("type");
  if (text.empty()) return std::nullopt;
  const uint16_t type = typeParam(text);
  if (type != 1 && type != 28) {
    throw zones::ValidationError("type", "steered names are A or AAAA, not " + text);
  }
  return type;
}

std::string pathSegment(const std::string& text) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 15];
    }
  }
  return out;
}

Response created(const nlohmann::json& body, const std::string& location) {
  Response r = Response::json(201, body);
  r.headers.push_back({"Location", location});
  return r;
}

}  // namespace meridian::api
