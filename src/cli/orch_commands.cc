// bver orch start|status|cancel|list: orchestrator runs from the command
// line (docs/orchestrators.md).
//
// `bver orch start` records the run in the project's store; a server (`bver
// up`, whose orchestrator workers advance runs) runs its steps. With --wait
// the command runs the orchestrator and job workers itself until the run
// has ended, so it works with no server at all (they also advance other
// running runs meanwhile, as any engine on the store does).
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/invoke.h"

namespace bver::cli {
namespace {

using nlohmann::json;

struct OrchFlags {
  StoreFlags store;
  CallOptions call;  // --server, --correlation-id
  std::string name;
  std::string input = "{}";
  std::string run_id;
  CLI::Option* wait_option = nullptr;
  std::string wait;  // --wait [SECONDS]
  double status_wait = 0;
  std::string idempotency_key;
  int threads = 2;
  double lease_seconds = 0;
  std::string orchestrator;
  std::string state;
  std::string cursor;
  std::size_t limit = 100;
};

void AddCommon(CLI::App* cmd, OrchFlags& f) {
  cmd->add_option("-f,--file", f.store.file, "The domain definition")->capture_default_str();
  cmd->add_option("--store", f.store.store,
                  "Store URL: sqlite:PATH or postgresql://... (default: $BVER_STORE, bver.config.yaml, "
                  "sqlite:.bver/bver.db)");
  cmd->add_flag("--json", f.store.json, "Print JSON");
  cmd->add_option("--server", f.call.server, "Send the call to a running bver up (http://HOST:PORT; $BVER_SERVER)");
  cmd->add_option("--correlation-id", f.call.correlation_id, "Carry this id into the run's events and ledger entries");
}

void PrintRun(const Output& o, const json& r) {
  if (o.json) {
    o.Json(r);
    return;
  }
  o.out << "run " << r.value("run_id", "") << " (" << r.value("orchestrator", "") << "): " << r.value("state", "")
        << "\n";
  for (const json& s : r.value("steps", json::array())) {
    o.out << "  " << s.value("id", "") << "  " << s.value("state", "") << "  " << s.value("op", "");
    if (s.value("attempts", 0) > 1) o.out << "  (" << s.value("attempts", 0) << " calls)";
    for (const json& j : s.value("job_ids", json::array())) o.out << "  job " << j.get<std::string>();
    if (s.contains("reason")) o.out << "  (" << s["reason"].get<std::string>() << ")";
    o.out << "\n";
  }
  if (r.contains("error")) {
    o.out << "error: " << r["error"].value("code", "") << ": " << r["error"].value("message", "") << "\n";
  }
}

// 0: succeeded (or running, not waited for); 1: failed or cancelled.
int RunExit(const json& r) {
  std::string s = r.value("state", "");
  return s == "failed" || s == "cancelled" ? 1 : 0;
}

Result<json> ReadInput(const std::string& text) {
  std::string body = text;
  if (!text.empty() && text[0] == '@') {
    std::ifstream in(text.substr(1));
    if (!in) {
      return NotFoundError("cannot read --input file " + text.substr(1));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    body = ss.str();
  }
  json input = json::parse(body, nullptr, false);
  if (input.is_discarded() || !input.is_object()) {
    return InvalidArgumentError("--input must be a JSON object (or @FILE holding one)",
                                {{"--input", "json", "expected {...}"}});
  }
  return input;
}

// How a command calls: with `engine`, in-process job workers and one
// orchestrator worker advance runs (start --wait, resume); without, none (the
// command reads or records only). --server sends the calls to a bver up.
CallOptions Options(const OrchFlags& f, bool engine) {
  CallOptions o = f.call;
  o.store = f.store;
  o.orch_workers = engine;
  o.orch_threads = engine ? 1 : 0;
  o.job_threads = f.threads;
  o.job_lease_ms = static_cast<std::int64_t>(f.lease_seconds * 1000);
  return o;
}

// The longest wait one orch.runs.get call accepts (its input schema's maximum).
constexpr double kMaxWaitPerCall = 60;

// The broker's "no operation orch.X.start" as the user meant it.
Status OrchProblem(const Status& s, const std::string& name) {
  if (s.code() == StatusCode::kNotFound && s.message().rfind("no operation", 0) == 0) {
    return NotFoundError("no orchestrator \"" + name + "\" in bver.yaml (see `bver plan`)");
  }
  return s;
}

int Start(Context& ctx, const OrchFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<json> input = ReadInput(f.input);
  if (!input.ok()) return PrintProblem(o, input.status(), "");
  bool wait = f.wait_option != nullptr && f.wait_option->count() > 0;
  double wait_seconds = 0;  // no limit
  if (wait && !f.wait.empty()) {
    char* end = nullptr;
    wait_seconds = std::strtod(f.wait.c_str(), &end);
    if (*end != '\0' || wait_seconds <= 0) {
      return PrintProblem(o, InvalidArgumentError("--wait takes a number of seconds > 0", {{"--wait", "number", f.wait}}), "");
    }
  }
  Result<std::unique_ptr<Invoker>> inv = Invoker::Open(Options(f, wait));
  if (!inv.ok()) return PrintProblem(o, inv.status(), "");
  json in = {{"input", std::move(*input)}};
  if (!f.idempotency_key.empty()) in["idempotency_key"] = f.idempotency_key;
  Result<json> run = (*inv)->Call("orch." + f.name + ".start", std::move(in));
  if (!run.ok()) return PrintProblem(o, OrchProblem(run.status(), f.name), (*inv)->correlation_id());
  if (wait) {
    run = WaitUntilEnded(**inv, "orch.runs.get", "run_id", *run, wait_seconds, kMaxWaitPerCall);
    if (!run.ok()) return PrintProblem(o, run.status(), (*inv)->correlation_id());
  }
  PrintRun(o, *run);
  if (wait && run->value("state", "") == "running") {
    ctx.err << "run " << (*run)["run_id"].get<std::string>() << " is still running after " << f.wait
            << " s; it goes on when a server or another --wait runs the engine\n";
    return 1;
  }
  return RunExit(*run);
}

// Status, and resume: the run by id, waited for (resume runs the engine in
// the process meanwhile: how a run left by a dead `--wait` goes on without a
// server).
int Get(Context& ctx, const OrchFlags& f, bool engine) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<std::unique_ptr<Invoker>> inv = Invoker::Open(Options(f, engine));
  if (!inv.ok()) return PrintProblem(o, inv.status(), "");
  Result<json> r = (*inv)->Call("orch.runs.get", {{"run_id", f.run_id}});
  if (r.ok() && (engine || f.status_wait > 0)) {
    r = WaitUntilEnded(**inv, "orch.runs.get", "run_id", *r, f.status_wait, kMaxWaitPerCall);
  }
  if (!r.ok()) return PrintProblem(o, r.status(), (*inv)->correlation_id());
  PrintRun(o, *r);
  if (engine && r->value("state", "") == "running") {
    ctx.err << "run " << f.run_id << " is still running after " << f.status_wait << " s\n";
    return 1;
  }
  return RunExit(*r);
}

int Cancel(Context& ctx, const OrchFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<std::unique_ptr<Invoker>> inv = Invoker::Open(Options(f, false));
  if (!inv.ok()) return PrintProblem(o, inv.status(), "");
  Result<json> r = (*inv)->Call("orch.runs.cancel", {{"run_id", f.run_id}});
  if (!r.ok()) return PrintProblem(o, r.status(), (*inv)->correlation_id());
  PrintRun(o, *r);
  return 0;
}

int List(Context& ctx, const OrchFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<std::unique_ptr<Invoker>> inv = Invoker::Open(Options(f, false));
  if (!inv.ok()) return PrintProblem(o, inv.status(), "");
  json in = {{"limit", f.limit}};
  if (!f.orchestrator.empty()) in["orchestrator"] = f.orchestrator;
  if (!f.state.empty()) in["state"] = f.state;
  if (!f.cursor.empty()) in["cursor"] = f.cursor;
  Result<json> runs = (*inv)->Call("orch.runs.list", std::move(in));
  if (!runs.ok()) return PrintProblem(o, runs.status(), (*inv)->correlation_id());
  if (o.json) {
    o.Json(*runs);
    return 0;
  }
  for (const json& r : (*runs)["runs"]) {
    o.out << r.value("run_id", "") << "  " << r.value("state", "") << "  " << r.value("orchestrator", "") << "  "
          << r.value("created_at", "") << "\n";
  }
  if (!(*runs)["next_cursor"].is_null()) o.out << "more: --after " << (*runs)["next_cursor"].get<std::string>() << "\n";
  return 0;
}

}  // namespace

void RegisterOrchCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  auto f = std::make_shared<OrchFlags>();
  CLI::App* orch = app.add_subcommand("orch", "Start, inspect and cancel orchestrator runs (docs/orchestrators.md)");
  orch->require_subcommand(1);

