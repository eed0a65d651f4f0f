// SHA-256 digests, from OpenSSL's EVP interface: of bytes, of a stream of
// bytes, and of a JSON value (over its RFC 8785 canonical form). Digests are
// written as 64 lower-case hex digits; JSON digests carry the algorithm,
// "sha256:<hex>", so that stored digests say how they were made.
//
// The free functions are safe to call from any thread. A Sha256 object is
// not synchronized: use one per thread.
//
// OpenSSL's SHA-256 is a hard requirement: if it cannot be set up (out of
// memory, or an OpenSSL configuration that disables it) the process stops
// with a message on stderr rather than return a wrong digest.
#pragma once

#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "bver/status.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header.

namespace bver::core {

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

// Incremental SHA-256: Update with the pieces in order, then FinishHex.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // The hex digest of everything given to Update since construction or the
  // last FinishHex; the object is then ready for a new message.
  std::string FinishHex();

 private:
  struct CtxDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx_;
};

// "sha256:" + Sha256Hex(CanonicalJson(value)); the errors of CanonicalJson.
Result<std::string> JsonDigest(const nlohmann::json& value);

}  // namespace bver::core
