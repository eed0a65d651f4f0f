#include "src/cli/invoke.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "src/auth/principal.h"
#include "src/cli/credentials.h"
#include "src/cli/runtime.h"
#include "src/core/status_map.h"
#include "src/net/client.h"
#include "src/runtime/problem.h"

namespace bver::cli {
namespace {

using nlohmann::json;

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

class LocalInvoker final : public Invoker {
 public:
  LocalInvoker(std::unique_ptr<Runtime> rt, std::string corr) : Invoker(std::move(corr)), rt_(std::move(rt)) {}

  Result<json> Call(const std::string& op, json input) override {
    runtime::Call call;
    call.operation = op;
    call.input = std::make_shared<const json>(std::move(input));
    call.principal = auth::Principal::Local("cli");
    call.correlation_id = correlation_id_;
    call.transport = "cli";
    return rt_->broker->Invoke(call);
  }

  Result<std::vector<json>> Rows(bool with_schemas) override {
    std::vector<json> rows;
    for (const runtime::OperationRow& row : rt_->broker->table().rows()) {
      json r = {{"id", row.id}, {"summary", row.summary}, {"scopes", row.scopes}, {"read_only", row.read_only}};
      if (!row.http.method.empty()) r["http"] = row.http.method + " " + row.http.path;
      if (with_schemas) {
        r["description"] = row.description;
        r["destructive"] = row.destructive;
        r["idempotent"] = row.idempotent;
        if (row.input_schema) r["input_schema"] = *row.input_schema;
        if (row.output_schema) r["output_schema"] = *row.output_schema;
      }
      rows.push_back(std::move(r));
    }
    return rows;
  }

  std::string where() const override { return "platform " + rt_->platform->id + " (in-process)"; }

 private:
  std::unique_ptr<Runtime> rt_;
};

StatusCode CodeNamed(const std::string& name) {
  for (int c = 0; c <= static_cast<int>(StatusCode::kUnauthenticated); ++c) {
    if (StatusCodeName(static_cast<StatusCode>(c)) == name) return static_cast<StatusCode>(c);
  }
  return StatusCode::kUnknown;
}

// A problem document from a server, back into a Status (its code, detail and
// errors), so it renders and exits as a local one does.
Status FromProblem(const api::HttpResponse& r, const std::string& server) {
  json p = json::parse(r.body, nullptr, false);
  if (!p.is_object() || !p["detail"].is_string()) {
    return Status(StatusCode::kUnavailable,
                  server + " answered HTTP " + std::to_string(r.status) + " without a problem document (is it bver up?)");
  }
  StatusCode code = CodeNamed(p.value("code", ""));
  if (code == StatusCode::kUnknown) {
    // Codes of the protocol itself (405, 415): the nearest meaning.
    code = r.status == 404 ? StatusCode::kNotFound : r.status >= 500 ? StatusCode::kUnavailable
                                                                     : StatusCode::kInvalidArgument;
  }
  std::vector<Violation> violations;
  if (p["errors"].is_array()) {
    for (const json& e : p["errors"]) violations.push_back({e.value("path", ""), e.value("rule", ""), e.value("message", "")});
  }
  return Status(code, p["detail"].get<std::string>(), std::move(violations));
}

class RemoteInvoker final : public Invoker {
 public:
  RemoteInvoker(net::ClientTarget target, std::string server, std::string key, std::chrono::milliseconds timeout,
                std::string corr)
      : Invoker(std::move(corr)),
        target_(std::move(target)),
        server_(std::move(server)),
        key_(std::move(key)),
        timeout_(timeout) {}

  Result<json> Call(const std::string& op, json input) override {
    BVER_ASSIGN_OR_RETURN(api::HttpResponse res, Send("POST", "/v1/ops/" + op, input.dump()));
    if (res.status < 200 || res.status > 299) return FromProblem(res, server_);
    json out = json::parse(res.body, nullptr, false);
    if (out.is_discarded()) return Status(StatusCode::kUnavailable, server_ + " answered a body that is not JSON");
    return out;
  }

