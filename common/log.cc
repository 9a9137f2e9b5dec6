#include "common/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <stdexcept>

namespace meridian::log {

namespace {
std::atomic<Level> g_minimum{Level::kInfo};
std::string g_program = "meridian";
std::mutex g_mutex;  // one line at a time from many threads

const char* name(Level level) {
  switch (level) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info ";
    case Level::kWarn: return "warn ";
    default: return "error";
  }
}
}  // namespace

void setup(std::string_view program, Level minimum) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_program = std::string(program);
  g_minimum = minimum;
}

Level parseLevel(std::string_view text) {
  if (text == "debug") return Level::kDebug;
  if (text == "info") return Level::kInfo;
  if (text == "warn") return Level::kWarn;
  if (text == "error") return Level::kError;
  throw std::invalid_argument("log level must be debug, info, warn or error, not \"" +
                              std::string(text) + "\"");
}

void write(Level level, std::string_view message) {
  if (level < g_minimum.load(std::memory_order_relaxed)) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc;
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fprintf(stderr, "%s.%03dZ %s %s: %.*s\n", stamp, static_cast<int>(millis), name(level),
               g_program.c_str(), static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
}

}  // namespace meridian::log
