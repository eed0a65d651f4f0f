// libFuzzer target: arbitrary bytes as a pointer and as an attribute path.
//
// Invariants checked (a violation aborts, which libFuzzer reports):
//  - parsing never crashes, leaks or trips UBSan;
//  - a failure is InvalidArgument with one Violation "column N" (1 <= N <=
//    characters + 1), the right rule, and a valid UTF-8 message;
//  - a success formats to a text that parses back to an equal value, and
//    formatting that is a fixed point; Make accepts the parsed parts;
//  - ResolvePath on the parsed path answers a value or NotFound.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "bver/pointer.h"
#include "src/core/json_path.h"

namespace {

void Check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "invariant failed: %s\ninput (%zu bytes): ", what, input.size());
  for (unsigned char c : input) std::fprintf(stderr, "\\x%02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

bool IsValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const unsigned char b = static_cast<unsigned char>(s[i]);
    std::size_t n = b < 0x80                   ? 1
                    : (b >= 0xC2 && b <= 0xDF) ? 2
                    : (b >= 0xE0 && b <= 0xEF) ? 3
                    : (b >= 0xF0 && b <= 0xF4) ? 4
                                               : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const unsigned char c = static_cast<unsigned char>(s[i + k]);
      unsigned char lo = 0x80, hi = 0xBF;
      if (k == 1 && b == 0xE0) lo = 0xA0;
      if (k == 1 && b == 0xED) hi = 0x9F;
      if (k == 1 && b == 0xF0) lo = 0x90;
      if (k == 1 && b == 0xF4) hi = 0x8F;
      if (c < lo || c > hi) return false;
    }
    i += n;
  }
  return true;
}

std::size_t CountChars(std::string_view s) {
  std::size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

void CheckError(const bver::Status& s, std::string_view rule, std::string_view input) {
  Check(s.code() == bver::StatusCode::kInvalidArgument, "error code is InvalidArgument", input);
  Check(s.violations().size() == 1, "exactly one violation", input);
  const bver::Violation& v = s.violations()[0];
  Check(v.rule == rule, "violation rule", input);
  Check(v.path.rfind("column ", 0) == 0, "violation path is \"column N\"", input);
  const std::string digits = v.path.substr(7);
  Check(!digits.empty() && digits.find_first_not_of("0123456789") == std::string::npos,
        "column is a number", input);
  const unsigned long long column = std::strtoull(digits.c_str(), nullptr, 10);
  Check(column >= 1 && column <= CountChars(input) + 1, "column within the input", input);
  Check(s.message().find("at " + v.path + ": ") != std::string::npos, "message names the column",
        input);
  Check(IsValidUtf8(s.message()), "message is valid UTF-8", input);
}

const nlohmann::json& Doc() {
  static const nlohmann::json* const kDoc = new nlohmann::json(nlohmann::json::parse(R"({
    "a": {"b": [1, {"c": "x"}], "": null, "x y": [[0]]},
    "m": [[1, 2], [3]], "_": true, "A": "\u00e9"
  })"));
  return *kDoc;
}

void CheckResolve(const bver::AttributePath& path, std::string_view input) {
  bver::Result<const nlohmann::json*> r = bver::core::ResolvePath(Doc(), path);
  Check(r.ok() || r.status().code() == bver::StatusCode::kNotFound, "resolve is value or NotFound",
        input);
  Check(!r.ok() || *r != nullptr, "resolved value is not null", input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  bver::Result<bver::Pointer> p = bver::Pointer::Parse(input);
  if (p.ok()) {
    const std::string text = p->ToString();
    bver::Result<bver::Pointer> again = bver::Pointer::Parse(text);
    Check(again.ok(), "formatted pointer parses", input);
    Check(*again == *p, "formatted pointer parses to an equal value", input);
    Check(again->ToString() == text, "pointer formatting is a fixed point", input);
    bver::Result<bver::Pointer> made =
        bver::Pointer::Make(p->ns(), p->repo(), p->id(), p->version(), p->path());
    Check(made.ok() && *made == *p, "Make accepts parsed parts", input);
    CheckResolve(p->path(), input);
  } else {
    CheckError(p.status(), "pointer.syntax", input);
  }

  bver::Result<bver::AttributePath> path = bver::AttributePath::Parse(input);
  if (path.ok()) {
    Check(!path->empty(), "a parsed path is not empty", input);
    const std::string text = path->ToString();
    bver::Result<bver::AttributePath> again = bver::AttributePath::Parse(text);
    Check(again.ok(), "formatted path parses", input);
    Check(*again == *path, "formatted path parses to an equal value", input);
    Check(again->ToString() == text, "path formatting is a fixed point", input);
    CheckResolve(*path, input);
  } else {
    CheckError(path.status(), "path.syntax", input);
  }
  return 0;
}
