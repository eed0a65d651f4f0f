// A small blocking HTTP/1.1 client: one request, one connection, for the
// CLI talking to a remote `bver up` (bver call --server URL). Plain http
// only; for TLS put a proxy in front (HAProxy terminates it in the
// deployments docs/ describe). Beast stays in client.cc.
//
// Thread safety: a plain function; calls from several threads are
// independent.
#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "bver/status.h"
#include "src/api/http_message.h"

namespace bver::net {

struct ClientTarget {
  std::string host;  // "127.0.0.1", "bver.example"
  std::string port;  // "8080"
  std::string base;  // path prefix without a trailing '/' ("" or "/bver")
};

// "http://host[:port][/prefix]" -> its parts. InvalidArgument naming what is
// wrong (https, no host, a query).
Result<ClientTarget> ParseServerUrl(const std::string& url);

// Sends `request` (target relative to the base: "/v1/ops/x") and returns the
// response with its status, headers and body. Unavailable when the server
// cannot be reached or does not answer within `timeout`.
Result<api::HttpResponse> SendRequest(const ClientTarget& to, const api::HttpRequest& request,
                                      std::chrono::milliseconds timeout);

}  // namespace bver::net
