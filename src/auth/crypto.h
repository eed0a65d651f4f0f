// Small cryptographic helpers of the auth module, over OpenSSL. Internal to
// src/auth. Pure functions; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "bver/status.h"

namespace bver::auth::internal {

// `n` bytes from OpenSSL's CSPRNG. Internal when the generator fails (it
// then returns no bytes rather than weak ones).
Result<std::string> RandomBytes(std::size_t n);

// Lower-case hex of `bytes`.
std::string Hex(std::string_view bytes);
// The bytes of lower- or upper-case hex; nullopt for odd length or a non-hex digit.
std::optional<std::string> Unhex(std::string_view hex);

// RFC 4648 §5 base64url without padding, and its strict inverse: padding,
// whitespace, characters outside the alphabet and non-zero trailing bits are
// rejected (nullopt), so every token has exactly one encoding.
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

// HMAC-SHA-256 of `data` under `key` (32 raw bytes).
std::string HmacSha256(std::string_view key, std::string_view data);

// Raw SHA-256 of `data` (32 bytes).
std::string Sha256Raw(std::string_view data);

// Equality in time independent of where the inputs differ (only their
// lengths may leak).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace bver::auth::internal
