#include "src/core/canonical_json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>
#include <vector>

#include "bver/pointer.h"

namespace bver::core {
namespace {

using nlohmann::json;

// 2^53: the largest magnitude up to which every integer is a double.
constexpr std::uint64_t kMaxExactInteger = std::uint64_t{1} << 53;

// Decodes strict UTF-8 (RFC 3629) into UTF-16 code units. False when `s` is
// not well-formed (overlong forms, surrogates, values above U+10FFFF,
// truncated sequences); `bad_at` then receives the byte offset.
bool Utf8ToUtf16(std::string_view s, std::u16string* out, std::size_t* bad_at) {
  out->clear();
  out->reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const unsigned char b0 = static_cast<unsigned char>(s[i]);
    std::uint32_t cp;
    std::size_t len;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (b0 < 0x80) {
      cp = b0;
      len = 1;
    } else if (b0 >= 0xC2 && b0 <= 0xDF) {
      cp = b0 & 0x1F;
      len = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      cp = b0 & 0x0F;
      len = 3;
      if (b0 == 0xE0) lo = 0xA0;
      if (b0 == 0xED) hi = 0x9F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      cp = b0 & 0x07;
      len = 4;
      if (b0 == 0xF0) lo = 0x90;
      if (b0 == 0xF4) hi = 0x8F;
    } else {
      *bad_at = i;
      return false;
    }
    if (i + len > s.size()) {
      *bad_at = i;
      return false;
    }
    for (std::size_t k = 1; k < len; ++k) {
      const unsigned char b = static_cast<unsigned char>(s[i + k]);
      if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
        *bad_at = i;
        return false;
      }
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < 0x10000) {
      out->push_back(static_cast<char16_t>(cp));
    } else {
      cp -= 0x10000;
      out->push_back(static_cast<char16_t>(0xD800 + (cp >> 10)));
      out->push_back(static_cast<char16_t>(0xDC00 + (cp & 0x3FF)));
    }
    i += len;
  }
  return true;
}


// ECMAScript Number::toString (ECMA-262 §6.1.6.1.20) from the shortest
// round-trip digits, which std::to_chars computes.
std::string FormatFinite(double value) {
  if (value == 0) return "0";  // both +0 and -0
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  // Cannot fail: 64 bytes hold any double in scientific form.
  std::string_view sci(buf, ec == std::errc() ? static_cast<std::size_t>(end - buf) : 0);

  std::string out;
  if (!sci.empty() && sci[0] == '-') {
    out += '-';
    sci.remove_prefix(1);
  }
  // sci is "d[.ddd]e[+-]xx": collect the digits and the decimal exponent.
  const std::size_t e_pos = sci.find('e');
  std::string digits;
  for (char c : sci.substr(0, e_pos)) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  std::string_view exp_text = sci.substr(e_pos + 1);
  if (!exp_text.empty() && exp_text[0] == '+') exp_text.remove_prefix(1);
  std::from_chars(exp_text.data(), exp_text.data() + exp_text.size(), exponent);

  // value = 0.digits × 10^n, with k digits.
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) {
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {
    out.append(digits, 0, static_cast<std::size_t>(n));
    out += '.';
    out.append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += n - 1 >= 0 ? '+' : '-';
    out += std::to_string(std::abs(n - 1));
  }
  return out;
}

