#include "src/schema/json_util.h"

#include <cfloat>
#include <cmath>
#include <compare>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

namespace bver::schema::internal {
namespace {

// Hashing stops descending here; deeper values still hash consistently with
// JsonEqual because equal values agree on every level that is hashed.
constexpr int kMaxHashDepth = 32;

std::uint64_t Mix(std::uint64_t h, std::uint64_t v) {
  // boost::hash_combine's mixing, widened to 64 bits.
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 12) + (h >> 4);
  return h;
}

std::uint64_t HashBytes(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::uint64_t HashNumber(const Json& v) {
  if (v.is_number_integer() && !v.is_number_unsigned()) {
    return Mix(1, static_cast<std::uint64_t>(v.get<std::int64_t>()));
  }
  if (v.is_number_unsigned()) {
    std::uint64_t u = v.get<std::uint64_t>();
    if (u <= static_cast<std::uint64_t>(INT64_MAX)) return Mix(1, u);
    return Mix(2, u);
  }
  double d = v.get<double>();
  if (std::isfinite(d) && d == std::trunc(d)) {
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
      return Mix(1, static_cast<std::uint64_t>(static_cast<std::int64_t>(d)));
    }
    if (d >= 0 && d < 18446744073709551616.0) return Mix(2, static_cast<std::uint64_t>(d));
  }
  std::uint64_t bits = 0;
  static_assert(sizeof bits == sizeof d);
  std::memcpy(&bits, &d, sizeof d);
  return Mix(3, bits);
}

std::uint64_t HashAt(const Json& v, int depth) {
  switch (v.type()) {
    case Json::value_t::null:
      return 0x11;
    case Json::value_t::boolean:
      return v.get<bool>() ? 0x22 : 0x33;
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return HashNumber(v);
    case Json::value_t::string:
      return Mix(4, HashBytes(v.get_ref<const std::string&>()));
    case Json::value_t::array: {
      std::uint64_t h = Mix(5, v.size());
      if (depth >= kMaxHashDepth) return h;
      for (const Json& e : v) h = Mix(h, HashAt(e, depth + 1));
      return h;
    }
    case Json::value_t::object: {
      std::uint64_t h = Mix(6, v.size());
      if (depth >= kMaxHashDepth) return h;
      for (auto it = v.begin(); it != v.end(); ++it) {
        h = Mix(h, HashBytes(it.key()));
        h = Mix(h, HashAt(it.value(), depth + 1));
      }
      return h;
    }
    default:
      return 0x77;
  }
}

std::partial_ordering CompareIntegers(const Json& a, const Number& b) {
  // Both integral: compare without going through floating point.
  bool a_neg = !a.is_number_unsigned() && a.get<std::int64_t>() < 0;
  bool b_neg = b.kind == Number::Kind::kSigned && b.i < 0;
  if (a_neg != b_neg) return a_neg ? std::partial_ordering::less : std::partial_ordering::greater;
  if (a_neg) return a.get<std::int64_t>() <=> b.i;
  std::uint64_t au = a.is_number_unsigned() ? a.get<std::uint64_t>()
                                            : static_cast<std::uint64_t>(a.get<std::int64_t>());
  std::uint64_t bu = b.kind == Number::Kind::kUnsigned ? b.u : static_cast<std::uint64_t>(b.i);
  return au <=> bu;
}

long double AsLongDouble(const Json& v) {
  if (v.is_number_unsigned()) return static_cast<long double>(v.get<std::uint64_t>());
  if (v.is_number_integer()) return static_cast<long double>(v.get<std::int64_t>());
  return static_cast<long double>(v.get<double>());
}

bool NumbersEqual(const Json& a, const Json& b) {
  if (a.is_number_integer() && b.is_number_integer()) {
    return CompareIntegers(a, Number::From(b)) == 0;
  }
  return AsLongDouble(a) == AsLongDouble(b);
}

bool ShallowEqual(const Json& a, const Json& b) {
  if (a.is_number() && b.is_number()) return NumbersEqual(a, b);
  if (a.type() != b.type()) return false;
  switch (a.type()) {
    case Json::value_t::null:
      return true;
    case Json::value_t::boolean:
      return a.get<bool>() == b.get<bool>();
    case Json::value_t::string:
      return a.get_ref<const std::string&>() == b.get_ref<const std::string&>();
    case Json::value_t::array:
    case Json::value_t::object:
      return a.size() == b.size();
    default:
      return a == b;
  }
}

}  // namespace

