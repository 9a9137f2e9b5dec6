#pragma once
// Plain stderr log lines with a level, used by every Meridian program:
//   2026-11-27T09:41:07.123Z info  meridiand: serving 3 zones (generation 4)
// Control plane only: formatting allocates, so the query loops never log per
// packet; they count instead.

#include <string>
#include <string_view>

namespace meridian::log {

enum class Level { kDebug, kInfo, kWarn, kError };

/// Sets the lowest level printed and the program name in each line.
void setup(std::string_view program, Level minimum);
/// Parses "debug", "info", "warn", "error"; throws std::invalid_argument.
Level parseLevel(std::string_view text);

void write(Level level, std::string_view message);
inline void debug(std::string_view m) { write(Level::kDebug, m); }
inline void info(std::string_view m) { write(Level::kInfo, m); }
inline void warn(std::string_view m) { write(Level::kWarn, m); }
inline void error(std::string_view m) { write(Level::kError, m); }

}  // namespace meridian::log
