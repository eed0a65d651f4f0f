// Parsing of pointers and attribute paths (the grammar is in bver/pointer.h),
// and Pointer::Make, which checks parts built in code against the same rules.
//
// The parser is a hand-written scanner over bytes. Every error names the
// 1-based column (counted in Unicode characters, so that it matches what an
// editor shows), what the grammar expected there and what it found instead.
// Nothing before the error position can be invalid UTF-8 (outside quoted keys
// only ASCII is accepted, inside them UTF-8 is checked as it is read), so the
// column is simply one plus the number of characters before that position.
#include <charconv>
#include <cstdio>
#include <limits>

#include "bver/pointer.h"

namespace bver {
namespace {

constexpr std::string_view kScheme = "bver://";
constexpr std::size_t kMaxNameLength = 63;
constexpr std::size_t kMaxIdLength = 128;
// Longer snippets of the input are cut in error messages.
constexpr std::size_t kMaxSnippetChars = 24;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLowerAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsNameChar(char c) { return IsLowerAlpha(c) || IsDigit(c) || c == '_' || c == '-'; }
bool IsIdStart(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsIdChar(char c) { return IsIdStart(c) || c == '.' || c == '_' || c == '-'; }
bool IsIdentStart(char c) { return IsAlpha(c) || c == '_'; }
bool IsIdentChar(char c) { return IsAlpha(c) || IsDigit(c) || c == '_'; }
bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string Hex2(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", c);
  return buf;
}

std::string CodePointName(std::uint32_t cp) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(cp));
  return buf;
}

// Length of the well-formed UTF-8 sequence at s[pos] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0 when it is not one.
// `cp` receives the code point.
std::size_t Utf8Sequence(std::string_view s, std::size_t pos, std::uint32_t* cp) {
  const auto byte = [&](std::size_t i) -> unsigned char {
    return pos + i < s.size() ? static_cast<unsigned char>(s[pos + i]) : 0;
  };
  unsigned char b0 = byte(0);
  if (b0 < 0x80) {
    *cp = b0;
    return pos < s.size() ? 1 : 0;
  }
  std::size_t len;
  unsigned char lo = 0x80;
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    *cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    *cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    *cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  for (std::size_t i = 1; i < len; ++i) {
    unsigned char b = byte(i);
    if (pos + i >= s.size() || b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) return 0;
    *cp = (*cp << 6) | (b & 0x3F);
  }
  return len;
}

void AppendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Quotes raw input for a message: in double quotes, or in single quotes when
// it holds a double quote; control characters and bytes that are not UTF-8
// are shown escaped so that a message is always printable, valid UTF-8.
// Long text is cut after kMaxSnippetChars characters.
std::string Quote(std::string_view raw) {
  const char q = raw.find('"') != std::string_view::npos ? '\'' : '"';
  std::string out(1, q);
  std::size_t chars = 0;
  for (std::size_t i = 0; i < raw.size();) {
    if (chars++ == kMaxSnippetChars) {
      out += "...";
      break;
    }
    std::uint32_t cp = 0;
    std::size_t n = Utf8Sequence(raw, i, &cp);
    if (n == 0) {
      out += "\\x";
      out += Hex2(static_cast<unsigned char>(raw[i])).substr(2);
      ++i;
      continue;
    }
    if (cp < 0x20 || cp == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
      out += buf;
    } else {
      out.append(raw.substr(i, n));
    }
    i += n;
  }
  out += q;
  return out;
}

enum class Grammar { kPointer, kPath };

class Parser {
 public:
  Parser(std::string_view text, Grammar grammar) : text_(text), grammar_(grammar) {}

  Result<Pointer> ParsePointer() {
    // Scheme.
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
      if (i >= text_.size() || text_[i] != kScheme[i]) {
        return Error(i, "expected the scheme \"bver://\"", FoundChar(i));
      }
    }
    pos_ = kScheme.size();

    std::string ns;
    BVER_RETURN_IF_ERROR(ParseName("namespace", &ns));
    std::string repo;
    BVER_RETURN_IF_ERROR(ParseName("repo", &repo));

