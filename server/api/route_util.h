#pragma once
// Small helpers shared by the route files: URL parameters to canonical names
// and types, and the usual success responses.

#include <cstdint>
#include <optional>
#include <string>

#include "server/api/http.h"

namespace meridian::api {

/// Zone from a URL segment ("example.com" or "example.com."); 400 naming "zone".
std::string zoneParam(const std::string& text);
/// RR type mnemonic from a URL segment or query ("A", "aaaa", "TYPE65280"); 400 naming `field`.
uint16_t typeParam(const std::string& text, const std::string& field = "type");
/// `?type=` for steered names: nullopt when absent, else A or AAAA.
std::optional<uint16_t> steeredTypeArg(const Request& request);

/// `text` fit for one URL path segment: every byte but A-Z a-z 0-9 - . _ ~
/// percent-encoded ("a/b.test." -> "a%2Fb.test.").
std::string pathSegment(const std::string& text);

/// 201 with a Location header.
Response created(const nlohmann::json& body, const std::string& location);

}  // namespace meridian::api
