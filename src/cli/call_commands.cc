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
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/invoke.h"
#include "src/cli/output.h"

namespace bver::cli {
namespace {

using nlohmann::json;

struct CallFlags {
  CallOptions call;
  std::string operation;
  std::string input;
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

std::string Joined(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ",") + x;
  return s;
}

// The rows whose id is nearest `id` (at most three).
std::vector<std::string> Nearest(const std::vector<json>& rows, const std::string& id) {
  std::vector<std::pair<std::size_t, std::string>> scored;
  for (const json& row : rows) scored.emplace_back(Distance(id, row["id"].get<std::string>()), row["id"]);
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  for (const auto& [d, name] : scored) {
    if (out.size() == 3 || d > std::max<std::size_t>(3, id.size() / 3)) break;
    out.push_back(name);
  }
  return out;
}

int List(const Output& o, const std::vector<json>& rows, const std::string& where) {
  if (o.json) {
    o.Json({{"operations", rows}});
    return 0;
  }
  std::size_t width = 0;
  for (const json& row : rows) width = std::max(width, row["id"].get<std::string>().size());
  for (const json& row : rows) {
    const std::string id = row["id"];
    o.out << id << std::string(width + 2 - id.size(), ' ') << row.value("summary", "");
    if (row.contains("http")) o.out << "  [" << row["http"].get<std::string>() << "]";
    o.out << "\n";
  }
  o.out << rows.size() << " operations of " << where << "; bver call OP --describe for one\n";
  return 0;
}

int Describe(const Output& o, const json& row) {
  if (o.json) {
    o.Json(row);
    return 0;
  }
  const std::string id = row["id"];
  o.out << id << ": " << row.value("summary", "") << "\n";
  const std::string description = row.value("description", "");
  if (!description.empty() && description != row.value("summary", "")) o.out << "\n" << description << "\n";
  if (row.contains("scopes")) {
    o.out << "\nscopes: " << Joined(row["scopes"].get<std::vector<std::string>>())
          << (row.value("read_only", false) ? "  (read only)" : "") << (row.value("destructive", false) ? "  (destructive)" : "")
          << "\n";
  }
  if (row.contains("http")) o.out << "REST:   " << row["http"].get<std::string>() << "\n";
  o.out << "REST:   POST /v1/ops/" << id << " (any operation, its input as the body)\n";
  o.out << "MCP:    tool " << id << "\n";
  if (row.contains("input_schema")) o.out << "\ninput (JSON Schema):\n" << row["input_schema"].dump(2) << "\n";
  return 0;
}

int Call(Context& ctx, const CallFlags& f) {
  Output o{ctx.out, ctx.err, f.call.store.json};
  if (!f.list && f.operation.empty()) {
    return PrintProblem(o, InvalidArgumentError("name an operation (bver call OP), or --list them"), "");
  }
  Result<json> input = ReadInput(f.input);
  if (!input.ok()) return PrintProblem(o, input.status(), "");
  // Workers only where the operation may wait on them: a job waits on job
  // workers, a run on the orchestrator's (which run its jobs too).
  CallOptions options = f.call;
  options.job_workers = f.operation.rfind("jobs.", 0) == 0;
  options.orch_workers = f.operation.rfind("orch.", 0) == 0;
  Result<std::unique_ptr<Invoker>> inv = Invoker::Open(options);
  if (!inv.ok()) return PrintProblem(o, inv.status(), "");
  if (f.list || f.describe) {
    Result<std::vector<json>> rows = (*inv)->Rows(f.describe);
    if (!rows.ok()) return PrintProblem(o, rows.status(), "");
    if (f.list) return List(o, *rows, (*inv)->where());
    for (const json& row : *rows) {
      if (row["id"] == f.operation) return Describe(o, row);
    }
    return PrintProblem(o, NotFoundError("no operation " + f.operation + " in " + (*inv)->where()), "",
                        Nearest(*rows, f.operation));
  }
  Result<json> out = (*inv)->Call(f.operation, std::move(*input));
  if (!out.ok()) {
    std::vector<std::string> near;
    if (out.status().code() == StatusCode::kNotFound && out.status().message().rfind("no operation", 0) == 0) {
      if (Result<std::vector<json>> rows = (*inv)->Rows(false); rows.ok()) near = Nearest(*rows, f.operation);
    }
    return PrintProblem(o, out.status(), (*inv)->correlation_id(), near);
  }
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
  AddCallFlags(cmd, f->call);
  cmd->add_flag("-l,--list", f->list, "List the operations");
  cmd->add_flag("--describe", f->describe, "Show the operation: summary, scopes, REST binding, input schema");
  cmd->add_option("-f,--file", f->call.store.file, "The domain definition")->capture_default_str();
  cmd->add_option("--store", f->call.store.store,
                  "Store URL: sqlite:PATH or postgresql://... (default: $BVER_STORE, bver.config.yaml, "
                  "sqlite:.bver/bver.db)");
  cmd->add_flag("--json", f->call.store.json, "Print the output (or the problem) as one line of JSON");
  cmd->callback([&ctx, f] { ctx.action = [&ctx, f] { return Call(ctx, *f); }; });
}

}  // namespace bver::cli