    // Id.
    std::size_t start = pos_;
    if (!IsIdStart(Peek())) {
      return Error(pos_, "expected a reference id ([A-Za-z0-9][A-Za-z0-9._-]{0,127})",
                   FoundChar(pos_));
    }
    while (pos_ < text_.size() && IsIdChar(text_[pos_]) && pos_ - start < kMaxIdLength) ++pos_;
    if (pos_ < text_.size() && IsIdChar(text_[pos_])) {
      return Error(pos_, "expected \"~\", \"@\" or end of input (an id is at most 128 characters)",
                   FoundChar(pos_));
    }
    std::string id(text_.substr(start, pos_ - start));

    std::optional<std::uint64_t> version;
    if (Peek() == '~') {
      ++pos_;
      std::uint64_t v = 0;
      BVER_RETURN_IF_ERROR(ParseNumber(/*is_version=*/true, &v));
      version = v;
    }

    std::vector<PathSegment> segments;
    if (Peek() == '@') {
      ++pos_;
      BVER_RETURN_IF_ERROR(ParsePath(&segments));
    } else if (pos_ < text_.size()) {
      const char* expected = version ? "expected \"@\" or end of input after the version"
                                     : "expected \"~\", \"@\" or end of input, or an id character "
                                       "[A-Za-z0-9._-]";
      return Error(pos_, expected, FoundChar(pos_));
    }
    return Pointer(std::move(ns), std::move(repo), std::move(id), version,
                   AttributePath(std::move(segments)));
  }

  Result<AttributePath> ParseWholePath() {
    std::vector<PathSegment> segments;
    BVER_RETURN_IF_ERROR(ParsePath(&segments));
    return AttributePath(std::move(segments));
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool AtEnd() const { return pos_ >= text_.size(); }

  std::size_t Column(std::size_t pos) const {
    std::size_t col = 1;
    for (std::size_t i = 0; i < pos && i < text_.size(); ++i) {
      if (!IsContinuation(static_cast<unsigned char>(text_[i]))) ++col;
    }
    return col;
  }

  // Describes the character at `pos` for a message.
  std::string FoundChar(std::size_t pos) const {
    if (pos >= text_.size()) return "end of input";
    unsigned char c = static_cast<unsigned char>(text_[pos]);
    std::uint32_t cp = 0;
    std::size_t n = Utf8Sequence(text_, pos, &cp);
    if (n == 0) return "byte " + Hex2(c) + " (not UTF-8)";
    if (cp < 0x20 || cp == 0x7F) return "control character " + CodePointName(cp);
    return Quote(text_.substr(pos, n));
  }

  // Describes up to `max` bytes of input from `pos` (cut at the end).
  std::string FoundText(std::size_t pos, std::size_t max) const {
    if (pos >= text_.size()) return "end of input";
    return Quote(text_.substr(pos, max));
  }

  Status Error(std::size_t pos, std::string_view expected, std::string_view found) const {
    const bool pointer = grammar_ == Grammar::kPointer;
    std::string column = "column " + std::to_string(Column(pos));
    std::string detail = std::string(expected) + ", found " + std::string(found);
    std::string message =
        std::string(pointer ? "malformed pointer at " : "malformed attribute path at ") + column +
        ": " + detail;
    return InvalidArgumentError(
        std::move(message),
        {Violation{std::move(column), pointer ? "pointer.syntax" : "path.syntax", detail}});
  }

  // namespace or repo, then the "/" that ends it.
  Status ParseName(std::string_view what, std::string* out) {
    std::size_t start = pos_;
    if (!IsLowerAlpha(Peek())) {
      return Error(pos_, "expected a " + std::string(what) + " name ([a-z][a-z0-9_-]{0,62})",
                   FoundChar(pos_));
    }
    while (pos_ < text_.size() && IsNameChar(text_[pos_]) && pos_ - start < kMaxNameLength) ++pos_;
    if (Peek() != '/') {
      if (pos_ < text_.size() && IsNameChar(text_[pos_])) {
        return Error(pos_,
                     "expected \"/\" (a " + std::string(what) + " name is at most 63 characters)",
                     FoundChar(pos_));
      }
      return Error(pos_, "expected \"/\" or a " + std::string(what) + " character [a-z0-9_-]",
                   FoundChar(pos_));
    }
    *out = std::string(text_.substr(start, pos_ - start));
    ++pos_;
    return Status::Ok();
  }

  // A version ([1-9][0-9]*) or an index ("0" / [1-9][0-9]*) at pos_.
  Status ParseNumber(bool is_version, std::uint64_t* out) {
    const std::string expected =
        is_version ? "expected a version ([1-9][0-9]*)" : "expected an index (0 or [1-9][0-9]*)";
    std::size_t start = pos_;
    if (!IsDigit(Peek())) {
      std::string what = expected;
      if (!is_version && Peek() == '"') {
        what += "; a quoted key follows a dot, as in a.[\"key\"]";
      }
      return Error(pos_, what, FoundChar(pos_));
    }
    while (pos_ < text_.size() && IsDigit(text_[pos_])) ++pos_;
    std::string_view digits = text_.substr(start, pos_ - start);
    if (digits[0] == '0' && (is_version || digits.size() > 1)) {
      return Error(start,
                   is_version ? expected + "; versions start at 1 and have no leading zeros"
                              : expected + " without leading zeros",
                   Quote(digits));
    }
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec != std::errc() || end != digits.data() + digits.size()) {
      return Error(start,
                   std::string(is_version ? "expected a version" : "expected an index") +
                       " of at most " + std::to_string(std::numeric_limits<std::uint64_t>::max()),
                   Quote(digits));
    }
    *out = value;
    return Status::Ok();
  }

