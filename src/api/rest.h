// REST: maps an HTTP request onto a broker Call through each operation row's
// HttpBinding (runtime/operations.h), and the broker's answer back onto an
// HTTP response. Transport-free: request in, response out.
//
//   routes        every row's binding, plus POST /v1/ops/{operation_id}
//                 (the JSON body is the input object), /healthz, /readyz
//                 (Options::ready), GET /v1/openapi.json (openapi.h),
//                 GET /docs (docs_page.h), GET /metrics (metrics.h, when
//                 Options::metrics is set); these need no credentials
//   input         path, query and header values converted by the field's
//                 type in the input schema; the body parsed as JSON and put
//                 into the field its Content-Type selects (PATCH:
//                 merge-patch+json or json-patch+json)
//   output        the binding's success status; ETag "\"N\"" from its
//                 etag_field; Location on create; X-Correlation-ID always
//   errors        application/problem+json (runtime/problem.h); unknown
//                 route 404, known path with another method 405 with Allow,
//                 unsupported Content-Type 415, malformed JSON 400
//   auth          Authorization: Bearer / X-API-Key through the
//                 Authenticator. With local_operator set (a server on
//                 loopback with no auth configured), a request without
//                 credentials runs as Principal::Local.
//
// Thread safety: Handle may be called from any number of threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bver/status.h"
#include "src/api/http_message.h"

namespace bver::auth {
class Authenticator;
}
namespace bver::runtime {
class Broker;
}

namespace bver::api {

class Metrics;

class Rest {
 public:
  struct Options {
    // Requests without credentials run as the local operator (admin).
    bool local_operator = false;
    // Served as GET /metrics (Prometheus text format) when set; must outlive
    // the Rest. Unset: /metrics is 404.
    const Metrics* metrics = nullptr;
    // GET /readyz calls it: OK is 200, an error is a 503 problem naming it.
    // Unset: always ready. Must be cheap and thread-safe (probes poll it).
    std::function<Status()> ready = nullptr;
  };

  // `broker` and `authenticator` (may be null: no credential is accepted)
  // must outlive this object.
  Rest(const runtime::Broker& broker, const auth::Authenticator* authenticator, Options options);
  ~Rest();

  HttpResponse Handle(const HttpRequest& request) const;

 private:
  struct Route;
  const runtime::Broker& broker_;
  const auth::Authenticator* authenticator_;
  Options options_;
  std::vector<Route> routes_;
  std::string openapi_;  // the document, rendered once
  std::string docs_;     // the HTML reference (docs_page.h), rendered once
};

}  // namespace bver::api
