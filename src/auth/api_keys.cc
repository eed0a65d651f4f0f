#include "src/auth/api_keys.h"

#include <chrono>
#include <mutex>
#include <unordered_map>

#include "src/auth/crypto.h"

namespace bver::auth {
namespace {

constexpr std::string_view kPrefix = "bver_";
constexpr std::size_t kIdHexLen = 16;
constexpr std::size_t kSecretHexLen = 64;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kKeyLen = kPrefix.size() + kIdHexLen + 1 + kSecretHexLen;
constexpr std::size_t kMaxCached = 10000;
constexpr const char* kInvalidKey = "invalid or revoked API key";

std::int64_t SystemMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

struct ParsedKey {
  std::string_view id;
  std::string_view secret;
};

std::optional<ParsedKey> ParseKey(std::string_view text) {
  if (text.size() != kKeyLen || text.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
  std::string_view id = text.substr(kPrefix.size(), kIdHexLen);
  if (text[kPrefix.size() + kIdHexLen] != '_') return std::nullopt;
  std::string_view secret = text.substr(kPrefix.size() + kIdHexLen + 1);
  if (!IsLowerHex(id) || !IsLowerHex(secret)) return std::nullopt;
  return ParsedKey{id, secret};
}

std::string HashSecret(std::string_view salt, std::string_view secret) {
  std::string input(salt);
  input.append(secret);
  return "sha256:" + internal::Hex(salt) + ":" + internal::Hex(internal::Sha256Raw(input));
}

// True when `secret` hashes to the stored form. An unknown scheme or a
// malformed stored form never matches.
bool Matches(const std::string& stored, std::string_view secret) {
  constexpr std::string_view kScheme = "sha256:";
  if (stored.compare(0, kScheme.size(), kScheme) != 0) return false;
  std::size_t colon = stored.find(':', kScheme.size());
  if (colon == std::string::npos) return false;
  std::optional<std::string> salt = internal::Unhex(std::string_view(stored).substr(kScheme.size(), colon - kScheme.size()));
  if (!salt) return false;
  return internal::ConstantTimeEquals(HashSecret(*salt, secret), stored);
}

ApiKeyInfo InfoOf(const store::ApiKeyRow& row) {
  return ApiKeyInfo{row.id, row.name, SplitScopes(row.scopes), row.created_at_us, row.revoked_at_us};
}

}  // namespace

struct ApiKeys::Impl {
  Impl(store::KeyTable& k, Options o) : keys(k), options(std::move(o)) {}
  store::KeyTable& keys;
  Options options;
  struct Cached {
    store::ApiKeyRow row;
    std::int64_t fetched_us = 0;
  };
  std::mutex mu;
  std::unordered_map<std::string, Cached> cache;  // GUARDED_BY(mu)

  std::int64_t Now() const { return options.clock ? options.clock() : SystemMicros(); }

  Result<std::optional<store::ApiKeyRow>> Lookup(const std::string& id) {
    std::int64_t now = Now();
    if (options.cache_ttl_ms > 0) {
      std::lock_guard<std::mutex> l(mu);
      auto it = cache.find(id);
      if (it != cache.end() && now - it->second.fetched_us < options.cache_ttl_ms * 1000 &&
          now >= it->second.fetched_us) {
        return std::optional<store::ApiKeyRow>(it->second.row);
      }
    }
    BVER_ASSIGN_OR_RETURN(std::optional<store::ApiKeyRow> row, keys.GetApiKey(id));
    if (row && options.cache_ttl_ms > 0) {
      std::lock_guard<std::mutex> l(mu);
      if (cache.size() >= kMaxCached) cache.clear();
      cache[id] = Cached{*row, now};
    }
    return row;
  }

