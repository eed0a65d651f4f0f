#include "src/api/rest.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <utility>

#include <nlohmann/json.hpp>

#include "src/api/docs_assets.h"
#include "src/api/docs_page.h"
#include "src/api/metrics.h"
#include "src/api/http_common.h"
#include "src/api/openapi.h"
#include "src/auth/authenticator.h"
#include "src/core/status_map.h"
#include "src/runtime/broker.h"
#include "src/runtime/problem.h"

namespace bver::api {

using nlohmann::json;
using runtime::HttpForm;
using runtime::HttpSource;
using runtime::OperationRow;

struct Rest::Route {
  const OperationRow* row = nullptr;
  std::vector<std::string> segments;  // literal, or "{name}"
};

namespace {

constexpr std::string_view kJson = "application/json";

std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    std::size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return out;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool HasType(const json& schema, std::string_view type) {
  if (!schema.is_object()) return false;
  auto it = schema.find("type");
  if (it == schema.end()) return false;
  if (it->is_string()) return it->get_ref<const std::string&>() == type;
  if (it->is_array()) {
    for (const json& t : *it) {
      if (t.is_string() && t.get_ref<const std::string&>() == type) return true;
    }
  }
  return false;
}

const json& FieldSchema(const OperationRow& row, const std::string& field) {
  static const json kEmpty = json::object();
  if (!row.input_schema) return kEmpty;
  auto props = row.input_schema->find("properties");
  if (props == row.input_schema->end() || !props->is_object()) return kEmpty;
  auto f = props->find(field);
  return f == props->end() ? kEmpty : *f;
}

// A text value converted by the field's schema type.
Result<json> Convert(const std::string& text, const json& schema, const std::string& where) {
  if (HasType(schema, "integer") && !HasType(schema, "string")) {
    long long v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return InvalidArgumentError(where + " must be an integer", {{where, "type", "must be an integer"}});
    }
    return json(v);
  }
  if (HasType(schema, "boolean") && !HasType(schema, "string")) {
    if (text == "true" || text == "1") return json(true);
    if (text == "false" || text == "0") return json(false);
    return InvalidArgumentError(where + " must be true or false", {{where, "type", "must be a boolean"}});
  }
  return json(text);
}

HttpResponse Problem(const Status& s, const std::string& correlation_id, std::string_view instance,
                     int http_status = 0) {
  return ProblemResponse(s, correlation_id, instance, http_status);
}

// The reference page as the caller can paste its examples: this server's
// host and port (the request's Host, when it is a plain host[:port]) instead
// of 127.0.0.1:8080, and no Authorization header when callers need none
// (loopback with auth off: the local operator).
std::string PasteableReference(std::string page, std::string_view host, bool local_operator) {
  auto replace_all = [&page](std::string_view from, std::string_view to) {
    for (std::size_t at = page.find(from); at != std::string::npos; at = page.find(from, at + to.size())) {
      page.replace(at, from.size(), to);
    }
  };
  const bool plain = !host.empty() && host.size() < 256 &&
                     host.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") ==
                         std::string_view::npos;
  if (plain && host != "127.0.0.1:8080") replace_all("http://127.0.0.1:8080", "http://" + std::string(host));
  if (local_operator) replace_all(" \\\n  -H 'Authorization: Bearer '\"$BVER_API_KEY\"", "");
  return page;
}

// A newcomer who posts the /v1/ops shape ({"id", "kind", "body"}) to a
// reference route, whose request body is the reference's body itself, is
// told so, instead of only that the body has unexpected fields.
Status WithRestHint(const Status& s, const OperationRow& row, const json& input, bool generic) {
  if (generic || s.code() != StatusCode::kInvalidArgument) return s;
  const bool body_route = row.kind == domain::OperationKind::kRefCreate || row.kind == domain::OperationKind::kRefReplace;
  const json* body = input.is_object() && input.contains("body") ? &input["body"] : nullptr;
  if (!body_route || body == nullptr || !body->is_object() || !body->contains("body")) return s;
  return Status(s.code(),
                s.message() + ". The request body is the reference's body itself: give the id and the kind as query "
                              "parameters (?id=...&kind=...), or POST {\"id\", \"kind\", \"body\"} to /v1/ops/" + row.id,
                s.violations());
}

HttpResponse JsonResponse(int status, const json& body, const std::string& correlation_id) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", std::string(kJson));
  if (!correlation_id.empty()) r.headers.emplace_back("X-Correlation-ID", correlation_id);
  r.body = body.dump();
  return r;
}

std::string ScalarText(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  return {};
}