  // path = segment *( "." segment / "[" index "]" ), running to the end.
  Status ParsePath(std::vector<PathSegment>* out) {
    BVER_RETURN_IF_ERROR(ParseSegment(/*first=*/true, out));
    while (!AtEnd()) {
      char c = text_[pos_];
      if (c == '.') {
        ++pos_;
        BVER_RETURN_IF_ERROR(ParseSegment(/*first=*/false, out));
      } else if (c == '[') {
        ++pos_;
        std::uint64_t index = 0;
        BVER_RETURN_IF_ERROR(ParseNumber(/*is_version=*/false, &index));
        if (Peek() != ']') return Error(pos_, "expected \"]\" closing the index", FoundChar(pos_));
        ++pos_;
        out->push_back(PathSegment::Index(index));
      } else {
        return Error(pos_, "expected \".\", \"[\" or end of input", FoundChar(pos_));
      }
    }
    return Status::Ok();
  }

  // segment = [A-Za-z_][A-Za-z0-9_]* / "[" json-string "]"
  Status ParseSegment(bool first, std::vector<PathSegment>* out) {
    char c = Peek();
    if (!AtEnd() && IsIdentStart(c)) {
      std::size_t start = pos_;
      while (pos_ < text_.size() && IsIdentChar(text_[pos_])) ++pos_;
      out->push_back(PathSegment::Key(std::string(text_.substr(start, pos_ - start))));
      return Status::Ok();
    }
    if (c == '[') {
      ++pos_;
      if (Peek() != '"') {
        std::string expected = "expected a quoted key (a JSON string)";
        if (first && IsDigit(Peek())) expected += "; a path starts with a key, not an index";
        if (!first && IsDigit(Peek())) expected += "; an index follows without a dot, as in a[0]";
        return Error(pos_, expected, FoundChar(pos_));
      }
      std::string key;
      BVER_RETURN_IF_ERROR(ParseJsonString(&key));
      if (Peek() != ']') {
        return Error(pos_, "expected \"]\" closing the quoted key", FoundChar(pos_));
      }
      ++pos_;
      out->push_back(PathSegment::Key(std::move(key)));
      return Status::Ok();
    }
    std::string expected = first && grammar_ == Grammar::kPointer && AtEnd()
                               ? "expected an attribute path after \"@\" (an identifier "
                                 "[A-Za-z_][A-Za-z0-9_]* or a quoted key [\"...\"])"
                               : "expected an identifier ([A-Za-z_][A-Za-z0-9_]*) or a quoted "
                                 "key ([\"...\"])";
    return Error(pos_, expected, FoundChar(pos_));
  }