class Writer {
 public:
  Status Write(const json& v, int depth) {
    switch (v.type()) {
      case json::value_t::null:
        out_ += "null";
        return Status::Ok();
      case json::value_t::boolean:
        out_ += v.get<bool>() ? "true" : "false";
        return Status::Ok();
      case json::value_t::number_integer: {
        const std::int64_t i = v.get<std::int64_t>();
        const std::uint64_t magnitude =
            i < 0 ? ~static_cast<std::uint64_t>(i) + 1 : static_cast<std::uint64_t>(i);
        return WriteInteger(std::to_string(i), magnitude, static_cast<double>(i));
      }
      case json::value_t::number_unsigned: {
        const std::uint64_t u = v.get<std::uint64_t>();
        return WriteInteger(std::to_string(u), u, static_cast<double>(u));
      }
      case json::value_t::number_float: {
        const double d = v.get<double>();
        if (!std::isfinite(d)) {
          return Error(std::string(std::isnan(d) ? "NaN" : "an infinite number") +
                       " has no JSON form");
        }
        out_ += FormatFinite(d);
        return Status::Ok();
      }
      case json::value_t::string: {
        const std::string& s = v.get_ref<const std::string&>();
        std::u16string ignored;
        std::size_t bad_at = 0;
        if (!Utf8ToUtf16(s, &ignored, &bad_at)) {
          return Error("string is not valid UTF-8 (at byte " + std::to_string(bad_at) + ")");
        }
        AppendJsonString(out_, s);
        return Status::Ok();
      }
      case json::value_t::array: {
        if (depth >= kMaxJsonDepth) return TooDeep();
        out_ += '[';
        std::uint64_t index = 0;
        for (const json& item : v) {
          if (index > 0) out_ += ',';
          path_.push_back(PathSegment::Index(index++));
          BVER_RETURN_IF_ERROR(Write(item, depth + 1));
          path_.pop_back();
        }
        out_ += ']';
        return Status::Ok();
      }
      case json::value_t::object: {
        if (depth >= kMaxJsonDepth) return TooDeep();
        // RFC 8785 §3.2.3: sort by the UTF-16 code units of the raw names.
        // UTF-8 byte order would differ for names mixing U+E000-U+FFFF with
        // characters above U+FFFF.
        std::vector<std::pair<std::u16string, json::const_iterator>> members;
        members.reserve(v.size());
        for (auto it = v.cbegin(); it != v.cend(); ++it) {
          std::u16string key16;
          std::size_t bad_at = 0;
          if (!Utf8ToUtf16(it.key(), &key16, &bad_at)) {
            return Error("an object key is not valid UTF-8 (at byte " + std::to_string(bad_at) +
                         ")");
          }
          members.emplace_back(std::move(key16), it);
        }
        std::sort(members.begin(), members.end(),
                  [](const auto& a, const auto& b) { return a.first < b.first; });
        out_ += '{';
        bool first = true;
        for (const auto& [key16, it] : members) {
          if (!first) out_ += ',';
          first = false;
          AppendJsonString(out_, it.key());
          out_ += ':';
          path_.push_back(PathSegment::Key(it.key()));
          BVER_RETURN_IF_ERROR(Write(it.value(), depth + 1));
          path_.pop_back();
        }
        out_ += '}';
        return Status::Ok();
      }
      case json::value_t::binary:
        return Error("binary values have no JSON form");
      case json::value_t::discarded:
        return Error("a discarded value has no JSON form");
    }
    return Error("unknown JSON value type");
  }

  std::string Take() { return std::move(out_); }

 private:
  Status Error(const std::string& what) const {
    const std::string where = AttributePath(path_).ToString();
    const std::string message =
        "cannot canonicalize JSON" + (where.empty() ? std::string() : " at " + where) + ": " + what;
    return InvalidArgumentError(message, {Violation{where, "canonical_json", what}});
  }

  // An integer is written as it is when every reader gets the same number
  // from its text: always up to 2^53, and above that only when the text is
  // already what ECMAScript prints for the nearest double (1e18 written out,
  // or any large number that went through a double before). That keeps the
  // output canonical, and keeps CanonicalJson(parse(CanonicalJson(x))) equal
  // to CanonicalJson(x) although parsers hand such texts back as integers.
  Status WriteInteger(const std::string& text, std::uint64_t magnitude, double nearest) {
    if (magnitude > kMaxExactInteger) {
      std::string as_double = FormatFinite(nearest);
      if (as_double != text) {
        return Error("integer " + text +
                     " is beyond 2^53 in magnitude and is not a double, so I-JSON (RFC 7493) "
                     "cannot carry it exactly (readers would see " +
                     as_double + "); send it as a string");
      }
    }
    out_ += text;
    return Status::Ok();
  }

  Status TooDeep() const {
    return Error("nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  }

  std::string out_;
  std::vector<PathSegment> path_;
};

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  out += '"';
  for (char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

Result<std::string> CanonicalNumber(double value) {
  if (!std::isfinite(value)) {
    return InvalidArgumentError(std::string(std::isnan(value) ? "NaN" : "an infinite number") +
                                " has no JSON form");
  }
  return FormatFinite(value);
}

Result<std::string> CanonicalJson(const nlohmann::json& value) {
  // Nothing below throws for a well-formed json value; the guard keeps any
  // library surprise from crossing the module boundary.
  try {
    Writer writer;
    BVER_RETURN_IF_ERROR(writer.Write(value, 0));
    return writer.Take();
  } catch (const std::exception& e) {
    return InternalError(std::string("canonical JSON: ") + e.what());
  }
}

}  // namespace bver::core