// Fills "{name}" in `tmpl` from the output's fields.
std::string FillTemplate(const std::string& tmpl, const json& output) {
  std::string out;
  for (std::size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] == '{') {
      std::size_t close = tmpl.find('}', i);
      if (close == std::string::npos) break;
      std::string name = tmpl.substr(i + 1, close - i - 1);
      auto it = output.is_object() ? output.find(name) : output.end();
      if (it != output.end()) out += ScalarText(*it);
      i = close;
    } else {
      out.push_back(tmpl[i]);
    }
  }
  return out;
}

Result<std::uint64_t> ParseIfMatch(std::string_view v) {
  v = Trim(v);
  if (v.size() >= 2 && v.substr(0, 2) == "W/") v.remove_prefix(2);
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n == 0) {
    return InvalidArgumentError("If-Match must be an entity tag \"N\" holding a version",
                                {{"header.If-Match", "format", "must be \"N\""}});
  }
  return n;
}

}  // namespace

Rest::Rest(const runtime::Broker& broker, const auth::Authenticator* authenticator, Options options)
    : broker_(broker), authenticator_(authenticator), options_(std::move(options)) {
  for (const OperationRow& row : broker_.table().rows()) {
    if (row.http.method.empty() || row.http.path.empty()) continue;
    Route r;
    r.row = &row;
    for (std::string_view seg : Split(std::string_view(row.http.path).substr(1), '/')) r.segments.emplace_back(seg);
    routes_.push_back(std::move(r));
  }
  json doc = OpenApiDocument(broker_.table());
  openapi_ = doc.dump();
  docs_ = DocsPage(doc);
}

Rest::~Rest() = default;

