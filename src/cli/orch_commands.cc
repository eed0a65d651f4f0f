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
#include "src/cli/runtime.h"
#include "src/core/status_map.h"
#include "src/core/uuid.h"
#include "src/orch/engine.h"

namespace bver::cli {
namespace {

using nlohmann::json;

struct OrchFlags {
  StoreFlags store;
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

// The runtime a command needs: with `engine`, in-process job workers and one
// orchestrator worker that advance runs (start --wait, resume); without,
// none (the command reads or records only).
Result<std::unique_ptr<Runtime>> OpenFor(const OrchFlags& f, bool engine) {
  RuntimeOptions ro;
  ro.job_threads = engine ? f.threads : 0;
  ro.orch_threads = engine ? 1 : 0;
  ro.job_lease_ms = static_cast<std::int64_t>(f.lease_seconds * 1000);
  return OpenRuntime(f.store, {}, ro);
}

int Start(Context& ctx, const OrchFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<json> input = ReadInput(f.input);
  if (!input.ok()) return o.Fail(input.status());
  bool wait = f.wait_option != nullptr && f.wait_option->count() > 0;
  double wait_seconds = 1e9;
  if (wait && !f.wait.empty()) {
    char* end = nullptr;
    wait_seconds = std::strtod(f.wait.c_str(), &end);
    if (*end != '\0' || wait_seconds <= 0) {
      return o.Fail(InvalidArgumentError("--wait takes a number of seconds > 0", {{"--wait", "number", f.wait}}));
    }
  }
  Result<std::unique_ptr<Runtime>> rt = OpenFor(f, wait);
  if (!rt.ok()) return o.Fail(rt.status());
  runtime::OrchStartRequest r;
  r.orchestrator = f.name;
  r.input = std::make_shared<const json>(std::move(input).value());
  if (!f.idempotency_key.empty()) r.idempotency_key = "cli " + f.idempotency_key;
  r.actor = "cli";
  r.correlation_id = core::NewUuidV7();
  Result<json> started = (*rt)->orchestrators->StartRun(r);
  if (!started.ok()) return o.Fail(started.status());
  json run = *started;
  if (wait && run.value("state", "") == "running") {
    Result<json> ended = (*rt)->orchestrators->GetRun("", run["run_id"], wait_seconds);
    if (!ended.ok()) return o.Fail(ended.status());
    run = *ended;
  }
  PrintRun(o, run);
  if (wait && run.value("state", "") == "running") {
    ctx.err << "run " << run["run_id"].get<std::string>() << " is still running after " << f.wait
            << " s; it goes on when a server or another --wait runs the engine\n";
    return 1;
  }
  return RunExit(run);
}

int Status(Context& ctx, const OrchFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<std::unique_ptr<Runtime>> rt = OpenFor(f, false);
  if (!rt.ok()) return o.Fail(rt.status());
  Result<json> r = (*rt)->orchestrators->GetRun("", f.run_id, f.status_wait);
  if (!r.ok()) return o.Fail(r.status());
  PrintRun(o, *r);
  return RunExit(*r);
}

// Runs the engine in-process until run `run_id` has ended: how a run left
// by a dead `--wait` goes on without a server.
int Resume(Context& ctx, const OrchFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<std::unique_ptr<Runtime>> rt = OpenFor(f, true);
  if (!rt.ok()) return o.Fail(rt.status());
  Result<json> r = (*rt)->orchestrators->GetRun("", f.run_id, f.status_wait > 0 ? f.status_wait : 1e9);
  if (!r.ok()) return o.Fail(r.status());
  PrintRun(o, *r);
  if ((*r).value("state", "") == "running") {
    ctx.err << "run " << f.run_id << " is still running after " << f.status_wait << " s\n";
    return 1;
  }
  return RunExit(*r);
}

int Cancel(Context& ctx, const OrchFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<std::unique_ptr<Runtime>> rt = OpenFor(f, false);
  if (!rt.ok()) return o.Fail(rt.status());
  Result<json> r = (*rt)->orchestrators->CancelRun("", f.run_id, "cli", core::NewUuidV7());
  if (!r.ok()) return o.Fail(r.status());
  PrintRun(o, *r);
  return 0;
}

int List(Context& ctx, const OrchFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<std::unique_ptr<Runtime>> rt = OpenFor(f, false);
  if (!rt.ok()) return o.Fail(rt.status());
  Result<json> runs = (*rt)->orchestrators->ListRuns(f.orchestrator, f.state, f.cursor, f.limit);
  if (!runs.ok()) return o.Fail(runs.status());
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
  status->callback([&ctx, f] { ctx.action = [&ctx, f] { return Status(ctx, *f); }; });

  CLI::App* resume = orch->add_subcommand(
      "resume", "Run the engine in-process until a run has ended (a run left by a dead process goes on)");
  resume->add_option("run_id", f->run_id, "The run id")->required();
  resume->add_option("--wait", f->status_wait, "Give up after this many seconds (default: no limit)");
  resume->add_option("--threads", f->threads, "In-process job worker threads")->capture_default_str();
  resume->add_option("--lease-seconds", f->lease_seconds, "Lease of a running job (default 15)");
  AddCommon(resume, *f);
  resume->callback([&ctx, f] { ctx.action = [&ctx, f] { return Resume(ctx, *f); }; });

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
