// Canonical JSON per RFC 8785 (the JSON Canonicalization Scheme, JCS): the one
// byte string BVER hashes and signs for a JSON value, so that two values that
// mean the same thing get the same digest however they were written.
//
// Functions here are pure and safe to call from any thread.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "bver/status.h"

namespace bver::core {

// The RFC 8785 text of `value`: no whitespace; object members sorted by the
// UTF-16 code units of their names; strings with only the required escapes
// (\b \t \n \f \r \" \\ and \u00xx for other control characters, in lower
// case); numbers as ECMAScript's Number.prototype.toString prints the IEEE
// double (-0 becomes 0).
//
// InvalidArgument, naming where in the value, for what I-JSON (RFC 7493)
// cannot carry exactly: NaN or infinity; an integer whose magnitude is above
// 2^53 (every reader that uses doubles would round it, so it is refused
// rather than changed) -- unless its decimal text is already the ECMAScript
// form of a double, such as 1000000000000000000, which every reader gets
// back unchanged; a string or key that is not valid UTF-8; binary or
// discarded values; nesting deeper than kMaxJsonDepth.
//
// CanonicalJson(parse(CanonicalJson(v))) == CanonicalJson(v).
Result<std::string> CanonicalJson(const nlohmann::json& value);

// Appends `s` as an RFC 8785 JSON string (quotes included): only '"', '\\'
// and control characters are escaped. `s` is taken as valid UTF-8.
void AppendJsonString(std::string& out, std::string_view s);

// The deepest nesting of arrays and objects CanonicalJson accepts.
inline constexpr int kMaxJsonDepth = 512;

// The JCS form of one number (exposed for tests and for callers that print
// numbers the way JavaScript does). InvalidArgument for NaN and infinity.
Result<std::string> CanonicalNumber(double value);

}  // namespace bver::core