  CLI::App* start = orch->add_subcommand("start", "Start a run of an orchestrator of bver.yaml");
  start->add_option("name", f->name, "The orchestrator's name in bver.yaml")->required();
  start->add_option("--input", f->input, "The orchestrator's input: a JSON object, or @FILE")->capture_default_str();
  f->wait_option = start->add_option("--wait", f->wait,
                                     "Run the engine in-process until the run has ended (or SECONDS have passed)")
                       ->expected(0, 1);
  start->add_option("--idempotency-key", f->idempotency_key,
                    "A second start with the same key answers the first run");
  start->add_option("--threads", f->threads, "With --wait: in-process job worker threads")->capture_default_str();
  start->add_option("--lease-seconds", f->lease_seconds,
                    "With --wait: lease of a running job (default 15); after a crash it runs again once it lapses");
  AddCommon(start, *f);
  start->callback([&ctx, f] { ctx.action = [&ctx, f] { return Start(ctx, *f); }; });

  CLI::App* status = orch->add_subcommand("status", "Show a run: its state and each step's");
  status->add_option("run_id", f->run_id, "The run id")->required();
  status->add_option("--wait", f->status_wait, "Wait up to this many seconds for the run to end");
  AddCommon(status, *f);
  status->callback([&ctx, f] { ctx.action = [&ctx, f] { return Get(ctx, *f, false); }; });