  // The server's OpenAPI document: POST /v1/ops/{id} for every row.
  Result<std::vector<json>> Rows(bool with_schemas) override {
    BVER_ASSIGN_OR_RETURN(api::HttpResponse res, Send("GET", "/v1/openapi.json", ""));
    if (res.status != 200) return FromProblem(res, server_);
    json doc = json::parse(res.body, nullptr, false);
    if (!doc.is_object() || !doc["paths"].is_object()) {
      return Status(StatusCode::kUnavailable, server_ + "/v1/openapi.json is not an OpenAPI document");
    }
    std::vector<json> rows;
    const std::string prefix = "/v1/ops/";
    for (const auto& [path, item] : doc["paths"].items()) {
      if (path.rfind(prefix, 0) != 0 || !item.contains("post")) continue;
      const json& op = item["post"];
      json row = {{"id", path.substr(prefix.size())}, {"summary", op.value("summary", "")}};
      if (with_schemas) {
        if (op.contains("description")) row["description"] = op["description"];
        const json schema = op.contains("requestBody") ? op["requestBody"]["content"]["application/json"]["schema"] : json();
        if (!schema.is_null()) row["input_schema"] = schema;
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  std::string where() const override { return server_; }

 private:
  Result<api::HttpResponse> Send(const std::string& method, const std::string& path, const std::string& body) const {
    api::HttpRequest req;
    req.method = method;
    req.target = path;
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    if (!key_.empty()) req.headers.emplace_back("Authorization", "Bearer " + key_);
    if (!correlation_id_.empty() && method == "POST") req.headers.emplace_back("X-Correlation-ID", correlation_id_);
    req.body = body;
    return net::SendRequest(target_, req, timeout_);
  }

  net::ClientTarget target_;
  std::string server_, key_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

void AddCallFlags(CLI::App* cmd, CallOptions& o) {
  cmd->add_option("--server", o.server,
                  "Send the call to a running bver up at this URL (http://HOST:PORT; default $BVER_SERVER; "
                  "the API key in $BVER_API_KEY)");
  cmd->add_option("--correlation-id", o.correlation_id,
                  "Carry this id into the events, ledger entries and logs of the call (default: a new UUIDv7)");
  cmd->add_option("--timeout", o.timeout_seconds, "With --server: seconds to wait for the answer")->capture_default_str();
}

std::string ChosenServer(const CallOptions& o) {
  if (!o.server.empty()) return o.server;
  const char* env = std::getenv("BVER_SERVER");
  return env != nullptr ? env : "";
}

Result<std::unique_ptr<Invoker>> Invoker::Open(const CallOptions& o) {
  if (!o.correlation_id.empty()) {
    if (Status s = runtime::Broker::CheckCorrelationId(o.correlation_id); !s.ok()) return s.WithPrefix("--correlation-id");
  }
  std::string corr = o.correlation_id.empty() ? runtime::Broker::NewCorrelationId() : o.correlation_id;
  std::string server = ChosenServer(o);
  if (!server.empty()) {
    Result<net::ClientTarget> target = net::ParseServerUrl(server);
    if (!target.ok()) return target.status().WithPrefix("--server");
    // $BVER_API_KEY, else what `bver login` stored for this server.
    std::string key;
    if (const char* env = std::getenv("BVER_API_KEY"); env != nullptr && *env != '\0') {
      key = env;
    } else {
      BVER_ASSIGN_OR_RETURN(key, StoredKey(server));
    }
    return std::unique_ptr<Invoker>(new RemoteInvoker(*target, server, key,
                                                      std::chrono::milliseconds(static_cast<long long>(o.timeout_seconds * 1000)),
                                                      std::move(corr)));
  }
  RuntimeOptions ro;
  ro.job_threads = o.job_workers || o.orch_workers ? o.job_threads : 0;
  ro.worker_labels = o.worker_labels;
  ro.orch_threads = o.orch_workers ? o.orch_threads : 0;
  ro.job_lease_ms = o.job_lease_ms;
  runtime::Broker::Options bo;
  bo.expose_internal_errors = true;  // the caller is the operator
  BVER_ASSIGN_OR_RETURN(std::unique_ptr<Runtime> rt, OpenRuntime(o.store, std::move(bo), ro));
  return std::unique_ptr<Invoker>(new LocalInvoker(std::move(rt), std::move(corr)));
}

int PrintProblem(const Output& o, const Status& status, const std::string& correlation_id,
                 const std::vector<std::string>& suggestions) {
  if (o.json) {
    json problem = runtime::ProblemJson(status, correlation_id);
    problem["error"] = StatusToJson(status)["error"];
    o.Json(problem);
    return core::ExitCodeFor(status.code());
  }
  o.err << "error: " << runtime::ProblemTitle(status.code()) << " (" << StatusCodeName(status.code())
        << "): " << status.message() << "\n";
  for (const Violation& v : status.violations()) {
    o.err << "  " << (v.path.empty() ? std::string("(input)") : v.path) << ": " << v.message;
    if (!v.rule.empty()) o.err << " [" << v.rule << "]";
    o.err << "\n";
  }
  if (!suggestions.empty()) o.err << "did you mean: " << Joined(suggestions) << "?  (bver call --list)\n";
  if (!correlation_id.empty()) o.err << "correlation id: " << correlation_id << "\n";
  return core::ExitCodeFor(status.code());
}

Result<json> WaitUntilEnded(Invoker& invoker, const std::string& status_op, const std::string& id_field, json current,
                            double timeout_seconds, double max_wait) {
  auto ended = [](const json& j) {
    const std::string s = j.value("state", "");
    return s == "succeeded" || s == "failed" || s == "cancelled" || s == "timed_out";
  };
  const auto start = std::chrono::steady_clock::now();
  while (!ended(current)) {
    double wait = max_wait;
    if (timeout_seconds > 0) {
      const double left =
          timeout_seconds - std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (left <= 0) break;
      wait = std::min(wait, left);
    }
    // Whole seconds, as the status operations take them.
    const int seconds = static_cast<int>(std::max(1.0, std::ceil(wait)));
    BVER_ASSIGN_OR_RETURN(current, invoker.Call(status_op, {{id_field, current[id_field]}, {"wait", seconds}}));
  }
  return current;
}

int RunOperation(Context& ctx, const CallOptions& options, const std::string& op, json input,
                 const std::function<int(const Output&, const json&)>& text,
                 const std::function<int(const json&)>& exit_code) {
  Output o{ctx.out, ctx.err, options.store.json};
  Result<std::unique_ptr<Invoker>> inv = Invoker::Open(options);
  if (!inv.ok()) return PrintProblem(o, inv.status(), "");
  Result<json> out = (*inv)->Call(op, std::move(input));
  if (!out.ok()) return PrintProblem(o, out.status(), (*inv)->correlation_id());
  if (o.json) {
    o.Json(*out);
    return exit_code ? exit_code(*out) : 0;
  }
  return text(o, *out);
}

}  // namespace bver::cli