  // Reads four hex digits after "\u" at pos_ (which points at the backslash).
  Status ReadHex4(std::size_t backslash, std::uint32_t* out) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      std::size_t p = backslash + 2 + i;
      int h = p < text_.size() ? HexValue(text_[p]) : -1;
      if (h < 0) {
        return Error(backslash, "expected four hex digits after \\u",
                     FoundText(backslash, std::min<std::size_t>(6, p + 1 - backslash)));
      }
      v = (v << 4) | static_cast<std::uint32_t>(h);
    }
    *out = v;
    return Status::Ok();
  }

  // A full JSON string (RFC 8259) at pos_, which points at the opening quote.
  Status ParseJsonString(std::string* out) {
    const std::size_t open = pos_;
    ++pos_;
    while (true) {
      if (AtEnd()) {
        return Error(pos_,
                     "expected a closing '\"' for the string opened at column " +
                         std::to_string(Column(open)),
                     "end of input");
      }
      unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return Status::Ok();
      }
      if (c < 0x20) {
        return Error(pos_, "expected a string character (control characters must be escaped)",
                     FoundChar(pos_));
      }
      if (c == '\\') {
        BVER_RETURN_IF_ERROR(ParseEscape(out));
        continue;
      }
      if (c < 0x80) {
        *out += static_cast<char>(c);
        ++pos_;
        continue;
      }
      std::uint32_t cp = 0;
      std::size_t n = Utf8Sequence(text_, pos_, &cp);
      if (n == 0) return Error(pos_, "expected valid UTF-8", InvalidUtf8(pos_));
      out->append(text_.substr(pos_, n));
      pos_ += n;
    }
  }

  // Names the bytes of the ill-formed UTF-8 sequence that starts at `pos`.
  std::string InvalidUtf8(std::size_t pos) const {
    std::string found = "byte " + Hex2(static_cast<unsigned char>(text_[pos]));
    unsigned char b0 = static_cast<unsigned char>(text_[pos]);
    std::size_t want = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 1;
    std::string seq;
    for (std::size_t i = 0; i < want && pos + i < text_.size(); ++i) {
      if (i > 0 && !IsContinuation(static_cast<unsigned char>(text_[pos + i]))) break;
      if (i > 0) seq += ' ';
      seq += Hex2(static_cast<unsigned char>(text_[pos + i]));
    }
    if (seq.size() > 4) return "bytes " + seq + " (not UTF-8)";
    return found + " (not UTF-8)";
  }

  Status ParseEscape(std::string* out) {
    const std::size_t backslash = pos_;
    if (backslash + 1 >= text_.size()) {
      return Error(backslash, "expected an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)",
                   "\"\\\" at the end of input");
    }
    char e = text_[backslash + 1];
    char simple = 0;
    switch (e) {
      case '"':
        simple = '"';
        break;
      case '\\':
        simple = '\\';
        break;
      case '/':
        simple = '/';
        break;
      case 'b':
        simple = '\b';
        break;
      case 'f':
        simple = '\f';
        break;
      case 'n':
        simple = '\n';
        break;
      case 'r':
        simple = '\r';
        break;
      case 't':
        simple = '\t';
        break;
      case 'u':
        break;
      default: {
        std::uint32_t cp = 0;
        std::size_t n = Utf8Sequence(text_, backslash + 1, &cp);
        return Error(backslash, "expected an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX)",
                     FoundText(backslash, 1 + (n == 0 ? 1 : n)));
      }
    }
    if (simple != 0) {
      *out += simple;
      pos_ = backslash + 2;
      return Status::Ok();
    }
    std::uint32_t unit = 0;
    BVER_RETURN_IF_ERROR(ReadHex4(backslash, &unit));
    pos_ = backslash + 6;
    if (unit >= 0xDC00 && unit <= 0xDFFF) {
      return Error(backslash, "expected a character escape, not a lone low surrogate",
                   FoundText(backslash, 6));
    }
    if (unit >= 0xD800 && unit <= 0xDBFF) {
      const std::size_t second = pos_;
      std::uint32_t low = 0;
      bool have_low = second + 1 < text_.size() && text_[second] == '\\' &&
                      text_[second + 1] == 'u' && ReadHex4(second, &low).ok() && low >= 0xDC00 &&
                      low <= 0xDFFF;
      if (!have_low) {
        return Error(second,
                     "expected a low surrogate escape (\\uDC00-\\uDFFF) after the high surrogate " +
                         std::string(text_.substr(backslash, 6)),
                     FoundText(second, 6));
      }
      unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
      pos_ = second + 6;
    }
    AppendUtf8(*out, unit);
    return Status::Ok();
  }

  std::string_view text_;
  Grammar grammar_;
  std::size_t pos_ = 0;
};