  CLI::App* resume = orch->add_subcommand(
      "resume", "Run the engine in-process until a run has ended (a run left by a dead process goes on)");
  resume->add_option("run_id", f->run_id, "The run id")->required();
  resume->add_option("--wait", f->status_wait, "Give up after this many seconds (default: no limit)");
  resume->add_option("--threads", f->threads, "In-process job worker threads")->capture_default_str();
  resume->add_option("--lease-seconds", f->lease_seconds, "Lease of a running job (default 15)");
  AddCommon(resume, *f);
  resume->callback([&ctx, f] { ctx.action = [&ctx, f] { return Get(ctx, *f, true); }; });

  CLI::App* cancel = orch->add_subcommand("cancel", "Cancel a run: no further step starts, its jobs are cancelled");
  cancel->add_option("run_id", f->run_id, "The run id")->required();
  AddCommon(cancel, *f);
  cancel->callback([&ctx, f] { ctx.action = [&ctx, f] { return Cancel(ctx, *f); }; });

  CLI::App* list = orch->add_subcommand("list", "List runs in start order");
  list->add_option("--orchestrator", f->orchestrator, "Only runs of this orchestrator");
  list->add_option("--state", f->state, "Only runs in this state")
      ->check(CLI::IsMember({"running", "succeeded", "failed", "cancelled"}));
  list->add_option("--after", f->cursor, "Only runs started after this run (the `more:` line of a page)");
  list->add_option("--limit", f->limit, "At most this many")->capture_default_str();
  AddCommon(list, *f);
  list->callback([&ctx, f] { ctx.action = [&ctx, f] { return List(ctx, *f); }; });
}

}  // namespace bver::cli
