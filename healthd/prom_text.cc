#include "healthd/prom_text.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace meridian::healthd {

namespace {

bool nameStart(char c, bool colon) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}
bool nameChar(char c, bool colon) { return nameStart(c, colon) || (c >= '0' && c <= '9'); }

// A cursor over one line; every read checks the bounds.
struct Line {
  std::string_view text;
  size_t pos = 0;
  bool done() const { return pos >= text.size(); }
  char peek() const { return done() ? '\0' : text[pos]; }
  void skipBlanks() {
    while (!done() && (text[pos] == ' ' || text[pos] == '\t')) ++pos;
  }
  std::string_view name(bool colon) {
    const size_t start = pos;
    if (done() || !nameStart(text[pos], colon)) return {};
    while (!done() && nameChar(text[pos], colon)) ++pos;
    return text.substr(start, pos - start);
  }
};

// A quoted label value with the format's three escapes (\\, \", \n).
bool labelValue(Line& line, std::string& out, std::string& error) {
  out.clear();
  if (line.peek() != '"') {
    error = "label value is not quoted";
    return false;
  }
  ++line.pos;
  while (!line.done()) {
    const char c = line.text[line.pos++];
    if (c == '"') return true;
    if (c != '\\') {
      out += c;
      continue;
    }
    if (line.done()) break;
    const char e = line.text[line.pos++];
    if (e == 'n') {
      out += '\n';
    } else if (e == '\\' || e == '"') {
      out += e;
    } else {
      error = std::string("unknown escape \\") + e + " in a label value";
      return false;
    }
  }
  error = "unterminated label value";
  return false;
}

// A sample value: a float, NaN, +Inf or -Inf. strtod needs a terminated
// string, so the token is copied (it is at most a line long).
bool sampleValue(Line& line, double& out, std::string& error) {
  const size_t start = line.pos;
  while (!line.done() && line.text[line.pos] != ' ' && line.text[line.pos] != '\t') ++line.pos;
  const std::string token(line.text.substr(start, line.pos - start));
  if (token.empty()) {
    error = "no sample value";
    return false;
  }
  errno = 0;
  char* end = nullptr;
  out = std::strtod(token.c_str(), &end);
  if (end != token.c_str() + token.size() || token.find_first_of("xX") != std::string::npos) {
    error = "sample value \"" + token.substr(0, 40) + "\" is not a number";
    return false;
  }
  return true;
}

}  // namespace

bool isPromMetricName(std::string_view name) noexcept {
  if (name.empty() || !nameStart(name[0], true)) return false;
  for (const char c : name) {
    if (!nameChar(c, true)) return false;
  }
  return true;
}

bool isPromLabelName(std::string_view name) noexcept {
  if (name.empty() || !nameStart(name[0], false)) return false;
  for (const char c : name) {
    if (!nameChar(c, false)) return false;
  }
  return true;
}

PromSums sumExposition(std::string_view body, const std::vector<PromSelector>& selectors) {
  PromSums out;
  out.sums.assign(selectors.size(), 0.0);
  out.matched.assign(selectors.size(), 0);
  if (body.size() > kMaxExpositionBytes) {
    out.error = "exposition is larger than " + std::to_string(kMaxExpositionBytes) + " bytes";
    return out;
  }
  std::vector<size_t> labels_seen(selectors.size());
  std::vector<char> candidate(selectors.size());
  std::string value_text;
  size_t line_number = 0;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string_view::npos) end = body.size();
    ++line_number;
    Line line{body.substr(start, end - start)};
    start = end + 1;
    auto fail = [&](const std::string& why) {
      out.error = "line " + std::to_string(line_number) + ": " + why;
      return out;
    };
    if (line.text.size() > kMaxExpositionLine) return fail("longer than 65536 bytes");
    if (!line.text.empty() && line.text.back() == '\r') line.text.remove_suffix(1);
    if (line.text.find('\0') != std::string_view::npos) return fail("contains a NUL byte");
    line.skipBlanks();
    if (line.done() || line.peek() == '#') continue;  // blank, HELP, TYPE, comments, # EOF
    const std::string_view metric = line.name(true);
    if (metric.empty()) return fail("does not start with a metric name");
    bool any = false;
    for (size_t i = 0; i < selectors.size(); ++i) {
      candidate[i] = selectors[i].metric == metric;
      labels_seen[i] = 0;
      any = any || candidate[i];
    }
    line.skipBlanks();
    if (line.peek() == '{') {
      ++line.pos;
      while (true) {
        line.skipBlanks();
        if (line.peek() == '}') {
          ++line.pos;
          break;
        }
        const std::string_view label = line.name(false);
        if (label.empty()) return fail("malformed label name");
        line.skipBlanks();
        if (line.peek() != '=') return fail("label " + std::string(label) + " has no '='");
        ++line.pos;
        line.skipBlanks();
        std::string why;
        if (!labelValue(line, value_text, why)) return fail(why);
        if (any) {
          for (size_t i = 0; i < selectors.size(); ++i) {
            if (!candidate[i]) continue;
            const auto want = selectors[i].labels.find(std::string(label));
            if (want == selectors[i].labels.end()) continue;
            if (want->second == value_text) {
              ++labels_seen[i];
            } else {
              candidate[i] = false;
            }
          }
        }
        line.skipBlanks();
        if (line.peek() == ',') {
          ++line.pos;
          continue;
        }
        if (line.peek() != '}') return fail("expected ',' or '}' after a label");
      }
    }
    line.skipBlanks();
    double value = 0;
    std::string why;
    if (!sampleValue(line, value, why)) return fail(why);
    line.skipBlanks();
    if (!line.done()) {
      // An optional integer timestamp (milliseconds), then nothing.
      const size_t ts = line.pos;
      if (line.peek() == '-') ++line.pos;
      while (!line.done() && line.peek() >= '0' && line.peek() <= '9') ++line.pos;
      if (line.pos == ts) return fail("unexpected text after the sample value");
      line.skipBlanks();
      if (!line.done()) return fail("unexpected text after the timestamp");
    }
    for (size_t i = 0; i < selectors.size(); ++i) {
      if (!candidate[i] || labels_seen[i] != selectors[i].labels.size()) continue;
      if (!std::isfinite(value)) return fail(std::string(metric) + " is not a finite number");
      out.sums[i] += value;
      if (!std::isfinite(out.sums[i])) return fail("the sum of " + std::string(metric) + " overflows");
      ++out.matched[i];
    }
  }
  return out;
}

}  // namespace meridian::healthd