  void Forget(const std::string& id) {
    std::lock_guard<std::mutex> l(mu);
    cache.erase(id);
  }
};

ApiKeys::ApiKeys(store::KeyTable& keys) : ApiKeys(keys, Options{}) {}
ApiKeys::ApiKeys(store::KeyTable& keys, Options options)
    : impl_(std::make_unique<Impl>(keys, std::move(options))) {}
ApiKeys::~ApiKeys() = default;

bool ApiKeys::LooksLikeKey(std::string_view text) { return text.substr(0, kPrefix.size()) == kPrefix; }

std::string ApiKeys::HashSecretForTest(std::string_view salt, std::string_view secret) {
  return HashSecret(salt, secret);
}

Result<CreatedApiKey> ApiKeys::Create(const std::string& name, const std::vector<std::string>& scopes_in) {
  std::vector<std::string> scopes = SplitScopes(JoinScopes(scopes_in));
  if (scopes.empty()) return InvalidArgumentError("an API key needs at least one scope");
  std::vector<Violation> bad;
  for (const std::string& s : scopes) {
    if (!IsValidScope(s)) bad.push_back({s, "scope", "a scope is 1-128 characters of A-Z a-z 0-9 . _ : / -"});
  }
  if (!bad.empty()) return InvalidArgumentError("invalid scope", bad);
  if (name.size() > 200) return InvalidArgumentError("a key name has at most 200 characters");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return InvalidArgumentError("a key name may not hold control characters");
  }
  BVER_ASSIGN_OR_RETURN(std::string id_bytes, internal::RandomBytes(kIdHexLen / 2));
  BVER_ASSIGN_OR_RETURN(std::string secret_bytes, internal::RandomBytes(kSecretHexLen / 2));
  BVER_ASSIGN_OR_RETURN(std::string salt, internal::RandomBytes(kSaltBytes));
  std::string id = internal::Hex(id_bytes);
  std::string secret = internal::Hex(secret_bytes);
  store::ApiKeyRow row{id, name, JoinScopes(scopes), HashSecret(salt, secret), impl_->Now(), 0};
  BVER_RETURN_IF_ERROR(impl_->keys.AddApiKey(row));
  return CreatedApiKey{InfoOf(row), std::string(kPrefix) + id + "_" + secret};
}

Result<std::vector<ApiKeyInfo>> ApiKeys::List() {
  BVER_ASSIGN_OR_RETURN(std::vector<store::ApiKeyRow> rows, impl_->keys.ListApiKeys());
  std::vector<ApiKeyInfo> out;
  out.reserve(rows.size());
  for (const store::ApiKeyRow& r : rows) out.push_back(InfoOf(r));
  return out;
}

Status ApiKeys::Revoke(std::string_view id_or_key) {
  std::string id(id_or_key);
  if (std::optional<ParsedKey> k = ParseKey(id_or_key)) id = std::string(k->id);
  if (id.size() != kIdHexLen || !IsLowerHex(id)) {
    return InvalidArgumentError("expected a key id (16 lower-case hex digits, as `bver keys list` shows)");
  }
  BVER_ASSIGN_OR_RETURN(bool found, impl_->keys.RevokeApiKey(id, impl_->Now()));
  impl_->Forget(id);
  if (!found) return NotFoundError("no API key with id " + id);
  return Status::Ok();
}

Result<Principal> ApiKeys::Verify(std::string_view presented) {
  std::optional<ParsedKey> k = ParseKey(presented);
  if (!k) return UnauthenticatedError(kInvalidKey);
  std::string id(k->id);
  BVER_ASSIGN_OR_RETURN(std::optional<store::ApiKeyRow> row, impl_->Lookup(id));
  // Ids are public, so only the comparison of the secret's hash needs to
  // be constant-time.
  if (!row || row->revoked_at_us != 0 || !Matches(row->secret_hash, k->secret)) {
    return UnauthenticatedError(kInvalidKey);
  }
  return Principal{"key:" + id, SplitScopes(row->scopes), PrincipalKind::kApiKey};
}

}  // namespace bver::auth
