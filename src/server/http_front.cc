#include "src/server/http_front.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <vector>

#include "src/api/artifacts_http.h"
#include "src/api/events_http.h"
#include "src/api/http_common.h"
#include "src/api/metrics.h"
#include "src/api/rest.h"
#include "src/auth/api_keys.h"
#include "src/auth/authenticator.h"
#include "src/auth/config.h"
#include "src/domain/platform.h"
#include "src/events/nats_relay.h"
#include "src/mcp/http.h"
#include "src/mcp/server.h"
#include "src/net/server.h"
#include "src/server/rate_limit.h"
#include "src/server/runtime.h"
#include "src/store/store.h"

namespace bver::server {

bool IsLoopback(const std::string& host) {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

// Declaration order is destruction order reversed: the listener (last)
// stops first, then the endpoints it called, then what they hold.
struct HttpFront::Impl {
  Runtime& rt;
  api::Metrics& metrics;
  HttpFrontOptions options;
  auth::ApiKeys keys;
  bool auth_configured = false;
  bool local_operator = false;
  std::unique_ptr<auth::Authenticator> authenticator;
  std::unique_ptr<api::Rest> rest;
  std::unique_ptr<api::ArtifactsHttp> artifacts;
  std::unique_ptr<api::EventsHttp> events;
  std::unique_ptr<mcp::Server> mcp_server;
  std::unique_ptr<mcp::HttpEndpoint> mcp_http;  // made once the port is bound (its Host check names it)
  // Requests being handled right now (src/net/ keeps no count to show).
  std::atomic<int> in_flight{0};
  // The profile's rate limit (null: none).
  std::unique_ptr<RateLimiter> limiter;
  std::unique_ptr<net::Server> server;

  Impl(Runtime& r, api::Metrics& m, HttpFrontOptions o)
      : rt(r), metrics(m), options(std::move(o)), keys(r.store->backend()) {}

  // Every request comes here: the endpoints that are not operation routes
  // first, then REST.
  api::HttpResponse Route(const api::HttpRequest& r) {
    std::string_view path = api::TargetPath(r.target);
    if (path == "/mcp" && mcp_http != nullptr) return mcp_http->Handle(r);  // src/mcp/http.h
    if (api::ArtifactsHttp::Matches(r.method, r.target)) return artifacts->Handle(r);
    if (api::EventsHttp::Matches(r.method, r.target)) return events->Handle(r);  // SSE
    return rest->Handle(r);
  }

  static std::string Num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }

  // The caller a rate limit counts against: its credential (hashed; never
  // kept or shown), else its address.
  static std::uint64_t Caller(const api::HttpRequest& r) {
    std::string_view credential = r.Header("Authorization");
    if (credential.empty()) credential = r.Header("X-API-Key");
    if (!credential.empty()) return std::hash<std::string_view>{}(credential);
    std::string_view host = r.remote;
    if (std::size_t colon = host.rfind(':'); colon != std::string_view::npos) host = host.substr(0, colon);
    return std::hash<std::string_view>{}(host) ^ 0x9e3779b97f4a7c15ULL;
  }

  // 429 when the caller is over the profile's rate limit. Probes
  // (/healthz, /readyz, /metrics) are never limited.
  std::optional<api::HttpResponse> Limited(const api::HttpRequest& r) {
    if (limiter == nullptr) return std::nullopt;
    std::string_view path = api::TargetPath(r.target);
    if (path == "/healthz" || path == "/readyz" || path == "/metrics") return std::nullopt;
    int wait = limiter->Take(Caller(r));
    if (wait == 0) return std::nullopt;
    Result<std::string> correlation = api::CorrelationIdFor(r);
    api::HttpResponse response = api::ProblemResponse(
        Status(StatusCode::kResourceExhausted,
               "too many requests: profile " + rt.project.profile.name + " allows " +
                   Num(rt.project.profile.policy.rate_limit_rps) + " per second per caller (burst " +
                   std::to_string(rt.project.profile.policy.rate_limit_burst) + "); retry after " +
                   std::to_string(wait) + " s"),
        correlation.ok() ? *correlation : std::string(), path);
    response.headers.emplace_back("Retry-After", std::to_string(wait));
    return response;
  }

  api::HttpResponse Counted(const api::HttpRequest& r) {
    in_flight.fetch_add(1, std::memory_order_relaxed);
    auto start = std::chrono::steady_clock::now();
    std::optional<api::HttpResponse> refused = Limited(r);
    api::HttpResponse response = refused ? std::move(*refused) : Route(r);
    metrics.ObserveHttp(r.method, response.status,
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    in_flight.fetch_sub(1, std::memory_order_relaxed);
    return response;
  }

  std::string Shown() const { return options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host; }
};

HttpFront::HttpFront(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpFront::~HttpFront() {
  if (impl_->server) impl_->server->Stop();
}

Result<std::unique_ptr<HttpFront>> HttpFront::Create(Runtime& rt, api::Metrics& metrics, HttpFrontOptions options) {
  if (options.host == "localhost") options.host = "127.0.0.1";
  auto impl = std::make_unique<Impl>(rt, metrics, std::move(options));
  Impl& m = *impl;

  // Auth: JWTs when configured, API keys from the store.
  const Profile& profile = rt.project.profile;
  BVER_ASSIGN_OR_RETURN(auth::AuthConfig config, auth::LoadAuthConfig(rt.project.dir, profile.name));
  std::unique_ptr<auth::JwtVerifier> jwt;
  if (config.jwt) {
    BVER_ASSIGN_OR_RETURN(jwt, auth::JwtVerifier::Create(*config.jwt));
  }
  const bool jwt_configured = jwt != nullptr;
  BVER_ASSIGN_OR_RETURN(std::vector<auth::ApiKeyInfo> listed, m.keys.List());
  bool keys_configured = false;
  for (const auth::ApiKeyInfo& k : listed) keys_configured = keys_configured || k.active();
  m.auth_configured = jwt_configured || keys_configured;
  const bool loopback = IsLoopback(m.options.host);
  if (profile.policy.auth_required && !m.auth_configured) {
    return FailedPreconditionError(
        "profile " + profile.name + " requires auth, and none is configured: create an API key (bver keys create "
        "--scopes ...) or configure JWTs (profiles." + profile.name +
        ".wiring.jwt or auth.jwt in bver.config.yaml, docs/auth.md), or run another profile (--profile local)");
  }
  if (profile.policy.rate_limit_rps > 0) {
    m.limiter = std::make_unique<RateLimiter>(profile.policy.rate_limit_rps, profile.policy.rate_limit_burst);
  }
  if (!loopback && !m.auth_configured) {
    return FailedPreconditionError(
        "refusing to listen on " + m.options.host +
        " with auth off: anyone who can reach it would act as admin. Create an API key (bver keys create "
        "--scopes ...) or configure JWTs (docs/auth.md), or listen on 127.0.0.1");
  }
  m.authenticator = std::make_unique<auth::Authenticator>(&m.keys, std::move(jwt));
  // On loopback with no auth configured, callers are the local operator:
  // the same trust as running the CLI on this machine (docs/rest.md).
  m.local_operator = loopback && !m.auth_configured;

  api::Rest::Options rest_options;
  rest_options.local_operator = m.local_operator;
  rest_options.metrics = &metrics;
  // Ready while the store answers a point read (a missing head is fine).
  rest_options.ready = [&rt]() -> Status {
    Result<std::optional<store::VersionRow>> probe = rt.store->backend().GetHead("_", "_", "_");
    return probe.ok() ? Status::Ok() : probe.status();
  };
  m.rest = std::make_unique<api::Rest>(*rt.broker, m.authenticator.get(), rest_options);
  m.artifacts = std::make_unique<api::ArtifactsHttp>(*rt.broker, rt.artifact_service.get(), m.authenticator.get(),
                                                     m.local_operator);
  m.events = std::make_unique<api::EventsHttp>(*rt.broker, m.authenticator.get(), m.local_operator);

  // MCP over Streamable HTTP at /mcp (docs/mcp.md).
  mcp::Server::Options mcp_options;
  mcp_options.server_version = rt.platform->version.empty() ? "0.1.0" : rt.platform->version;
  m.mcp_server = std::make_unique<mcp::Server>(rt.broker, mcp_options);

  if (const events::NatsRelay* relay = rt.nats_relay.get(); relay != nullptr) {
    metrics.SetGauge("bver_nats_relay_connected", "1 while the JetStream relay is connected and its stream checked",
                     [relay] { return relay->Status().connected ? 1.0 : 0.0; });
    metrics.SetGauge("bver_nats_relay_cursor", "The last event offset JetStream acknowledged",
                     [relay] { return static_cast<double>(relay->Status().cursor); });
    metrics.SetGauge("bver_nats_relay_published", "Events the relay published since bver up started",
                     [relay] { return static_cast<double>(relay->Status().published); });
    metrics.SetGauge("bver_nats_relay_failures", "Relay rounds that failed (NATS unreachable, stream refused)",
                     [relay] { return static_cast<double>(relay->Status().failures); });
  }
  metrics.SetGauge("bver_http_requests_in_flight", "HTTP requests being handled right now.",
                   [impl = impl.get()] { return static_cast<double>(impl->in_flight.load(std::memory_order_relaxed)); });

  net::ServerOptions net_options;
  net_options.address = m.options.host;
  net_options.port = m.options.port;
  net_options.threads = m.options.threads;
  net_options.handler_threads = m.options.handler_threads;
  net_options.request_timeout = std::chrono::milliseconds(m.options.request_timeout_ms);
  net_options.max_connections = m.options.max_connections;
  // Uploads to PUT /v1/artifacts are checked before their body is read,
  // then spooled to a file on the artifacts' filesystem.
  net_options.on_header = [a = m.artifacts.get()](const api::HttpRequest& head, bool* spool) {
    return a->OnHeader(head, spool);
  };
  net_options.spool_dir = m.artifacts->SpoolDir();
  m.server = std::make_unique<net::Server>(net_options,
                                           [impl = impl.get()](const api::HttpRequest& r) { return impl->Counted(r); });
  return std::unique_ptr<HttpFront>(new HttpFront(std::move(impl)));
}

Status HttpFront::Start() {
  BVER_RETURN_IF_ERROR(impl_->server->Start());
  mcp::HttpEndpoint::Options mcp_http_options;
  mcp_http_options.local_operator = impl_->local_operator;
  if (IsLoopback(impl_->options.host)) {
    // DNS rebinding: only Host values that name this server on loopback.
    std::string p = std::to_string(impl_->server->port());
    mcp_http_options.allowed_hosts = {impl_->Shown() + ":" + p, "127.0.0.1:" + p, "localhost:" + p, "[::1]:" + p};
  }
  impl_->mcp_http = std::make_unique<mcp::HttpEndpoint>(*impl_->mcp_server, impl_->authenticator.get(),
                                                        std::move(mcp_http_options));
  return Status::Ok();
}

void HttpFront::Run() { impl_->server->Run(); }

void HttpFront::Stop() { impl_->server->Stop(); }

std::uint16_t HttpFront::port() const { return impl_->server->port(); }

std::string HttpFront::url() const { return "http://" + impl_->Shown() + ":" + std::to_string(port()); }

bool HttpFront::auth_configured() const { return impl_->auth_configured; }

}  // namespace bver::server
