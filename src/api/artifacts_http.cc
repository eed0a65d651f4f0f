#include "src/api/artifacts_http.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "src/api/http_common.h"
#include "src/runtime/artifact_service.h"
#include "src/runtime/broker.h"

namespace bver::api {
namespace {

using nlohmann::json;

constexpr std::string_view kPrefix = "/v1/artifacts";

// The {digest} of GET /v1/artifacts/{digest}, percent-decoded only for ':'
// (the one character a digest may carry encoded); empty for PUT.
std::string DigestOf(std::string_view path) {
  if (path.size() <= kPrefix.size() + 1) return {};
  std::string d(path.substr(kPrefix.size() + 1));
  for (std::size_t at; (at = d.find("%3A")) != std::string::npos || (at = d.find("%3a")) != std::string::npos;) {
    d.replace(at, 3, ":");
  }
  return d;
}

}  // namespace

ArtifactsHttp::ArtifactsHttp(const runtime::Broker& broker, runtime::ArtifactService* artifacts,
                             const auth::Authenticator* authenticator, bool local_operator)
    : broker_(broker), artifacts_(artifacts), authenticator_(authenticator), local_operator_(local_operator) {}

bool ArtifactsHttp::Matches(std::string_view method, std::string_view target) {
  std::string_view path = TargetPath(target);
  if (method == "PUT") return path == kPrefix;
  if (method == "GET") {
    return path.size() > kPrefix.size() + 1 && path.substr(0, kPrefix.size() + 1) == "/v1/artifacts/" &&
           path.find('/', kPrefix.size() + 1) == std::string_view::npos;
  }
  return false;
}

std::string ArtifactsHttp::SpoolDir() const {
  std::error_code ec;
  if (artifacts_ != nullptr) {
    std::filesystem::path dir = std::filesystem::path(artifacts_->dir()) / "tmp";
    std::filesystem::create_directories(dir, ec);
    if (!ec) return dir.string();
  }
  return std::filesystem::temp_directory_path(ec).string();
}

std::optional<HttpResponse> ArtifactsHttp::OnHeader(const HttpRequest& head, bool* spool) const {
  if (!Matches(head.method, head.target)) return std::nullopt;
  Result<std::string> corr = CorrelationIdFor(head);
  if (!corr.ok()) return ProblemResponse(corr.status(), runtime::Broker::NewCorrelationId(), {});
  std::string_view path = TargetPath(head.target);
  Result<auth::Principal> who = AuthenticateRequest(head, authenticator_, local_operator_);
  if (!who.ok()) return ProblemResponse(who.status(), *corr, path);
  runtime::Call call;
  call.principal = *std::move(who);
  call.correlation_id = *corr;
  call.transport = "http";
  if (head.method == "PUT") {
    call.operation = "artifacts.put";
  } else {
    call.operation = "artifacts.get";
    call.input = std::make_shared<const json>(json{{"digest", DigestOf(path)}});
  }
  if (Status s = broker_.Authorize(call); !s.ok()) return ProblemResponse(s, *corr, path);
  if (artifacts_ == nullptr) {
    return ProblemResponse(FailedPreconditionError("artifacts are not configured on this server (docs/artifacts.md)"),
                           *corr, path);
  }
  *spool = head.method == "PUT";
  return std::nullopt;
}

namespace {

// The media type a GET asked for with ?type= (text/html, image/svg+xml,
// text/plain, text/csv or application/json, "/" written as is or as %2F);
// application/octet-stream otherwise.
std::string RequestedMediaType(std::string_view target) {
  std::size_t q = target.find('?');
  if (q == std::string_view::npos) return "application/octet-stream";
  std::string_view query = target.substr(q + 1);
  while (!query.empty()) {
    std::size_t amp = query.find('&');
    std::string_view item = query.substr(0, amp);
    if (item.substr(0, 5) == "type=") {
      std::string value(item.substr(5));
      if (std::size_t pct = value.find("%2F"); pct != std::string::npos) value.replace(pct, 3, "/");
      if (std::size_t pct = value.find("%2f"); pct != std::string::npos) value.replace(pct, 3, "/");
      for (const char* allowed : {"text/html", "image/svg+xml", "text/plain", "text/csv", "application/json"}) {
        if (value == allowed) return value + (value.rfind("text/", 0) == 0 ? "; charset=utf-8" : "");
      }
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return "application/octet-stream";
}

}  // namespace

HttpResponse ArtifactsHttp::Handle(const HttpRequest& request) const {
  bool spool = false;
  if (std::optional<HttpResponse> refused = OnHeader(request, &spool)) return *std::move(refused);
  Result<std::string> corr = CorrelationIdFor(request);  // valid: OnHeader checked it
  std::string_view path = TargetPath(request.target);
  HttpResponse r;
  r.headers.emplace_back("X-Correlation-ID", *corr);
  if (request.method == "PUT") {
    Result<runtime::ArtifactFacts> put = [&]() -> Result<runtime::ArtifactFacts> {
      if (!request.body_file.empty()) {
        std::ifstream in(request.body_file, std::ios::binary);
        if (!in) return UnavailableError("cannot read the spooled upload");
        return artifacts_->Put(in);
      }
      std::istringstream in(request.body);
      return artifacts_->Put(in);
    }();
    if (!put.ok()) return ProblemResponse(put.status(), *corr, path);
    r.status = put->existed ? 200 : 201;
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("ETag", "\"" + put->digest + "\"");
    r.headers.emplace_back("Location", std::string(kPrefix) + "/" + put->digest);
    r.body = json{{"digest", put->digest}, {"size", put->size}, {"existed", put->existed}}.dump();
    return r;
  }
  Result<runtime::ArtifactFacts> info = artifacts_->Verify(DigestOf(path));
  if (!info.ok()) return ProblemResponse(info.status(), *corr, path);
  std::string etag = "\"" + info->digest + "\"";
  r.headers.emplace_back("ETag", etag);
  r.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
  std::string_view inm = request.Header("If-None-Match");
  if (!inm.empty() && (inm == etag || inm == "*")) {
    r.status = 304;
    return r;
  }
  r.status = 200;
  const std::string type = RequestedMediaType(request.target);
  r.headers.emplace_back("Content-Type", type);
  if (type != "application/octet-stream") {
    // Shown in a browser (a study's report): sandboxed, so the page can
    // neither run script nor load anything but its own inline SVG and CSS.
    r.headers.emplace_back("Content-Security-Policy",
                           "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  }
  r.body_file = artifacts_->ContentPath(info->digest);
  return r;
}

}  // namespace bver::api
