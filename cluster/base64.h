#pragma once
// Standard base64 (RFC 4648 section 4, with padding): etcd's JSON gateway
// carries every key and value this way. Any thread may call these.

#include <optional>
#include <string>
#include <string_view>

namespace meridian::cluster {

std::string base64Encode(std::string_view bytes);

/// The decoded bytes, or nullopt when `text` is not canonical padded base64
/// (a length that is not a multiple of 4, a character outside the alphabet,
/// padding anywhere but the end, or non-zero bits left in the last symbol).
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace meridian::cluster
