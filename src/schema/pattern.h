// A compiled "pattern" / "patternProperties" regular expression: the ECMA-262
// subset that std::regex's ECMAScript grammar understands, matched unanchored
// (regex_search) and over Unicode code points.
//
// Two guarantees std::regex does not give by default:
//  - no stack exhaustion and no exponential backtracking on long or hostile
//    input: with libstdc++ the automaton runs in its breadth-first
//    ("polynomial") mode, which is why back-references are rejected;
//  - code point semantics: "." and "{n}" count characters, not UTF-8 bytes,
//    by matching non-ASCII input (or any input, for a non-ASCII pattern)
//    with a wide (UTF-32) copy of the regex.
//
// Immutable after Create; Matches is safe to call from many threads at once.
#pragma once

#include <memory>
#include <regex>
#include <string>
#include <string_view>

#include "bver/status.h"

namespace bver::schema::internal {

class Pattern {
 public:
  // InvalidArgument with the reason when `source` is not a supported regex.
  static Result<std::unique_ptr<Pattern>> Create(std::string_view source);

  // True when the pattern matches somewhere in `text` (UTF-8). Never throws;
  // should the regex engine fail (out of memory), the answer is false.
  bool Matches(std::string_view text) const;

  const std::string& source() const { return source_; }

 private:
  Pattern() = default;

  std::string source_;
  bool ascii_ = false;  // the pattern is ASCII, so narrow_ exists
  std::regex narrow_;   // for ASCII input to an ASCII pattern: no conversion
  std::wregex wide_;    // for everything else, matched over UTF-32
};

}  // namespace bver::schema::internal
