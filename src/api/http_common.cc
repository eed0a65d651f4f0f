#include "src/api/http_common.h"

#include <nlohmann/json.hpp>

#include "src/auth/authenticator.h"
#include "src/core/status_map.h"
#include "src/runtime/broker.h"
#include "src/runtime/problem.h"

namespace bver::api {
namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool PercentDecode(std::string_view in, bool plus_is_space, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = Hex(in[i + 1]), lo = Hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      out->push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

Result<std::multimap<std::string, std::string>> ParseQuery(std::string_view raw_query) {
  std::multimap<std::string, std::string> query;
  std::size_t start = 0;
  while (start <= raw_query.size() && !raw_query.empty()) {
    std::size_t amp = raw_query.find('&', start);
    std::string_view kv = raw_query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!kv.empty()) {
      std::size_t eq = kv.find('=');
      std::string k, v;
      if (!PercentDecode(kv.substr(0, eq), true, &k) ||
          !PercentDecode(eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1), true, &v)) {
        return InvalidArgumentError("malformed percent-encoding in the query");
      }
      query.emplace(std::move(k), std::move(v));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return query;
}

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

bool HasCredentials(const HttpRequest& request) {
  return !Trim(request.Header("Authorization")).empty() || !Trim(request.Header("X-API-Key")).empty();
}

Result<auth::Principal> AuthenticateRequest(const HttpRequest& request, const auth::Authenticator* authenticator,
                                            bool local_operator, std::string_view local_subject) {
  auth::Credentials creds{std::string(Trim(request.Header("Authorization"))),
                          std::string(Trim(request.Header("X-API-Key")))};
  if (creds.authorization.empty() && creds.api_key.empty()) {
    return local_operator ? auth::Principal::Local(std::string(local_subject)) : auth::Principal::Anonymous();
  }
  if (authenticator == nullptr) return Status(StatusCode::kUnauthenticated, "this server accepts no credentials");
  return authenticator->Authenticate(creds);
}

Result<std::string> CorrelationIdFor(const HttpRequest& request) {
  std::string id(Trim(request.Header("X-Correlation-ID")));
  if (id.empty()) return runtime::Broker::NewCorrelationId();
  BVER_RETURN_IF_ERROR(runtime::Broker::CheckCorrelationId(id));
  return id;
}

HttpResponse ProblemResponse(const Status& s, std::string_view correlation_id, std::string_view instance,
                             int http_status) {
  HttpResponse r;
  r.status = http_status != 0 ? http_status : core::HttpStatusFor(s.code());
  r.headers.emplace_back("Content-Type", std::string(runtime::kProblemMediaType));
  if (!correlation_id.empty()) r.headers.emplace_back("X-Correlation-ID", std::string(correlation_id));
  if (s.code() == StatusCode::kUnauthenticated) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  nlohmann::json body = runtime::ProblemJson(s, correlation_id, instance);
  body["status"] = r.status;
  // An HTTP status of the protocol itself answers its own code and title,
  // not the invalid_argument it was raised as.
  const char* code = r.status == 405 ? "method_not_allowed" : r.status == 415 ? "unsupported_media_type" : nullptr;
  if (code != nullptr) {
    body["code"] = code;
    body["type"] = std::string("urn:bver:problem:") + code;
    body["title"] = r.status == 405 ? "Method not allowed" : "Unsupported media type";
  }
  r.body = body.dump();
  return r;
}

std::string_view TargetPath(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace bver::api
