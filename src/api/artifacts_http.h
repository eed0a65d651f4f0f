// The streaming artifact routes (BVER.md §1, docs/artifacts.md):
//
//   PUT /v1/artifacts             the body is the content, of any size: it is
//                                 spooled to a file by the transport, then
//                                 stored; 201 {digest,size,existed} (200 when
//                                 the store already held it), ETag and
//                                 Location /v1/artifacts/sha256:<hex>
//   GET /v1/artifacts/{digest}    the content, verified against its digest
//                                 before the first byte is sent; ETag is the
//                                 digest; If-None-Match with it is a 304
//
// Both run the broker's checks for artifacts.put / artifacts.get
// (Broker::Authorize: scopes, the digest's form) before anything is read or
// sent, so an upload without the right scope is refused before its body is
// read (OnHeader). Memory does not grow with an artifact's size.
//
// Thread safety: every method may be called from any number of threads.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "src/api/http_message.h"

namespace bver::auth {
class Authenticator;
}
namespace bver::runtime {
class Broker;
}
namespace bver::runtime {
class ArtifactService;
}

namespace bver::api {

class ArtifactsHttp {
 public:
  // `artifacts` may be null (no artifact folder): the routes then answer
  // the broker's FailedPrecondition. Everything must outlive this object.
  ArtifactsHttp(const runtime::Broker& broker, runtime::ArtifactService* artifacts,
                const auth::Authenticator* authenticator, bool local_operator);

  // Whether the request is one of the two routes above.
  static bool Matches(std::string_view method, std::string_view target);

  // For net::ServerOptions::on_header: a refusal (auth, scope, a malformed
  // digest) before the body is read, else nullopt with *spool set for PUT.
  std::optional<HttpResponse> OnHeader(const HttpRequest& head, bool* spool) const;

  // Serves a request for which Matches is true (after OnHeader).
  HttpResponse Handle(const HttpRequest& request) const;

  // Where the transport spools uploads: a folder on the artifacts'
  // filesystem (created here), or the system's temporary folder.
  std::string SpoolDir() const;

 private:
  const runtime::Broker& broker_;
  runtime::ArtifactService* artifacts_;
  const auth::Authenticator* authenticator_;
  bool local_operator_;
};

}  // namespace bver::api
