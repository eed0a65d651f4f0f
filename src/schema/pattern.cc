#include "src/schema/pattern.h"

#include <cstdio>
#include <exception>
#include <locale>

namespace bver::schema::internal {
namespace {

static_assert(sizeof(wchar_t) == 4, "the wide regex assumes UTF-32 wchar_t");

std::regex_constants::syntax_option_type Flags() {
  auto flags = std::regex_constants::ECMAScript;
#if defined(__GLIBCXX__)
  // libstdc++'s default executor backtracks recursively, one stack frame per
  // input character, and can crash on long strings; the breadth-first
  // executor is bounded by the size of the automaton instead.
  flags |= std::regex_constants::__polynomial;
#endif
  return flags;
}

bool IsAscii(std::string_view text) {
  for (unsigned char c : text) {
    if (c >= 0x80) return false;
  }
  return true;
}

// Decodes UTF-8 into code points; a malformed sequence becomes U+FFFD.
std::wstring ToUtf32(std::string_view text) {
  std::wstring out;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    int extra = 0;
    char32_t cp = 0;
    if (c < 0x80) {
      cp = c;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      out.push_back(static_cast<wchar_t>(0xFFFD));
      ++i;
      continue;
    }
    if (i + extra >= text.size()) {  // truncated sequence
      out.push_back(static_cast<wchar_t>(0xFFFD));
      break;
    }
    bool ok = true;
    for (int k = 1; k <= extra; ++k) {
      unsigned char cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (cc & 0x3F);
    }
    if (!ok) {
      out.push_back(static_cast<wchar_t>(0xFFFD));
      ++i;
      continue;
    }
    out.push_back(static_cast<wchar_t>(cp));
    i += extra + 1;
  }
  return out;
}

// std::regex knows no Unicode property escapes; the common ones become
// POSIX classes, which a wide regex imbued with a UTF-8 locale answers for
// every code point (and the narrow one for ASCII, where they agree).
//
// For the wide regex, \s and \S also become explicit classes: ECMA-262
// whitespace includes non-ASCII spaces (U+00A0, U+2028, U+3000, ...) that the
// "C" locale's classification does not know.
constexpr char kEcmaWhitespace[] =
    "\\t\\n\\v\\f\\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff";

Result<std::string> Translate(std::string_view source, bool wide, bool* translated) {
  std::string out;
  out.reserve(source.size());
  bool in_class = false;
  for (std::size_t i = 0; i < source.size(); ++i) {
    char c = source[i];
    if (c == '\\' && i + 1 < source.size()) {
      char e = source[i + 1];
      if ((e == 'p' || e == 'P') && i + 2 < source.size() && source[i + 2] == '{') {
        std::size_t close = source.find('}', i + 3);
        if (close == std::string_view::npos) {
          return InvalidArgumentError("unterminated Unicode property escape");
        }
        std::string_view name = source.substr(i + 3, close - i - 3);
        const char* cls = nullptr;
        if (name == "L" || name == "Letter") cls = "alpha";
        if (name == "Lu" || name == "Uppercase_Letter") cls = "upper";
        if (name == "Ll" || name == "Lowercase_Letter") cls = "lower";
        if (cls == nullptr) {
          return InvalidArgumentError("Unicode property \\" + std::string(1, e) + "{" +
                                      std::string(name) +
                                      "} is not supported (supported: L, Lu, Ll)");
        }
        if (in_class) {
          if (e == 'P') {
            return InvalidArgumentError("\\P{...} inside a character class is not supported");
          }
          out += std::string("[:") + cls + ":]";
        } else {
          out += std::string(e == 'P' ? "[^[:" : "[[:") + cls + ":]]";
        }
        *translated = true;
        i = close;
        continue;
      }
      if (e == 'c' && i + 2 < source.size() &&
          ((source[i + 2] >= 'a' && source[i + 2] <= 'z') ||
           (source[i + 2] >= 'A' && source[i + 2] <= 'Z'))) {
        // Control escape \cX, which std::regex lacks: the code X % 32.
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", source[i + 2] % 32);
        out += hex;
        i += 2;
        continue;
      }
      if (wide && e == 's') {
        out += in_class ? std::string(kEcmaWhitespace) : "[" + std::string(kEcmaWhitespace) + "]";
        ++i;
        continue;
      }
      if (wide && e == 'S' && !in_class) {
        out += "[^" + std::string(kEcmaWhitespace) + "]";
        ++i;
        continue;
      }
      out += c;
      out += e;
      ++i;
      continue;
    }
    if (c == '[' && !in_class) {
      in_class = true;
    } else if (c == ']' && in_class) {
      in_class = false;
    }
    out += c;
  }
  return out;
}

std::locale UnicodeLocale() {
  try {
    return std::locale("C.UTF-8");
  } catch (...) {
    return std::locale::classic();  // ASCII-only classes, but no failure
  }
}

}  // namespace

Result<std::unique_ptr<Pattern>> Pattern::Create(std::string_view source) {
  std::unique_ptr<Pattern> p(new Pattern());
  p->source_ = std::string(source);
  bool translated = false;
  BVER_ASSIGN_OR_RETURN(std::string narrow_source, Translate(source, false, &translated));
  BVER_ASSIGN_OR_RETURN(std::string wide_source, Translate(source, true, &translated));
  // A non-ASCII pattern must see code points even in ASCII input: in "é*"
  // the star applies to the whole character, not to its last UTF-8 byte.
  p->ascii_ = IsAscii(source);
  try {
    if (p->ascii_) p->narrow_ = std::regex(narrow_source, Flags());
    if (translated) p->wide_.imbue(UnicodeLocale());
    p->wide_.assign(ToUtf32(wide_source), Flags());
  } catch (const std::regex_error& e) {
    if (e.code() == std::regex_constants::error_backref ||
        std::string_view(e.what()).find("back-reference") != std::string_view::npos) {
      return InvalidArgumentError("back-references are not supported in patterns");
    }
    return InvalidArgumentError(std::string("invalid regular expression: ") + e.what());
  } catch (const std::exception& e) {
    return InvalidArgumentError(std::string("cannot compile regular expression: ") + e.what());
  }
  return p;
}

bool Pattern::Matches(std::string_view text) const {
  try {
    if (ascii_ && IsAscii(text)) return std::regex_search(text.begin(), text.end(), narrow_);
    std::wstring wide = ToUtf32(text);
    return std::regex_search(wide.begin(), wide.end(), wide_);
  } catch (...) {
    return false;
  }
}

}  // namespace bver::schema::internal
