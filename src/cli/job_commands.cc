// bver job start|status|cancel|list, and bver worker: the job engine from
// the command line (docs/jobs.md).
//
// `bver job start` queues the job in the project's store; a server (`bver
// up`, whose in-process workers run jobs) or `bver worker` processes run
// it. With --wait the command runs workers itself until the job has ended,
// so it works with no server at all (they may take other queued jobs too;
// each gets the engine's stop grace period when the command exits).
#include <csignal>
#include <iostream>
#include <pthread.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/invoke.h"
#include "src/cli/output.h"
#include "src/cli/runtime.h"

namespace bver::cli {
namespace {

using nlohmann::json;

struct JobFlags {
  StoreFlags store;
  CallOptions call;  // --server, --correlation-id (start, status, cancel)
  std::string job;
  std::string input = "{}";
  std::string handle;
  bool wait = false;
  double wait_seconds = 0;
  bool no_cache = false;
  int threads = 2;
  std::string state;
  std::size_t limit = 100;
  std::string labels;
  double lease_seconds = 0;
};

void AddCommon(CLI::App* cmd, JobFlags& f) {
  cmd->add_option("-f,--file", f.store.file, "The domain definition")->capture_default_str();
  cmd->add_option("--store", f.store.store,
                  "Store URL: sqlite:PATH or postgresql://... (default: $BVER_STORE, bver.config.yaml, "
                  "sqlite:.bver/bver.db)");
  cmd->add_flag("--json", f.store.json, "Print JSON");
}

void PrintJob(const Output& o, const json& j) {
  if (o.json) {
    o.Json(j);
    return;
  }
  o.out << "job " << j.value("job_id", "") << " (" << j.value("job", "") << ", " << j.value("capability", "")
        << "): " << j.value("state", "");
  if (j.value("cache_hit", false)) o.out << " (cache hit)";
  o.out << "\n";
  if (j.contains("result")) o.out << "result: " << j["result"].dump() << "\n";
  if (j.contains("error")) {
    o.out << "error: " << j["error"].value("code", "") << ": " << j["error"].value("message", "") << "\n";
  }
}

bool Ended(const json& j) {
  std::string s = j.value("state", "");
  return s == "succeeded" || s == "failed" || s == "cancelled" || s == "timed_out";
}

// 0 when the job succeeded (or has not ended and was not waited for); 1
// when it ended otherwise.
int JobExit(const json& j) { return Ended(j) && j.value("state", "") != "succeeded" ? 1 : 0; }

// The longest wait one jobs.status call accepts (its input schema's maximum).
constexpr double kMaxWaitPerCall = 60;

// The call options of a job command: its store flags, --server.
CallOptions Options(const JobFlags& f) {
  CallOptions o = f.call;
  o.store = f.store;
  return o;
}

// The broker's "no operation jobs.X.start" as the user meant it.
Status JobProblem(const Status& s, const std::string& job) {
  if (s.code() == StatusCode::kNotFound && s.message().rfind("no operation", 0) == 0) {
    return NotFoundError("no job \"" + job + "\" in bver.yaml (`bver plan` lists the jobs; a job names its capability)");
  }
  return s;
}

// bver job start: jobs.<job>.start, then (--wait) jobs.status until it has
// ended -- in-process workers run it, or the server's.
int Start(Context& ctx, const JobFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  json input = json::parse(f.input, nullptr, false);
  if (input.is_discarded() || !input.is_object()) {
    return PrintProblem(o, InvalidArgumentError("--input must be a JSON object", {{"--input", "json", "expected {...}"}}), "");
  }
  CallOptions co = Options(f);
  co.job_workers = f.wait;
  co.job_threads = f.threads;
  co.worker_labels = f.labels;
  Result<std::unique_ptr<Invoker>> inv = Invoker::Open(co);
  if (!inv.ok()) return PrintProblem(o, inv.status(), "");
  json in = {{"input", std::move(input)}};
  if (f.no_cache) in["no_cache"] = true;
  Result<json> j = (*inv)->Call("jobs." + f.job + ".start", std::move(in));
  if (!j.ok()) return PrintProblem(o, JobProblem(j.status(), f.job), (*inv)->correlation_id());
  if (f.wait) {
    j = WaitUntilEnded(**inv, "jobs.status", "job_id", *j, f.wait_seconds, kMaxWaitPerCall);
    if (!j.ok()) return PrintProblem(o, j.status(), (*inv)->correlation_id());
  }
  PrintJob(o, *j);
  return JobExit(*j);
}

int Status(Context& ctx, const JobFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<std::unique_ptr<Invoker>> inv = Invoker::Open(Options(f));
  if (!inv.ok()) return PrintProblem(o, inv.status(), "");
  Result<json> j = (*inv)->Call("jobs.status", {{"job_id", f.handle}});
  if (j.ok() && f.wait_seconds > 0) {
    j = WaitUntilEnded(**inv, "jobs.status", "job_id", *j, f.wait_seconds, kMaxWaitPerCall);
  }
  if (!j.ok()) return PrintProblem(o, j.status(), (*inv)->correlation_id());
  PrintJob(o, *j);
  return JobExit(*j);
}

int Cancel(Context& ctx, const JobFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<std::unique_ptr<Invoker>> inv = Invoker::Open(Options(f));
  if (!inv.ok()) return PrintProblem(o, inv.status(), "");
  Result<json> j = (*inv)->Call("jobs.cancel", {{"job_id", f.handle}});
  if (!j.ok()) return PrintProblem(o, j.status(), (*inv)->correlation_id());
  PrintJob(o, *j);
  return 0;
}

int List(Context& ctx, const JobFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  Result<std::unique_ptr<Invoker>> inv = Invoker::Open(Options(f));
  if (!inv.ok()) return PrintProblem(o, inv.status(), "");
  json in = {{"limit", f.limit}};
  if (!f.state.empty()) in["state"] = f.state;
  Result<json> page = (*inv)->Call("jobs.list", std::move(in));
  if (!page.ok()) return PrintProblem(o, page.status(), (*inv)->correlation_id());
  if (o.json) {
    o.Json(*page);
    return 0;
  }
  for (const json& j : (*page)["jobs"]) {
    o.out << j.value("job_id", "") << "  " << j.value("state", "") << "  " << j.value("job", "") << "  "
          << j.value("created_at", "") << (j.value("cache_hit", false) ? "  (cache hit)" : "") << "\n";
  }
  return 0;
}

// bver worker: in-process workers against the project's store until SIGTERM
// or SIGINT; the jobs it is running get the engine's stop grace period
// (10 s) to end, and are left to another worker after that.
int Worker(Context& ctx, const JobFlags& f) {
  Output o{ctx.err, ctx.err, false};
  // Block the signals before any thread starts, so every thread inherits the
  // mask and only sigwait below receives them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  if (f.threads < 1) return o.Fail(InvalidArgumentError("--threads must be at least 1"));
  RuntimeOptions ro;
  ro.job_threads = f.threads;
  ro.worker_labels = f.labels;
  ro.job_lease_ms = static_cast<std::int64_t>(f.lease_seconds * 1000);
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(f.store, {}, ro);
  if (!rt.ok()) return o.Fail(rt.status());
  // OpenRuntime has already refused malformed --labels.
  Result<json> labels = server::WorkerLabels(f.labels);
  ctx.err << "bver worker: " << f.threads << " thread(s) on " << (*rt)->project.store_url << ", labels "
          << (labels.ok() ? labels->dump() : f.labels) << "\n";
  ctx.err.flush();
  int sig = 0;
  sigwait(&stop, &sig);
  ctx.err << "bver worker: stopping (running jobs get 10 s to end)\n";
  ctx.err.flush();
  server::StopJobWorkers(**rt);
  return 0;
}

}  // namespace

void RegisterJobCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  auto f = std::make_shared<JobFlags>();
  CLI::App* job = app.add_subcommand("job", "Start, inspect and cancel jobs (docs/jobs.md)");
  job->require_subcommand(1);

