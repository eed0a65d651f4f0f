// JSON helpers with JSON Schema semantics: numeric equality across integer
// and float representations (1 == 1.0), hashing consistent with it, exact
// number comparison, code point counting. Internal to the schema module.
// Every function here is iterative or depth-bounded, so a deeply nested
// instance cannot exhaust the stack. Pure functions; safe from any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace bver::schema::internal {

using Json = nlohmann::json;

// A JSON number as written in a schema, kept exact.
struct Number {
  enum class Kind : std::uint8_t { kSigned, kUnsigned, kFloat };
  Kind kind = Kind::kSigned;
  std::int64_t i = 0;
  std::uint64_t u = 0;
  double d = 0;

  // Precondition: value.is_number().
  static Number From(const Json& value);
  bool IsIntegral() const;
  long double AsLongDouble() const;
  std::string ToString() const;
};

// Compares instance number `a` with `b`: negative, zero or positive.
// Precondition: a.is_number(). NaN compares as "unordered" and yields 2.
int CompareNumber(const Json& a, const Number& b);

// True when `value` is a multiple of `divisor` (divisor > 0).
bool IsMultipleOf(const Json& value, const Number& divisor);

// JSON Schema equality: numbers compare by mathematical value, objects by
// their key sets and values, arrays element by element.
bool JsonEqual(const Json& a, const Json& b);

// A hash consistent with JsonEqual (equal values hash equally).
std::uint64_t JsonHash(const Json& value);

// True for integer-typed numbers and for finite floats without a fraction.
bool IsIntegerValue(const Json& value);

// "null", "boolean", "object", "array", "integer", "number" or "string";
// integer-valued floats are "number" here because the text said so.
std::string_view JsonTypeName(const Json& value);

// Number of Unicode code points in UTF-8 text (continuation bytes skipped).
std::size_t CodePointCount(std::string_view utf8);

// Compact JSON text of a schema value, shortened to about `max_chars`.
// Never throws (invalid UTF-8 is replaced).
std::string Abbreviate(const Json& value, std::size_t max_chars = 80);

// A JSON string literal for `text` ("\"name\""), for messages.
std::string Quote(std::string_view text);

}  // namespace bver::schema::internal
