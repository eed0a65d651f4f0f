// UUIDv7 (RFC 9562 §5.7): the ids BVER generates for references, events and
// jobs. They sort by creation time, so stores and logs index them well.
//
// Layout: 48-bit Unix time in milliseconds, version 7, a 42-bit counter
// (the 12 bits of rand_a and the top 30 bits of rand_b, RFC 9562 §6.2
// method 1) seeded at random each millisecond, variant 10, then 32 random
// bits. Randomness comes from the kernel CSPRNG (getrandom).
//
// Thread-safe. Within one process every id is greater than the one before,
// even for many ids in one millisecond or when the wall clock steps back
// (the timestamp then stays at the last one used until the clock catches up).
#pragma once

#include <string>
#include <string_view>

namespace bver::core {

// A new UUIDv7 in lower-case 8-4-4-4-12 hex form.
std::string NewUuidV7();

// True for a UUID in lower-case 8-4-4-4-12 form with version 7 and the
// RFC 9562 variant (10). Upper case is not accepted: BVER ids are case
// sensitive and generated ids are lower case.
bool IsUuidV7(std::string_view text);

}  // namespace bver::core