  CLI::App* start = job->add_subcommand("start", "Start a job (by job name or capability id)");
  start->add_option("job", f->job, "Job name in bver.yaml, or a capability id")->required();
  start->add_option("--input", f->input, "The capability's input, a JSON object")->capture_default_str();
  start->add_flag("--wait", f->wait, "Run in-process workers and wait until the job has ended");
  start->add_option("--timeout", f->wait_seconds, "With --wait: give up waiting after this many seconds");
  start->add_flag("--no-cache", f->no_cache, "Run even when the action cache holds the result");
  start->add_option("--threads", f->threads, "With --wait: in-process worker threads")->capture_default_str();
  start->add_option("--labels", f->labels, "With --wait: extra worker labels, k=v,...");
  AddCommon(start, *f);
  start->add_option("--server", f->call.server, "Start it on a running bver up (http://HOST:PORT; $BVER_SERVER)");
  start->add_option("--correlation-id", f->call.correlation_id, "Carry this id into the job's events and ledger entries");
  start->callback([&ctx, f] { ctx.action = [&ctx, f] { return Start(ctx, *f); }; });

  CLI::App* status = job->add_subcommand("status", "Show a job by handle");
  status->add_option("handle", f->handle, "The job handle (job_id)")->required();
  status->add_option("--wait", f->wait_seconds, "Wait up to this many seconds for the job to end");
  AddCommon(status, *f);
  status->add_option("--server", f->call.server, "Ask a running bver up (http://HOST:PORT; $BVER_SERVER)");
  status->callback([&ctx, f] { ctx.action = [&ctx, f] { return Status(ctx, *f); }; });

  CLI::App* cancel = job->add_subcommand("cancel", "Cancel a job by handle");
  cancel->add_option("handle", f->handle, "The job handle (job_id)")->required();
  AddCommon(cancel, *f);
  cancel->add_option("--server", f->call.server, "Cancel it on a running bver up (http://HOST:PORT; $BVER_SERVER)");
  cancel->callback([&ctx, f] { ctx.action = [&ctx, f] { return Cancel(ctx, *f); }; });

  CLI::App* list = job->add_subcommand("list", "List jobs in submission order");
  list->add_option("--state", f->state, "Only jobs in this state")
      ->check(CLI::IsMember({"queued", "running", "succeeded", "failed", "cancelled", "timed_out"}));
  list->add_option("--limit", f->limit, "At most this many")->capture_default_str();
  AddCommon(list, *f);
  list->add_option("--server", f->call.server, "List them on a running bver up (http://HOST:PORT; $BVER_SERVER)");
  list->callback([&ctx, f] { ctx.action = [&ctx, f] { return List(ctx, *f); }; });

  CLI::App* worker = app.add_subcommand(
      "worker", "Run jobs from the project's store until SIGTERM (several machines: a PostgreSQL store)");
  worker->add_option("--threads", f->threads, "Worker threads")->capture_default_str();
  worker->add_option("--labels", f->labels, "Labels besides the detected ones (os, arch, tools on PATH): k=v,...");
  worker->add_option("--lease-seconds", f->lease_seconds,
                     "Lease of a running job (default 15): another worker runs the job of a dead one after it");
  worker->add_option("-f,--file", f->store.file, "The domain definition")->capture_default_str();
  worker->add_option("--store", f->store.store, "Store URL (as for every store command)");
  worker->callback([&ctx, f] { ctx.action = [&ctx, f] { return Worker(ctx, *f); }; });
}

}  // namespace bver::cli
