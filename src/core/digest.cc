#include "src/core/digest.h"

#include <openssl/evp.h>

#include <cstdio>
#include <cstdlib>

#include "src/core/canonical_json.h"

namespace bver::core {
namespace {

// See digest.h: a process without a working SHA-256 cannot keep its
// promises (cache keys, artifact addresses, ledger hashes), so it stops.
[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "bver: fatal: OpenSSL SHA-256 unavailable: %s failed\n", what);
  std::abort();
}

void Init(EVP_MD_CTX* ctx) {
  if (EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr) != 1) Die("EVP_DigestInit_ex");
}

std::string Hex(const unsigned char* bytes, unsigned int n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(static_cast<std::size_t>(n) * 2, '0');
  for (unsigned int i = 0; i < n; ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 0x0F];
  }
  return out;
}

}  // namespace

void Sha256::CtxDeleter::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) Die("EVP_MD_CTX_new");
  Init(ctx_.get());
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(std::string_view data) {
  // A moved-from object is given a fresh context rather than crash.
  if (!ctx_) *this = Sha256();
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) Die("EVP_DigestUpdate");
}

std::string Sha256::FinishHex() {
  if (!ctx_) *this = Sha256();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), md, &n) != 1) Die("EVP_DigestFinal_ex");
  Init(ctx_.get());
  return Hex(md, n);
}

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr) != 1) {
    Die("EVP_Digest");
  }
  return Hex(md, n);
}

Result<std::string> JsonDigest(const nlohmann::json& value) {
  BVER_ASSIGN_OR_RETURN(std::string canonical, CanonicalJson(value));
  return "sha256:" + Sha256Hex(canonical);
}

}  // namespace bver::core
