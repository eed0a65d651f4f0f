#include "src/mcp/http.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "src/api/http_common.h"
#include "src/auth/authenticator.h"
#include "src/core/status_map.h"
#include "src/mcp/server.h"
#include "src/runtime/broker.h"

namespace bver::mcp {
namespace {

using nlohmann::json;

// Implementation-defined JSON-RPC server error for refusals of the HTTP
// layer (Host, Origin, method, headers, credentials), as the SDK servers do.
constexpr int kTransportError = -32000;
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kEventStream = "text/event-stream";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

api::HttpResponse JsonRpcError(int http_status, int code, std::string message) {
  api::HttpResponse r;
  r.status = http_status;
  r.headers.emplace_back("Content-Type", std::string(kJson));
  r.body = Dump({{"jsonrpc", "2.0"}, {"id", nullptr}, {"error", {{"code", code}, {"message", std::move(message)}}}});
  return r;
}

api::HttpResponse NotAllowed(std::string_view method) {
  api::HttpResponse r = JsonRpcError(405, kTransportError,
                                     "Method not allowed: " + std::string(method) +
                                         "; this MCP endpoint takes POST only (no server-initiated stream, no "
                                         "sessions)");
  r.headers.emplace_back("Allow", "POST");
  return r;
}

// "localhost", "127.0.0.1" or "[::1]" with an optional ":port".
bool IsLoopbackAuthority(std::string_view authority) {
  for (std::string_view host : {"localhost", "127.0.0.1", "[::1]"}) {
    if (authority.size() < host.size() || Lower(authority.substr(0, host.size())) != host) continue;
    std::string_view rest = authority.substr(host.size());
    if (rest.empty()) return true;
    if (rest.front() != ':' || rest.size() == 1 || rest.size() > 6) continue;
    rest.remove_prefix(1);
    if (std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) return true;
  }
  return false;
}

bool IsLoopbackOrigin(std::string_view origin) {
  std::string lower = Lower(origin);
  for (std::string_view scheme : {"http://", "https://"}) {
    if (std::string_view(lower).substr(0, scheme.size()) == scheme) {
      return IsLoopbackAuthority(std::string_view(lower).substr(scheme.size()));
    }
  }
  return false;
}

bool ContainsNoCase(const std::vector<std::string>& list, std::string_view value) {
  std::string v = Lower(value);
  return std::any_of(list.begin(), list.end(), [&](const std::string& e) { return Lower(e) == v; });
}

// What an Accept header allows of the two forms we can answer in. An absent
// header allows anything; a range with q=0 allows nothing.
struct Acceptable {
  bool json = false;
  bool event_stream = false;
};

Acceptable ParseAccept(std::string_view header) {
  if (Trim(header).empty()) return {true, true};
  Acceptable a;
  while (!header.empty()) {
    std::size_t comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    std::size_t semi = item.find(';');
    std::string range = Lower(Trim(item.substr(0, semi)));
    bool refused = false;
    while (semi != std::string_view::npos) {
      item = item.substr(semi + 1);
      semi = item.find(';');
      std::string param = Lower(Trim(item.substr(0, semi)));
      if (param.size() > 2 && param.substr(0, 2) == "q=") {
        std::string_view q = std::string_view(param).substr(2);
        refused = !q.empty() && std::all_of(q.begin(), q.end(), [](char c) { return c == '0' || c == '.'; });
      }
    }
    if (refused) continue;
    if (range == kJson || range == "application/*" || range == "*/*") a.json = true;
    if (range == kEventStream || range == "text/*" || range == "*/*") a.event_stream = true;
  }
  return a;
}

// A single JSON-RPC 2.0 message of one of the three kinds, or none.
enum class Kind { kRequest, kNotification, kResponse, kInvalid };

Kind Classify(const json& m) {
  if (!m.is_object()) return Kind::kInvalid;
  auto v = m.find("jsonrpc");
  if (v == m.end() || *v != "2.0") return Kind::kInvalid;
  auto method = m.find("method");
  auto id = m.find("id");
  bool good_id = id != m.end() && (id->is_string() || id->is_number_integer());
  if (method != m.end()) {
    if (!method->is_string()) return Kind::kInvalid;
    if (id == m.end()) return Kind::kNotification;
    return good_id ? Kind::kRequest : Kind::kInvalid;
  }
  if (id != m.end() && (m.contains("result") || m.contains("error"))) return Kind::kResponse;
  return Kind::kInvalid;
}

// The correlation id a request names in params._meta, or empty.
std::string MetaCorrelationId(const json& message) {
  auto params = message.find("params");
  if (params == message.end() || !params->is_object()) return {};
  auto meta = params->find("_meta");
  if (meta == params->end() || !meta->is_object()) return {};
  for (const char* key : {"correlation_id", "correlationId", "io.bver/correlation_id"}) {
    auto c = meta->find(key);
    if (c != meta->end() && c->is_string()) return c->get<std::string>();
  }
  return {};
}

}  // namespace

HttpEndpoint::HttpEndpoint(const Server& server, const auth::Authenticator* authenticator, Options options)
    : server_(server), authenticator_(authenticator), options_(std::move(options)) {}

api::HttpResponse HttpEndpoint::Handle(const api::HttpRequest& request) const {
  try {
    // DNS rebinding: a page the browser fetched from evil.example resolving
    // to 127.0.0.1 sends Host: evil.example (and its Origin).
    if (!options_.allowed_hosts.empty()) {
      std::string_view host = Trim(request.Header("Host"));
      if (host.empty()) return JsonRpcError(400, kTransportError, "Bad Request: the Host header is required");
      if (!ContainsNoCase(options_.allowed_hosts, host)) {
        return JsonRpcError(403, kTransportError, "Forbidden: Host " + std::string(host) + " is not allowed");
      }
    }
    std::string_view origin = Trim(request.Header("Origin"));
    if (!origin.empty() && !IsLoopbackOrigin(origin) && !ContainsNoCase(options_.allowed_origins, origin)) {
      return JsonRpcError(403, kTransportError, "Forbidden: Origin " + std::string(origin) + " is not allowed");
    }
    if (request.method != "POST") return NotAllowed(request.method);

    std::string_view version = Trim(request.Header("MCP-Protocol-Version"));
    if (!version.empty()) {
      const std::vector<std::string>& supported = SupportedProtocolVersions();
      if (std::find(supported.begin(), supported.end(), version) == supported.end()) {
        std::string list;
        for (const std::string& s : supported) list += (list.empty() ? "" : ", ") + s;
        return JsonRpcError(400, kTransportError,
                            "Bad Request: unsupported MCP-Protocol-Version " + std::string(version) +
                                " (supported: " + list + ")");
      }
    }

    std::string correlation(Trim(request.Header("X-Correlation-ID")));
    if (!correlation.empty()) {
      if (Status s = runtime::Broker::CheckCorrelationId(correlation); !s.ok()) {
        return JsonRpcError(400, kTransportError, "Bad Request: X-Correlation-ID: " + s.message());
      }
    }

    std::string_view content_type = request.Header("Content-Type");
    if (Lower(Trim(content_type.substr(0, content_type.find(';')))) != kJson) {
      return JsonRpcError(415, kTransportError, "Unsupported Media Type: the body must be application/json");
    }
    Acceptable accept = ParseAccept(request.Header("Accept"));
    if (!accept.json && !accept.event_stream) {
      return JsonRpcError(406, kTransportError,
                          "Not Acceptable: the client must accept application/json or text/event-stream");
    }

    // Who calls: as api::Rest, except that a server with auth on answers
    // 401 at once (MCP clients expect it to start their auth flow).
    if (!api::HasCredentials(request) && !options_.local_operator) {
      api::HttpResponse r = JsonRpcError(
          401, kTransportError, "Unauthorized: send Authorization: Bearer <API key or JWT> or X-API-Key");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    Result<auth::Principal> p = api::AuthenticateRequest(request, authenticator_, options_.local_operator, "mcp");
    if (!p.ok()) {
      bool unauthenticated = p.status().code() == StatusCode::kUnauthenticated;
      api::HttpResponse r = JsonRpcError(unauthenticated ? 401 : core::HttpStatusFor(p.status().code()),
                                         kTransportError,
                                         (unauthenticated ? "Unauthorized: " : "") + p.status().message());
      if (unauthenticated) r.headers.emplace_back("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      return r;
    }
    auth::Principal who = *std::move(p);

    json message = json::parse(request.body, nullptr, false);
    if (message.is_discarded()) {
      return JsonRpcError(400, kParseError, "Parse error: the body is not valid JSON");
    }
    Kind kind = Classify(message);
    if (kind == Kind::kInvalid) {
      api::HttpResponse r = JsonRpcError(400, kInvalidRequest, "Invalid Request: not a single JSON-RPC 2.0 message");
      // The handler's own words when it has some (e.g. about batches).
      json answer = server_.HandleMessage(message, who);
      if (!answer.is_null()) r.body = Dump(answer);
      return r;
    }

    if (kind == Kind::kRequest && (message["method"] == "tools/call" || message["method"] == "resources/read")) {
      std::string named = MetaCorrelationId(message);
      if (named.empty()) {
        if (correlation.empty()) correlation = runtime::Broker::NewCorrelationId();
        json& params = message["params"];
        if (params.is_null()) params = json::object();
        if (params.is_object()) {
          json& meta = params["_meta"];
          if (meta.is_null()) meta = json::object();
          if (meta.is_object()) meta["correlation_id"] = correlation;
        }
      } else {
        correlation = named;
      }
    }
    json answer = server_.HandleMessage(message, who);

    api::HttpResponse r;
    if (!correlation.empty()) r.headers.emplace_back("X-Correlation-ID", correlation);
    if (kind != Kind::kRequest || answer.is_null()) {
      r.status = 202;
      return r;
    }
    std::string text = Dump(answer);
    if (accept.json) {
      r.headers.emplace_back("Content-Type", std::string(kJson));
      r.body = std::move(text);
    } else {
      // A client that takes only a stream gets one: the answer as its one
      // event, then the end (transports.mdx: the server closes the stream
      // after the response).
      r.headers.emplace_back("Content-Type", std::string(kEventStream));
      r.headers.emplace_back("Cache-Control", "no-cache");
      r.body = "event: message\ndata: " + text + "\n\n";
    }
    return r;
  } catch (const std::exception&) {
    return JsonRpcError(500, kInternalError, "Internal error");
  }
}

}  // namespace bver::mcp
