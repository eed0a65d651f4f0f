#include "src/auth/jwt.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "src/auth/crypto.h"

namespace bver::auth {
namespace {

using nlohmann::json;

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};

Status Reject(std::string why) { return UnauthenticatedError("invalid bearer token: " + why); }

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A NumericDate (RFC 7519 §2): a JSON number of seconds; fractions allowed.
std::optional<double> NumericDate(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

bool ValidSubject(const std::string& s) {
  if (s.empty() || s.size() > 256) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

struct JwtVerifier::Impl {
  JwtConfig config;  // the secret stays here and nowhere else
  std::unique_ptr<EVP_PKEY, PkeyDeleter> rsa;
  std::size_t rsa_bytes = 0;

  bool VerifyRs256(std::string_view signing_input, std::string_view sig) const {
    if (sig.size() != rsa_bytes) return false;
    std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
    if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, rsa.get()) != 1) return false;
    return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                            reinterpret_cast<const unsigned char*>(signing_input.data()),
                            signing_input.size()) == 1;
  }
};

JwtVerifier::JwtVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JwtVerifier::~JwtVerifier() = default;

Result<std::unique_ptr<JwtVerifier>> JwtVerifier::Create(const JwtConfig& config) {
  if (config.hs256_secret.empty() && config.rs256_public_key_pem.empty()) {
    return InvalidArgumentError("JWT: give an HS256 secret or an RS256 public key");
  }
  if (!config.hs256_secret.empty() && config.hs256_secret.size() < kMinHs256SecretBytes) {
    return InvalidArgumentError("JWT: the HS256 secret must be at least " + std::to_string(kMinHs256SecretBytes) +
                                " bytes (RFC 7518 §3.2); it has " + std::to_string(config.hs256_secret.size()));
  }
  if (config.leeway_seconds < 0 || config.leeway_seconds > 300) {
    return InvalidArgumentError("JWT: leeway_seconds must be from 0 to 300");
  }
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  if (!config.rs256_public_key_pem.empty()) {
    std::unique_ptr<BIO, BioDeleter> bio(
        BIO_new_mem_buf(config.rs256_public_key_pem.data(), static_cast<int>(config.rs256_public_key_pem.size())));
    if (!bio) return InternalError("JWT: out of memory");
    impl->rsa.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    if (!impl->rsa) {
      return InvalidArgumentError("JWT: the RS256 key is not a PEM public key (-----BEGIN PUBLIC KEY-----)");
    }
    if (EVP_PKEY_base_id(impl->rsa.get()) != EVP_PKEY_RSA) {
      return InvalidArgumentError("JWT: the RS256 key is not an RSA key");
    }
    int bits = EVP_PKEY_bits(impl->rsa.get());
    if (bits < 2048) {
      return InvalidArgumentError("JWT: the RS256 key has " + std::to_string(bits) + " bits; at least 2048 are required");
    }
    impl->rsa_bytes = static_cast<std::size_t>(EVP_PKEY_size(impl->rsa.get()));
  }
  return std::unique_ptr<JwtVerifier>(new JwtVerifier(std::move(impl)));
}

std::string JwtVerifier::AcceptedAlgorithms() const {
  std::string out;
  if (!impl_->config.hs256_secret.empty()) out = "HS256";
  if (impl_->rsa) out += out.empty() ? "RS256" : " RS256";
  return out;
}

Result<Principal> JwtVerifier::Verify(std::string_view token, std::int64_t now_seconds) const {
  if (token.size() > kMaxTokenBytes) return Reject("longer than " + std::to_string(kMaxTokenBytes) + " bytes");
  std::size_t d1 = token.find('.');
  std::size_t d2 = d1 == std::string_view::npos ? d1 : token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos) {
    return Reject("expected three dot-separated parts");
  }
  std::optional<std::string> header_text = internal::Base64UrlDecode(token.substr(0, d1));
  std::optional<std::string> claims_text = internal::Base64UrlDecode(token.substr(d1 + 1, d2 - d1 - 1));
  std::optional<std::string> sig = internal::Base64UrlDecode(token.substr(d2 + 1));
  if (!header_text || !claims_text || !sig) return Reject("a part is not base64url without padding");
  json header = json::parse(*header_text, nullptr, false);
  if (header.is_discarded() || !header.is_object()) return Reject("the header is not a JSON object");
  auto alg_it = header.find("alg");
  if (alg_it == header.end() || !alg_it->is_string()) return Reject("the header has no alg");
  std::string alg = alg_it->get<std::string>();
  if (Lower(alg) == "none") return Reject("unsigned tokens (alg none) are not accepted");
  std::string_view signing_input = token.substr(0, d2);
  if (alg == "HS256" && !impl_->config.hs256_secret.empty()) {
    std::string mac = internal::HmacSha256(impl_->config.hs256_secret, signing_input);
    if (!internal::ConstantTimeEquals(mac, *sig)) return Reject("bad signature");
  } else if (alg == "RS256" && impl_->rsa) {
    if (!impl_->VerifyRs256(signing_input, *sig)) return Reject("bad signature");
  } else {
    return Reject("algorithm \"" + alg.substr(0, 16) + "\" is not accepted (accepted: " + AcceptedAlgorithms() + ")");
  }
  if (header.contains("crit")) return Reject("critical header extensions are not supported");
  if (auto typ = header.find("typ"); typ != header.end()) {
    if (!typ->is_string() || (Lower(typ->get<std::string>()) != "jwt" && Lower(typ->get<std::string>()) != "at+jwt")) {
      return Reject("typ must be JWT or at+jwt");
    }
  }

  json claims = json::parse(*claims_text, nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) return Reject("the claims are not a JSON object");
  const double now = static_cast<double>(now_seconds);
  const double leeway = static_cast<double>(impl_->config.leeway_seconds);
  std::optional<double> exp = NumericDate(claims, "exp");
  if (!exp) return Reject("exp (expiry, a number of seconds) is required");
  if (now > *exp + leeway) return Reject("expired");
  if (claims.contains("nbf")) {
    std::optional<double> nbf = NumericDate(claims, "nbf");
    if (!nbf) return Reject("nbf must be a number of seconds");
    if (now + leeway < *nbf) return Reject("not valid yet (nbf)");
  }
  if (!impl_->config.issuer.empty()) {
    auto iss = claims.find("iss");
    if (iss == claims.end() || !iss->is_string() || iss->get<std::string>() != impl_->config.issuer) {
      return Reject("wrong issuer");
    }
  }
  if (!impl_->config.audience.empty()) {
    bool found = false;
    if (auto aud = claims.find("aud"); aud != claims.end()) {
      if (aud->is_string()) {
        found = aud->get<std::string>() == impl_->config.audience;
      } else if (aud->is_array()) {
        for (const json& a : *aud) found = found || (a.is_string() && a.get<std::string>() == impl_->config.audience);
      }
    }
    if (!found) return Reject("wrong audience");
  }
  std::string subject;
  for (const char* name : {"sub", "client_id"}) {
    if (auto it = claims.find(name); it != claims.end() && it->is_string()) {
      subject = it->get<std::string>();
      break;
    }
  }
  if (!ValidSubject(subject)) return Reject("sub must be a string of 1-256 printable characters");
  std::vector<std::string> scopes;
  if (auto sc = claims.find("scope"); sc != claims.end()) {
    if (!sc->is_string()) return Reject("scope must be a space-separated string");
    scopes = SplitScopes(sc->get<std::string>());
  }
  return Principal{"jwt:" + subject, std::move(scopes), PrincipalKind::kJwt};
}

}  // namespace bver::auth