bool IsValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    std::uint32_t cp = 0;
    std::size_t n = Utf8Sequence(s, i, &cp);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

Status PartError(std::string_view part, std::string message) {
  std::string detail = std::move(message);
  return InvalidArgumentError(std::string(detail),
                              {Violation{std::string(part), "pointer.syntax", detail}});
}

// Explains why `name` is not a namespace/repo name, or returns OK.
Status CheckName(std::string_view part, std::string_view name) {
  std::string head = "invalid " + std::string(part) + " " + Quote(name) + ": ";
  if (name.empty()) return PartError(part, head + "must not be empty");
  if (name.size() > kMaxNameLength) {
    return PartError(part,
                     head + "longer than 63 characters (" + std::to_string(name.size()) + ")");
  }
  if (!IsLowerAlpha(name[0])) {
    return PartError(part, head + "must start with a lower-case letter (a-z)");
  }
  for (std::size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i])) {
      return PartError(part, head + "character " + std::to_string(i + 1) + " " +
                                 Quote(name.substr(i, 1)) +
                                 " is not allowed (use a-z, 0-9, \"_\" and \"-\")");
    }
  }
  return Status::Ok();
}

Status CheckId(std::string_view id) {
  std::string head = "invalid id " + Quote(id) + ": ";
  if (id.empty()) return PartError("id", head + "must not be empty");
  if (id.size() > kMaxIdLength) {
    return PartError("id", head + "longer than 128 characters (" + std::to_string(id.size()) + ")");
  }
  if (!IsIdStart(id[0])) {
    return PartError("id", head + "must start with a letter or a digit (A-Z, a-z, 0-9)");
  }
  for (std::size_t i = 0; i < id.size(); ++i) {
    if (!IsIdChar(id[i])) {
      return PartError("id", head + "character " + std::to_string(i + 1) + " " +
                                 Quote(id.substr(i, 1)) +
                                 " is not allowed (use A-Z, a-z, 0-9, \".\", \"_\" and \"-\")");
    }
  }
  return Status::Ok();
}

Status CheckPath(const AttributePath& path) {
  if (path.empty()) return Status::Ok();
  if (path.segments()[0].is_index()) {
    return PartError("path", "invalid path " + Quote(path.ToString()) +
                                 ": a path must start with a key, not an index");
  }
  for (std::size_t i = 0; i < path.size(); ++i) {
    const PathSegment& s = path.segments()[i];
    if (s.is_key() && !IsValidUtf8(s.key())) {
      return PartError("path", "invalid path: key " + std::to_string(i + 1) + " " + Quote(s.key()) +
                                   " is not valid UTF-8");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<AttributePath> AttributePath::Parse(std::string_view text) {
  return Parser(text, Grammar::kPath).ParseWholePath();
}

Result<Pointer> Pointer::Parse(std::string_view text) {
  return Parser(text, Grammar::kPointer).ParsePointer();
}

Result<Pointer> Pointer::Make(std::string ns, std::string repo, std::string id,
                              std::optional<std::uint64_t> version, AttributePath path) {
  BVER_RETURN_IF_ERROR(CheckName("namespace", ns));
  BVER_RETURN_IF_ERROR(CheckName("repo", repo));
  BVER_RETURN_IF_ERROR(CheckId(id));
  if (version && *version == 0) {
    return PartError("version", "invalid version 0: versions start at 1");
  }
  BVER_RETURN_IF_ERROR(CheckPath(path));
  return Pointer(std::move(ns), std::move(repo), std::move(id), version, std::move(path));
}

}  // namespace bver
