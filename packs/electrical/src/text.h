// Small text helpers shared by the pack's file readers (matpower.cc,
// psse.cc): how a token is quoted in an error message, and whole numbers.
#pragma once

#include <climits>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

namespace grid::text {

// A token quoted for a message: at most 40 bytes, control bytes as \xNN.
inline std::string Quote(std::string_view token) {
  constexpr std::size_t kMax = 40;
  std::string out = "'";
  for (std::size_t i = 0; i < token.size() && i < kMax; ++i) {
    unsigned char c = static_cast<unsigned char>(token[i]);
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (token.size() > kMax) out += "...";
  return out + "'";
}

// `v` as an int when it is a whole number in range.
inline bool AsInt(double v, int* out) {
  if (!(v >= INT_MIN && v <= INT_MAX) || v != std::trunc(v)) return false;
  *out = static_cast<int>(v);
  return true;
}

}  // namespace grid::text
