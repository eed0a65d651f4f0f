// bver call OP: any operation of the registry from the command line, the
// same row REST and MCP serve (docs/cli.md). The call goes through the
// broker like theirs: one correlation id, the input validated by the row's
// schema, the answer or an RFC 9457 problem (rendered for a terminal, or as
// JSON with --json), and the exit codes of src/core/status_map.h.
//
//   bver call --list                         every operation, its binding and scopes
//   bver call refs.site.get --describe       summary, scopes, input schema
//   bver call refs.site.create --input '{"id":"s1","body":{...}}'
//   bver call jobs.powerflow.start --input @request.json
//
// It runs in-process as the local operator (admin), on the project's store;
// with --server URL (or $BVER_SERVER) it sends the same call to a running
// `bver up` instead (POST /v1/ops/OP, the key in $BVER_API_KEY as a bearer
// token), and answers the same way.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/auth/principal.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/runtime.h"
#include "src/core/status_map.h"
#include "src/net/client.h"
#include "src/runtime/problem.h"

namespace bver::cli {
namespace {

using nlohmann::json;

struct CallFlags {
  StoreFlags store;
  std::string operation;
  std::string input;
  std::string correlation_id;
  std::string server;
  double timeout_seconds = 600;
  bool list = false;
  bool describe = false;
};

// --input: JSON text, @FILE, or - (standard input).
Result<json> ReadInput(const std::string& text) {
  if (text.empty()) return json::object();
  std::string raw = text;
  std::string where = "--input";
  if (text == "-") {
    raw.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    where = "--input - (standard input)";
  } else if (text[0] == '@') {
    std::ifstream in(text.substr(1), std::ios::binary);
    if (!in) return NotFoundError("--input " + text + ": cannot read " + text.substr(1));
    raw.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    where = "--input " + text;
  }
  json input = json::parse(raw, nullptr, false);
  if (input.is_discarded() || !input.is_object()) {
    return InvalidArgumentError(where + " must be a JSON object (the operation's input; see bver call OP --describe)",
                                {{"input", "json", "expected {...}"}});
  }
  return input;
}

std::size_t Distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The operations whose id is nearest `id` (at most three).
std::vector<std::string> Nearest(const runtime::OperationTable& table, const std::string& id) {
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const runtime::OperationRow& row : table.rows()) scored.emplace_back(Distance(id, row.id), row.id);
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (const auto& [d, name] : scored) {
    if (out.size() == 3 || d > std::max<std::size_t>(3, id.size() / 3)) break;
    out.push_back(name);
  }
  return out;
}

std::string Binding(const runtime::OperationRow& row) {
  if (row.http.method.empty()) return "";
  return row.http.method + " " + row.http.path;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

int List(const Output& o, const runtime::OperationTable& table) {
  if (o.json) {
    json rows = json::array();
    for (const runtime::OperationRow& row : table.rows()) {
      rows.push_back({{"id", row.id}, {"summary", row.summary}, {"http", Binding(row)}, {"scopes", row.scopes},
                      {"read_only", row.read_only}});
    }
    o.Json({{"operations", rows}});
    return 0;
  }
  std::size_t width = 0;
  for (const runtime::OperationRow& row : table.rows()) width = std::max(width, row.id.size());
  for (const runtime::OperationRow& row : table.rows()) {
    o.out << row.id << std::string(width + 2 - row.id.size(), ' ') << row.summary;
    const std::string http = Binding(row);
    if (!http.empty()) o.out << "  [" << http << "]";
    o.out << "\n";
  }
  o.out << table.rows().size() << " operations; bver call OP --describe for one\n";
  return 0;
}

int Describe(const Output& o, const runtime::OperationRow& row) {
  json d = {{"id", row.id},           {"summary", row.summary}, {"description", row.description},
            {"scopes", row.scopes},   {"http", Binding(row)},   {"read_only", row.read_only},
            {"destructive", row.destructive}, {"idempotent", row.idempotent}};
  if (row.input_schema) d["input_schema"] = *row.input_schema;
  if (row.output_schema) d["output_schema"] = *row.output_schema;
  if (o.json) {
    o.Json(d);
    return 0;
  }
  o.out << row.id << ": " << row.summary << "\n";
  if (!row.description.empty() && row.description != row.summary) o.out << "\n" << row.description << "\n";
  o.out << "\nscopes: " << Joined(row.scopes) << (row.read_only ? "  (read only)" : "")
        << (row.destructive ? "  (destructive)" : "") << "\n";
  if (!Binding(row).empty()) o.out << "REST:   " << Binding(row) << "\n";
  o.out << "MCP:    tool " << row.id << "\n";
  if (row.input_schema) o.out << "\ninput (JSON Schema):\n" << row.input_schema->dump(2) << "\n";
  return 0;
}

// A problem for a terminal: "error: Not found (not_found): detail", the
// violations one per line, the correlation id last.
int Problem(const Output& o, const Status& status, const std::string& correlation_id,
            const std::vector<std::string>& suggestions = {}) {
  if (o.json) {
    o.Json(runtime::ProblemJson(status, correlation_id));
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
    for (const json& e : p["errors"]) {
      violations.push_back({e.value("path", ""), e.value("rule", ""), e.value("message", "")});
    }
  }
  return Status(code, p["detail"].get<std::string>(), std::move(violations));
}

struct Remote {
  net::ClientTarget target;
  std::string server;
  std::string key;
  std::chrono::milliseconds timeout;

  Result<api::HttpResponse> Send(const std::string& method, const std::string& path, const std::string& body,
                                 const std::string& correlation_id) const {
    api::HttpRequest req;
    req.method = method;
    req.target = path;
    if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
    if (!key.empty()) req.headers.emplace_back("Authorization", "Bearer " + key);
    if (!correlation_id.empty()) req.headers.emplace_back("X-Correlation-ID", correlation_id);
    req.body = body;
    return net::SendRequest(target, req, timeout);
  }
};

// The operations a server serves: its OpenAPI document's POST /v1/ops/{id}.
Result<std::vector<json>> RemoteRows(const Remote& r) {
  BVER_ASSIGN_OR_RETURN(api::HttpResponse res, r.Send("GET", "/v1/openapi.json", "", ""));
  if (res.status != 200) return FromProblem(res, r.server);
  json doc = json::parse(res.body, nullptr, false);
  if (!doc.is_object() || !doc["paths"].is_object()) {
    return Status(StatusCode::kUnavailable, r.server + "/v1/openapi.json is not an OpenAPI document");
  }
  std::vector<json> rows;
  const std::string prefix = "/v1/ops/";
  for (const auto& [path, item] : doc["paths"].items()) {
    if (path.rfind(prefix, 0) != 0 || !item.contains("post")) continue;
    const json& op = item["post"];
    json row = {{"id", path.substr(prefix.size())}, {"summary", op.value("summary", "")}};
    if (op.contains("description")) row["description"] = op["description"];
    const json* schema = op.contains("requestBody") ? &op["requestBody"]["content"]["application/json"]["schema"] : nullptr;
    if (schema != nullptr && !schema->is_null()) row["input_schema"] = *schema;
    rows.push_back(std::move(row));
  }
  return rows;
}

int CallRemote(const Output& o, const CallFlags& f, const std::string& server, const json& input) {
  Result<net::ClientTarget> target = net::ParseServerUrl(server);
  if (!target.ok()) return Problem(o, target.status().WithPrefix("--server"), "");
  const char* key = std::getenv("BVER_API_KEY");
  Remote r{*target, server, key == nullptr ? "" : key,
           std::chrono::milliseconds(static_cast<long long>(f.timeout_seconds * 1000))};
  if (f.list || f.describe) {
    Result<std::vector<json>> rows = RemoteRows(r);
    if (!rows.ok()) return Problem(o, rows.status(), "");
    if (f.list) {
      if (o.json) {
        o.Json({{"operations", *rows}});
        return 0;
      }
      for (const json& row : *rows) o.out << row["id"].get<std::string>() << "  " << row.value("summary", "") << "\n";
      o.out << rows->size() << " operations at " << server << "\n";
      return 0;
    }
    for (const json& row : *rows) {
      if (row["id"] != f.operation) continue;
      if (o.json) {
        o.Json(row);
      } else {
        o.out << f.operation << ": " << row.value("summary", "") << "\n";
        if (row.contains("input_schema")) o.out << "\ninput (JSON Schema):\n" << row["input_schema"].dump(2) << "\n";
      }
      return 0;
    }
    return Problem(o, NotFoundError("no operation " + f.operation + " at " + server), "");
  }
  const std::string corr = f.correlation_id.empty() ? runtime::Broker::NewCorrelationId() : f.correlation_id;
  Result<api::HttpResponse> res = r.Send("POST", "/v1/ops/" + f.operation, input.dump(), corr);
  if (!res.ok()) return Problem(o, res.status(), corr);
  if (res->status < 200 || res->status > 299) return Problem(o, FromProblem(*res, server), corr);
  json out = json::parse(res->body, nullptr, false);
  if (out.is_discarded()) return Problem(o, Status(StatusCode::kUnavailable, server + " answered a body that is not JSON"), corr);
  if (o.json) {
    o.Json(out);
  } else {
    o.out << out.dump(2) << "\n";
  }
  return 0;
}

int Call(Context& ctx, const CallFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  if (!f.list && f.operation.empty()) {
    return o.Fail(InvalidArgumentError("name an operation (bver call OP), or --list them"));
  }
  Result<json> input = ReadInput(f.input);
  if (!input.ok()) return Problem(o, input.status(), "");
  if (!f.correlation_id.empty()) {
    if (Status s = runtime::Broker::CheckCorrelationId(f.correlation_id); !s.ok()) {
      return Problem(o, s.WithPrefix("--correlation-id"), "");
    }
  }
  std::string server = f.server;
  if (const char* env = std::getenv("BVER_SERVER"); server.empty() && env != nullptr) server = env;
  if (!server.empty()) return CallRemote(o, f, server, *input);
  // Workers only where the operation may wait on them: a job waits on job
  // workers, a run on the orchestrator's (which run its jobs too).
  const bool job = f.operation.rfind("jobs.", 0) == 0;
  const bool orch = f.operation.rfind("orch.", 0) == 0;
  RuntimeOptions ro;
  ro.job_threads = job || orch ? -1 : 0;
  ro.orch_threads = orch ? 2 : 0;
  runtime::Broker::Options bo;
  bo.expose_internal_errors = true;  // the caller is the operator
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(f.store, bo, ro);
  if (!rt.ok()) return o.Fail(rt.status());
  const runtime::OperationTable& table = (*rt)->broker->table();
  if (f.list) return List(o, table);
  const runtime::OperationRow* row = table.Find(f.operation);
  if (row == nullptr) {
    return Problem(o, NotFoundError("no operation " + f.operation + " in platform " + (*rt)->platform->id), "",
                   Nearest(table, f.operation));
  }
  if (f.describe) return Describe(o, *row);

  runtime::Call call;
  call.operation = f.operation;
  call.input = std::make_shared<const json>(std::move(*input));
  call.principal = auth::Principal::Local("cli");
  call.correlation_id = f.correlation_id.empty() ? runtime::Broker::NewCorrelationId() : f.correlation_id;
  call.transport = "cli";
  Result<json> out = (*rt)->broker->Invoke(call);
  if (!out.ok()) return Problem(o, out.status(), call.correlation_id);
  if (o.json) {
    o.Json(*out);
  } else {
    o.out << out->dump(2) << "\n";
  }
  return 0;
}

}  // namespace

void RegisterCallCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  auto f = std::make_shared<CallFlags>();
  CLI::App* cmd = app.add_subcommand(
      "call", "Run any operation (the rows REST and MCP serve) in-process as the local operator");
  cmd->footer(
      "\nExamples:\n"
      "  bver call --list\n"
      "  bver call refs.site.get --describe\n"
      "  bver call refs.site.get --input '{\"id\":\"s1\"}'\n"
      "  bver call jobs.powerflow.start --input @request.json --json\n"
      "  bver call --server http://127.0.0.1:8080 refs.site.list\n"
      "\nExit codes: 0 ok, 1 the operation refused (not found, invalid, conflict...), 2 usage,\n"
      "3 the environment failed. Errors are RFC 9457 problems (--json prints the problem).");
  cmd->add_option("operation", f->operation, "The operation id (refs.site.create, jobs.import.start, ...)");
  cmd->add_option("-i,--input", f->input, "The input: a JSON object, @FILE, or - for standard input (default {})");
  cmd->add_option("--correlation-id", f->correlation_id,
                  "Carry this id into the events, ledger entries and logs of the call (default: a new UUIDv7)");
  cmd->add_option("--server", f->server,
                  "Send the call to a running bver up at this URL (http://HOST:PORT; default $BVER_SERVER; "
                  "the API key in $BVER_API_KEY)");
  cmd->add_option("--timeout", f->timeout_seconds, "With --server: seconds to wait for the answer")
      ->capture_default_str();
  cmd->add_flag("-l,--list", f->list, "List the operations");
  cmd->add_flag("--describe", f->describe, "Show the operation: summary, scopes, REST binding, input schema");
  cmd->add_option("-f,--file", f->store.file, "The domain definition")->capture_default_str();
  cmd->add_option("--store", f->store.store,
                  "Store URL: sqlite:PATH or postgresql://... (default: $BVER_STORE, bver.config.yaml, "
                  "sqlite:.bver/bver.db)");
  cmd->add_flag("--json", f->store.json, "Print the output (or the problem) as one line of JSON");
  cmd->callback([&ctx, f] { ctx.action = [&ctx, f] { return Call(ctx, *f); }; });
}

}  // namespace bver::cli
