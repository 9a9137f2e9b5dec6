// The fast reader of record chunk values (zones/compact_chunk.h): it reads
// the compact form exactly, declines everything else (so the JSON parser
// decides and names the fault), and never accepts a value the JSON parser
// would read differently: checked on a table of malformed values and on
// every prefix and many random mutations of a valid one, hostile bytes
// included (run under ASan too).

#include "zones/compact_chunk.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

using namespace meridian;
using zones::CompactCell;
using zones::CompactCellKind;

namespace {

// The records table's column kinds: id, zone_id, owner, type, ttl, rdata.
const std::vector<CompactCellKind> kKinds = {
    CompactCellKind::kInteger, CompactCellKind::kInteger, CompactCellKind::kString,
    CompactCellKind::kInteger, CompactCellKind::kInteger, CompactCellKind::kString};

const char* kValid =
    R"({"records":[[7,1,"www.example.com.",1,300,"c0000201"],[-9223372036854775808,0,"",65535,0,""]]})";

bool reads(const std::string& value) {
  std::vector<CompactCell> cells;
  return zones::readCompactChunk(value, kKinds, cells);
}

// True when the JSON parser reads `value` as a "records" array of rows of
// kKinds with exactly the cells the fast reader gave.
bool jsonAgrees(const std::string& value, const std::vector<CompactCell>& cells) {
  const nlohmann::json doc = nlohmann::json::parse(value, nullptr, false);
  if (!doc.is_object() || doc.size() != 1 || !doc.contains("records") ||
      !doc["records"].is_array())
    return false;
  size_t at = 0;
  for (const nlohmann::json& row : doc["records"]) {
    if (!row.is_array() || row.size() != kKinds.size()) return false;
    for (size_t i = 0; i < kKinds.size(); ++i, ++at) {
      if (at >= cells.size()) return false;
      if (kKinds[i] == CompactCellKind::kInteger) {
        if (!row[i].is_number_integer() || row[i].get<int64_t>() != cells[at].integer)
          return false;
      } else if (!row[i].is_string() || row[i].get<std::string>() != cells[at].text) {
        return false;
      }
    }
  }
  return at == cells.size();
}

}  // namespace

TEST_CASE("compact chunk: the form Meridian writes is read cell by cell") {
  std::vector<CompactCell> cells;
  REQUIRE(zones::readCompactChunk(kValid, kKinds, cells));
  REQUIRE(cells.size() == 12);
  CHECK(cells[0].integer == 7);
  CHECK(cells[2].text == "www.example.com.");
  CHECK(cells[4].integer == 300);
  CHECK(cells[5].text == "c0000201");
  CHECK(cells[6].integer == INT64_MIN);
  CHECK(cells[8].text == "");
  CHECK(jsonAgrees(kValid, cells));

  REQUIRE(zones::readCompactChunk(R"({"records":[]})", kKinds, cells));
  CHECK(cells.empty());
}

TEST_CASE("compact chunk: anything but the compact form is declined, for the JSON parser to judge") {
  const char* declined[] = {
      "",
      "null",
      "not json",
      "{}",
      R"({"records":{}})",
      R"({"records":[])",                                       // truncated
      R"({"records":[]} )",                                     // trailing space
      R"({"records":[]}x)",                                     // trailing bytes
      R"({"records":[],"more":1})",                             // another key
      R"( {"records":[]})",                                     // leading space
      R"({"records": []})",                                     // whitespace
      R"({"records":[[7,1,"a.",1,300,"00"],]})",               // trailing comma
      R"({"records":[[7,1,"a.",1,300]]})",                      // short row
      R"({"records":[[7,1,"a.",1,300,"00",1]]})",               // long row
      R"({"records":[[7,1,"a.",1,"300","00"]]})",               // string for an integer
      R"({"records":[[7,1,2,1,300,"00"]]})",                    // integer for a string
      R"({"records":[[7,1,null,1,300,"00"]]})",                 // null
      R"({"records":[[7,1,"a.",1,300.0,"00"]]})",               // a real
      R"({"records":[[7,1,"a.",1,3e2,"00"]]})",                 // an exponent
      R"({"records":[[07,1,"a.",1,300,"00"]]})",                // a leading zero
      R"({"records":[[-,1,"a.",1,300,"00"]]})",                 // a sign alone
      R"({"records":[[+7,1,"a.",1,300,"00"]]})",                // a plus sign
      R"({"records":[[9223372036854775808,1,"a.",1,300,"00"]]})",  // beyond int64
      R"({"records":[[7,1,"a\".",1,300,"00"]]})",               // an escape
      R"({"records":[[7,1,"a\u0041.",1,300,"00"]]})",           // a \u escape
      R"({"records":[[7,1,"a.,1,300,"00"]]})",                  // an unclosed string
      R"({"records":[[7,1,"a.",1,300,"00"])",                   // unclosed array
      R"({"records":[7,1,"a.",1,300,"00"]})",                   // not a row of arrays
      R"({"records":[[7 ,1,"a.",1,300,"00"]]})",                // space in a row
      "{\"records\":[[7,1,\"a\x01.\",1,300,\"00\"]]}",          // a control byte
      "{\"records\":[[7,1,\"\xc3\xa9.\",1,300,\"00\"]]}",       // UTF-8
      "{\"records\":[[7,1,\"\xff.\",1,300,\"00\"]]}",           // not UTF-8 at all
  };
  for (const char* value : declined) {
    CAPTURE(value);
    CHECK_FALSE(reads(value));
  }
  // A NUL inside the value is not the end of it.
  CHECK_FALSE(reads(std::string(R"({"records":[]})") + '\0'));
  const char nul_in_owner[] = "{\"records\":[[7,1,\"a\0.\",1,300,\"00\"]]}";
  CHECK_FALSE(reads(std::string(nul_in_owner, sizeof nul_in_owner - 1)));
}

TEST_CASE(
    "compact chunk: fuzz: every prefix and random mutations of a valid value are declined or read "
    "exactly as the JSON parser reads them") {
  const std::string valid = kValid;
  std::vector<CompactCell> cells;
  for (size_t n = 0; n < valid.size(); ++n) {
    CAPTURE(n);
    CHECK_FALSE(zones::readCompactChunk(valid.substr(0, n), kKinds, cells));
  }
  std::mt19937 random(20261207);
  const std::string alphabet = "{}[],\":-+.e0123456789 \\abcrs\x01\x7f\x80\xff";
  size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string value = valid;
    const int edits = 1 + static_cast<int>(random() % 3);
    for (int e = 0; e < edits; ++e) {
      const size_t at = random() % (value.size() + 1);
      const char c = alphabet[random() % alphabet.size()];
      switch (random() % 3) {
        case 0:
          if (at < value.size()) value[at] = c;
          break;
        case 1:
          value.insert(at, 1, c);
          break;
        default:
          if (at < value.size()) value.erase(at, 1);
          break;
      }
    }
    if (zones::readCompactChunk(value, kKinds, cells)) {
      ++accepted;
      CAPTURE(value);
      CHECK(jsonAgrees(value, cells));
    }
  }
  // Some mutations stay valid (a digit for a digit): the check above ran.
  CHECK(accepted > 100);
}