Number Number::From(const Json& value) {
  Number n;
  if (value.is_number_unsigned()) {
    n.kind = Kind::kUnsigned;
    n.u = value.get<std::uint64_t>();
  } else if (value.is_number_integer()) {
    n.kind = Kind::kSigned;
    n.i = value.get<std::int64_t>();
  } else {
    n.kind = Kind::kFloat;
    n.d = value.get<double>();
  }
  return n;
}

bool Number::IsIntegral() const { return kind != Kind::kFloat; }

long double Number::AsLongDouble() const {
  switch (kind) {
    case Kind::kSigned:
      return static_cast<long double>(i);
    case Kind::kUnsigned:
      return static_cast<long double>(u);
    case Kind::kFloat:
      break;
  }
  return static_cast<long double>(d);
}

std::string Number::ToString() const {
  switch (kind) {
    case Kind::kSigned:
      return std::to_string(i);
    case Kind::kUnsigned:
      return std::to_string(u);
    case Kind::kFloat:
      break;
  }
  return Json(d).dump();
}

int CompareNumber(const Json& a, const Number& b) {
  std::partial_ordering ord = std::partial_ordering::unordered;
  if (a.is_number_integer() && b.IsIntegral()) {
    ord = CompareIntegers(a, b);
  } else {
    ord = AsLongDouble(a) <=> b.AsLongDouble();
  }
  if (ord == std::partial_ordering::unordered) return 2;
  return ord < 0 ? -1 : (ord > 0 ? 1 : 0);
}

bool IsMultipleOf(const Json& value, const Number& divisor) {
  if (value.is_number_integer() && divisor.IsIntegral()) {
    std::uint64_t d = divisor.kind == Number::Kind::kUnsigned
                          ? divisor.u
                          : static_cast<std::uint64_t>(divisor.i);  // divisor > 0
    if (d == 0) return false;
    std::uint64_t magnitude;
    if (value.is_number_unsigned()) {
      magnitude = value.get<std::uint64_t>();
    } else {
      std::int64_t v = value.get<std::int64_t>();
      magnitude = v < 0 ? 0 - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    }
    return magnitude % d == 0;
  }
  // In double, as the quotient's overflow must count: 1e308 is no multiple
  // of 0.123456789 even though long double could hold the quotient.
  double x = static_cast<double>(AsLongDouble(value));
  double d = static_cast<double>(divisor.AsLongDouble());
  if (!std::isfinite(x) || !std::isfinite(d) || d <= 0) return false;
  double q = x / d;
  if (!std::isfinite(q)) return false;
  // Decimal fractions such as 0.0001 have no exact binary form, so 0.0075 /
  // 0.0001 lands a few ulps away from 75: accept a tiny relative error.
  double r = std::nearbyint(q);
  double tolerance = 8 * DBL_EPSILON * std::fmax(1.0, std::fabs(q));
  return std::fabs(q - r) <= tolerance;
}

bool JsonEqual(const Json& a, const Json& b) {
  if (!a.is_structured() || !b.is_structured()) return ShallowEqual(a, b);
  // Iterative so that deeply nested instances cannot exhaust the stack.
  std::vector<std::pair<const Json*, const Json*>> stack;
  stack.emplace_back(&a, &b);
  while (!stack.empty()) {
    auto [x, y] = stack.back();
    stack.pop_back();
    if (!ShallowEqual(*x, *y)) return false;
    if (x->is_array()) {
      for (std::size_t i = 0; i < x->size(); ++i) stack.emplace_back(&(*x)[i], &(*y)[i]);
    } else if (x->is_object()) {
      // nlohmann::json objects are std::maps: keys iterate in sorted order.
      auto xi = x->begin();
      auto yi = y->begin();
      for (; xi != x->end(); ++xi, ++yi) {
        if (xi.key() != yi.key()) return false;
        stack.emplace_back(&xi.value(), &yi.value());
      }
    }
  }
  return true;
}

std::uint64_t JsonHash(const Json& value) { return HashAt(value, 0); }

bool IsIntegerValue(const Json& value) {
  if (value.is_number_integer()) return true;
  if (!value.is_number_float()) return false;
  double d = value.get<double>();
  return std::isfinite(d) && d == std::trunc(d);
}

std::string_view JsonTypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::object:
      return "object";
    case Json::value_t::array:
      return "array";
    case Json::value_t::string:
      return "string";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    default:
      return "binary";
  }
}

std::size_t CodePointCount(std::string_view utf8) {
  std::size_t n = 0;
  for (unsigned char c : utf8) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

std::string Abbreviate(const Json& value, std::size_t max_chars) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() <= max_chars) return text;
  std::size_t cut = max_chars;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  text += "...";
  return text;
}

std::string Quote(std::string_view text) {
  return Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace bver::schema::internal
