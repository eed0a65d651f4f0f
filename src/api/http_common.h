// What every HTTP endpoint of the server does the same way: who sends the
// request, which correlation id it carries, and how a failed Status becomes
// an application/problem+json answer. Used by REST (rest.h), the artifact
// streams (artifacts_http.h) and MCP over HTTP (mcp/http.h).
//
// Thread safety: pure functions.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "bver/status.h"
#include "src/api/http_message.h"
#include "src/auth/principal.h"

namespace bver::auth {
class Authenticator;
}

namespace bver::api {

// The principal of a request: its Authorization (Bearer) or X-API-Key
// header through `authenticator` (null: no credential is accepted). A
// request without credentials is the local operator when `local_operator`
// (a loopback server with no auth configured), else anonymous (the broker
// then answers Unauthenticated for anything that needs a scope).
// `local_subject` names the local operator in logs and the ledger.
Result<auth::Principal> AuthenticateRequest(const HttpRequest& request, const auth::Authenticator* authenticator,
                                            bool local_operator, std::string_view local_subject = "local");

// Whether the request carries an Authorization or X-API-Key header.
bool HasCredentials(const HttpRequest& request);

// The request's X-Correlation-ID when given (InvalidArgument when it is
// not 1-128 of [A-Za-z0-9._:-]), else a new UUIDv7.
Result<std::string> CorrelationIdFor(const HttpRequest& request);

// The problem answer for `s`: status from core::HttpStatusFor unless
// `http_status` is given (405 and 415 have no Status code), the correlation
// id echoed, WWW-Authenticate on 401.
HttpResponse ProblemResponse(const Status& s, std::string_view correlation_id, std::string_view instance,
                             int http_status = 0);

// Percent-decoding (RFC 3986); `plus_is_space` for query components. False
// when malformed.
bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out);

// The decoded parameters of a query string (the part after '?', without
// it), each as often as given. InvalidArgument on malformed escapes.
Result<std::multimap<std::string, std::string>> ParseQuery(std::string_view raw_query);

// The path of an origin-form target, without its query.
std::string_view TargetPath(std::string_view target);

}  // namespace bver::api