HttpResponse Rest::Handle(const HttpRequest& request) const {
  // Correlation id: the caller's, when well formed, else a new one.
  Result<std::string> given = CorrelationIdFor(request);
  if (!given.ok()) return Problem(given.status(), runtime::Broker::NewCorrelationId(), {});
  std::string corr = *std::move(given);

  std::string_view target = request.target;
  std::size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  std::string_view raw_query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (raw_path.empty() || raw_path.front() != '/') {
    return Problem(InvalidArgumentError("the request target must be an absolute path"), corr, {});
  }
  std::vector<std::string> segs;
  for (std::string_view s : Split(raw_path.substr(1), '/')) {
    std::string d;
    if (!PercentDecode(s, false, &d)) return Problem(InvalidArgumentError("malformed percent-encoding in the path"), corr, {});
    segs.push_back(std::move(d));
  }
  std::string path(raw_path);
  Result<std::multimap<std::string, std::string>> parsed = ParseQuery(raw_query);
  if (!parsed.ok()) return Problem(parsed.status(), corr, path);
  std::multimap<std::string, std::string> query = *std::move(parsed);

  if (request.method == "GET" && path == "/healthz") {
    return JsonResponse(200, json{{"status", "ok"}}, corr);
  }
  if (request.method == "GET" && path == "/readyz") {
    if (options_.ready) {
      Status s = options_.ready();
      if (!s.ok()) {
        // A probe failure is the server's own state, never the caller's fault.
        Status unavailable(StatusCode::kUnavailable, "not ready: " + s.message());
        return Problem(unavailable, corr, path, 503);
      }
    }
    return JsonResponse(200, json{{"status", "ok"}}, corr);
  }
  auto text = [&](std::string_view content_type, const std::string& body) {
    HttpResponse r;
    r.headers.emplace_back("Content-Type", std::string(content_type));
    r.headers.emplace_back("X-Correlation-ID", corr);
    r.body = body;
    return r;
  };
  if ((request.method == "GET" || request.method == "HEAD") && path == "/") {
    // A person who opens the server's address lands on the documentation.
    HttpResponse r;
    r.status = 302;
    r.headers.emplace_back("Location", "/docs");
    r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    r.headers.emplace_back("X-Correlation-ID", corr);
    r.body = "BVER: the API is documented at /docs (OpenAPI: /v1/openapi.json)\n";
    return r;
  }
  if (request.method == "GET" && path == "/v1/openapi.json") return text(kJson, openapi_);
  if (request.method == "GET" && (path == "/docs" || path.rfind("/docs/", 0) == 0)) {
    // Swagger UI (embedded, docs_assets.h), its files, and the page without
    // script at /docs/reference. Scripts and styles from this server only.
    constexpr const char* kCsp =
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    HttpResponse r;
    if (path == "/docs" || path == "/docs/") {
      r = text("text/html; charset=utf-8", std::string(SwaggerUiPage()));
    } else if (path == "/docs/reference") {
      r = text("text/html; charset=utf-8", PasteableReference(docs_, request.Header("Host"), options_.local_operator));
    } else if (const DocsAsset* a = FindDocsAsset(path.substr(6)); a != nullptr) {
      r = text(a->content_type, std::string(a->bytes));
      r.headers.emplace_back("Cache-Control", "public, max-age=3600");
    } else {
      return Problem(NotFoundError("no documentation page " + std::string(path) + " (see /docs)"), corr, path);
    }
    r.headers.emplace_back("Content-Security-Policy", kCsp);
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    return r;
  }
  if (request.method == "GET" && path == "/metrics" && options_.metrics != nullptr) {
    return text("text/plain; version=0.0.4; charset=utf-8", options_.metrics->Render());
  }
  if (path == "/healthz" || path == "/readyz" || path == "/v1/openapi.json" || path == "/docs" ||
      path.rfind("/docs/", 0) == 0 ||
      (path == "/metrics" && options_.metrics != nullptr)) {
    HttpResponse r = Problem(InvalidArgumentError(request.method + " is not allowed on " + path), corr, path, 405);
    r.headers.emplace_back("Allow", "GET");
    return r;
  }

  // Find the row and the path parameters.
  const OperationRow* row = nullptr;
  std::map<std::string, std::string> path_params;
  bool generic = false;
  if (segs.size() == 3 && segs[0] == "v1" && segs[1] == "ops") {
    if (request.method != "POST") {
      HttpResponse r = Problem(InvalidArgumentError("use POST on " + path), corr, path, 405);
      r.headers.emplace_back("Allow", "POST");
      return r;
    }
    row = broker_.table().Find(segs[2]);
    if (row == nullptr) return Problem(NotFoundError("no operation " + segs[2]), corr, path);
    generic = true;
  } else {
    std::string allow;
    for (const Route& route : routes_) {
      if (route.segments.size() != segs.size()) continue;
      std::map<std::string, std::string> params;
      bool match = true;
      for (std::size_t i = 0; i < segs.size() && match; ++i) {
        const std::string& t = route.segments[i];
        if (t.size() >= 2 && t.front() == '{' && t.back() == '}') {
          if (segs[i].empty()) match = false;
          params[t.substr(1, t.size() - 2)] = segs[i];
        } else if (t != segs[i]) {
          match = false;
        }
      }
      if (!match) continue;
      if (route.row->http.method == request.method) {
        row = route.row;
        path_params = std::move(params);
        break;
      }
      if (allow.find(route.row->http.method) == std::string::npos) {
        allow += (allow.empty() ? "" : ", ") + route.row->http.method;
      }
    }
    if (row == nullptr && !allow.empty()) {
      HttpResponse r =
          Problem(InvalidArgumentError(request.method + " is not allowed on " + path), corr, path, 405);
      r.headers.emplace_back("Allow", allow);
      return r;
    }
    if (row == nullptr) return Problem(NotFoundError("no route " + request.method + " " + path), corr, path);
    if (row->http.raw_request_body || row->http.raw_response_body) {
      return Problem(Status(StatusCode::kUnimplemented, "streaming artifacts are not served over REST yet; use POST /v1/ops/" + row->id),
                     corr, path);
    }
  }

  // The input object.
  json input = json::object();
  std::string content_type = Lower(Trim(request.Header("Content-Type").substr(
      0, std::min(request.Header("Content-Type").find(';'), request.Header("Content-Type").size()))));
  if (generic) {
    if (!request.body.empty()) {
      if (!content_type.empty() && content_type != kJson) {
        return Problem(Status(StatusCode::kInvalidArgument, "the body must be application/json"), corr, path);
      }
      input = json::parse(request.body, nullptr, false);
      if (input.is_discarded()) return Problem(InvalidArgumentError("the body is not valid JSON"), corr, path);
      if (!input.is_object()) return Problem(InvalidArgumentError("the body must be a JSON object"), corr, path);
    }
  } else {
    // A query parameter the route does not know is a mistake (a typo would
    // otherwise silently widen a list or drop a condition).
    for (const auto& [name, value] : query) {
      bool known = false;
      for (const runtime::HttpParam& p : row->http.params) {
        known = known || (p.source == HttpSource::kQuery && p.name == name);
      }
      if (!known) {
        return Problem(InvalidArgumentError("unknown query parameter " + name,
                                            {{"query." + name, "additionalProperties", "not a parameter of " + row->id}}),
                       corr, path);
      }
    }
    bool has_body_param = false;
    bool body_taken = false;
    for (const runtime::HttpParam& p : row->http.params) {
      const json& fs = FieldSchema(*row, p.field);
      switch (p.source) {
        case HttpSource::kPath: {
          auto it = path_params.find(p.name);
          if (it == path_params.end()) break;
          Result<json> v = Convert(it->second, fs, "path." + p.name);
          if (!v.ok()) return Problem(v.status(), corr, path);
          input[p.field] = *std::move(v);
          break;
        }
        case HttpSource::kQuery: {
          auto [lo, hi] = query.equal_range(p.name);
          if (lo == hi) break;
          if (HasType(fs, "array")) {
            json arr = json::array();
            const json& items = fs.contains("items") ? fs["items"] : json::object();
            for (auto it = lo; it != hi; ++it) {
              Result<json> v = Convert(it->second, items, "query." + p.name);
              if (!v.ok()) return Problem(v.status(), corr, path);
              arr.push_back(*std::move(v));
            }
            input[p.field] = std::move(arr);
          } else {
            if (std::next(lo) != hi) {
              return Problem(InvalidArgumentError("query parameter " + p.name + " is given more than once"), corr,
                             path);
            }
            Result<json> v = Convert(lo->second, fs, "query." + p.name);
            if (!v.ok()) return Problem(v.status(), corr, path);
            input[p.field] = *std::move(v);
          }
          break;
        }
        case HttpSource::kHeader: {
          std::string_view h = Trim(request.Header(p.name));
          if (h.empty()) break;
          if (p.form == HttpForm::kIfMatchVersion) {
            if (h == "*") break;
            Result<std::uint64_t> n = ParseIfMatch(h);
            if (!n.ok()) return Problem(n.status(), corr, path);
            input[p.field] = *n;
          } else {
            Result<json> v = Convert(std::string(h), fs, "header." + p.name);
            if (!v.ok()) return Problem(v.status(), corr, path);
            input[p.field] = *std::move(v);
          }
          break;
        }
        case HttpSource::kBody: {
          has_body_param = true;
          if (body_taken || request.body.empty()) break;
          std::string ct = content_type.empty() ? std::string(kJson) : content_type;
          if (std::find(p.media_types.begin(), p.media_types.end(), ct) == p.media_types.end()) break;
          json body = json::parse(request.body, nullptr, false);
          if (body.is_discarded()) return Problem(InvalidArgumentError("the body is not valid JSON"), corr, path);
          input[p.field] = std::move(body);
          body_taken = true;
          break;
        }
      }
    }
    if (has_body_param && !request.body.empty() && !body_taken) {
      std::string accepted;
      for (const runtime::HttpParam& p : row->http.params) {
        for (const std::string& m : p.media_types) accepted += (accepted.empty() ? "" : ", ") + m;
      }
      HttpResponse r = Problem(InvalidArgumentError("Content-Type " + content_type + " is not accepted here; use " +
                                                    accepted),
                               corr, path, 415);
      if (request.method == "PATCH" || request.method == "POST") {
        r.headers.emplace_back(request.method == "PATCH" ? "Accept-Patch" : "Accept-Post", accepted);
      }
      return r;
    }
  }

  // Who calls.
  Result<auth::Principal> principal = AuthenticateRequest(request, authenticator_, options_.local_operator);
  if (!principal.ok()) return Problem(principal.status(), corr, path);

  runtime::Call call;
  call.operation = row->id;
  call.row = row;
  call.input = std::make_shared<const json>(std::move(input));
  call.principal = *std::move(principal);
  call.correlation_id = corr;
  call.transport = "http";
  Result<json> out = broker_.Invoke(call);
  if (!out.ok()) return Problem(WithRestHint(out.status(), *row, *call.input, generic), corr, path);

  int status = generic ? 200 : row->http.success_status;
  // 202 says "accepted, not done"; a job or run that has already ended (a
  // cache hit, or ?wait long enough) is done: 200, with the same body.
  if (status == 202 && out->is_object() && (*out)["state"].is_string()) {
    const std::string state = (*out)["state"].get<std::string>();
    if (state == "succeeded" || state == "failed" || state == "cancelled" || state == "timed_out") status = 200;
  }
  HttpResponse r = JsonResponse(status, *out, corr);
  if (!generic) {
    if (!row->http.etag_field.empty() && out->is_object() && out->contains(row->http.etag_field)) {
      std::string tag = ScalarText((*out)[row->http.etag_field]);
      if (!tag.empty()) r.headers.emplace_back("ETag", "\"" + tag + "\"");
    }
    if (!row->http.location.empty()) r.headers.emplace_back("Location", FillTemplate(row->http.location, *out));
  }
  return r;
}

}  // namespace bver::api
