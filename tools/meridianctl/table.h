#pragma once
// Aligned plain-text tables for meridianctl's default output:
//   NAME     LATITUDE  LONGITUDE
//   eu-west  53.35     -6.26

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace meridian::ctl {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  /// Columns padded to their widest cell, two spaces apart; no trailing spaces.
  void print(std::ostream& out) const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

/// A JSON value as a table cell: strings bare, null as "-", arrays joined by ",".
std::string cell(const nlohmann::json& value);

}  // namespace meridian::ctl
