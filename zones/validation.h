#pragma once
// Control-plane validation errors: every rejected input names the offending
// field (a JSON path such as "check.interval_s") and says what is wrong. The
// API turns these into 400 problem+json responses; meridianctl prints them.

#include <stdexcept>
#include <string>

namespace meridian::zones {

class ValidationError : public std::invalid_argument {
 public:
  ValidationError(std::string field, const std::string& message)
      : std::invalid_argument(field.empty() ? message : field + ": " + message),
        field_(std::move(field)),
        detail_(message) {}
  /// JSON path of the offending field ("" when the whole document is wrong).
  const std::string& field() const noexcept { return field_; }
  /// The message without the field prefix.
  const std::string& detail() const noexcept { return detail_; }

 private:
  std::string field_;
  std::string detail_;
};

/// The named resource does not exist (API: 404).
class NotFoundError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The change conflicts with stored data: duplicate name, region still in use
/// (API: 409).
class ConflictError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace meridian::zones
