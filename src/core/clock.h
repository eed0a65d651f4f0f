// Time as BVER writes it: microseconds since the Unix epoch (UTC) in
// storage, RFC 3339 with microseconds ("2023-11-14T22:13:20.000001Z") in
// envelopes, ledger entries and API answers. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace bver::core {

// Correct for times before 1970 too (the fraction is never negative).
std::string FormatTimestamp(std::int64_t micros);

}  // namespace bver::core
