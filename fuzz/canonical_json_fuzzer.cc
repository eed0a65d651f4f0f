// libFuzzer target: arbitrary bytes parsed as JSON, then canonicalized.
//
// Invariants: no crash; on success the output parses to an equal value and
// is a fixed point of CanonicalJson; a failure is InvalidArgument.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string_view>

#include "src/core/canonical_json.h"

namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "invariant failed: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  nlohmann::json value = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return 0;

  bver::Result<std::string> canonical = bver::core::CanonicalJson(value);
  if (!canonical.ok()) {
    Check(canonical.status().code() == bver::StatusCode::kInvalidArgument,
          "error is InvalidArgument");
    return 0;
  }
  nlohmann::json back = nlohmann::json::parse(*canonical, nullptr, /*allow_exceptions=*/false);
  Check(!back.is_discarded(), "canonical output is JSON");
  Check(back == value, "canonical output parses to an equal value");
  bver::Result<std::string> twice = bver::core::CanonicalJson(back);
  Check(twice.ok() && *twice == *canonical, "canonical output is a fixed point");
  return 0;
}
