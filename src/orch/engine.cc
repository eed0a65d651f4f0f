#include "src/orch/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/auth/principal.h"
#include "src/core/clock.h"
#include "src/core/digest.h"
#include "src/core/uuid.h"
#include "src/orch/template.h"
#include "src/runtime/problem.h"
#include "src/runtime/dispatcher.h"
#include "src/schema/validator.h"
#include "src/store/store.h"

namespace bver::orch {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kChannel = "control";
// The shortest pause between two passes that found nothing to do.
constexpr std::int64_t kMinIdleMs = 20;

json ParseOr(const std::string& text, json fallback) {
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

bool StepEnded(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "skipped" || s == "cancelled";
}

using runtime::ErrorJson;

// A transition's control event, appended with the record update.
struct Pending {
  std::string type;
  json payload;
};

// What became of one issued call.
struct Outcome {
  enum Kind { kNone, kSucceeded, kWaitingJob, kFailed } kind = kNone;
  json output;
  std::string job_id;
  json error;
  bool retryable = true;
};

}  // namespace

struct Engine::Impl {
  store::Store& store;
  EngineOptions options;
  std::map<std::string, const domain::Orchestrator*, std::less<>> orchestrators;  // immutable after ctor
  std::map<std::string, std::shared_ptr<const schema::Validator>> validators;      // immutable after ctor

  std::mutex mu;
  const runtime::Dispatcher* dispatcher = nullptr;  // GUARDED_BY(mu); set by Start, cleared by Stop
  std::set<std::string> busy;                     // GUARDED_BY(mu): runs a thread is advancing
  bool stopping = false;                          // GUARDED_BY(mu)
  std::atomic<bool> stop_flag{false};
  std::condition_variable stop_cv;  // Stop() was called
  std::vector<std::thread> threads;

  Impl(store::Store& s, EngineOptions o) : store(s), options(o) {
    for (const domain::Orchestrator& orch : store.platform().orchestrators) {
      orchestrators.emplace(orch.name, &orch);
      if (!orch.input_schema) continue;
      Result<std::unique_ptr<schema::Validator>> v = schema::Validator::Compile(*orch.input_schema);
      // The compiler has compiled it already; one that fails here is refused at start.
      if (v.ok()) validators.emplace(orch.name, std::shared_ptr<const schema::Validator>(std::move(v).value()));
    }
  }

  const runtime::Dispatcher* Dispatcher() {
    std::lock_guard<std::mutex> l(mu);
    return dispatcher;
  }

  // ---- records ----

  struct Loaded {
    json run;
    std::int64_t rev = 0;
  };

  Result<std::optional<Loaded>> Load(const std::string& run_id) {
    BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> rec, store.backend().GetRecord(kRunKind, run_id));
    if (!rec) return std::optional<Loaded>();
    Loaded l;
    l.run = ParseOr(rec->value, json::object());
    l.rev = l.run.value("rev", std::int64_t{0});
    return std::optional<Loaded>(std::move(l));
  }

  store::WriteContext Ctx(const json& run) const {
    store::WriteContext c;
    c.actor = run.value("actor", std::string(kSystemActor));
    c.correlation_id = run.value("correlation_id", "");
    c.causation_id = run.value("run_id", "");
    return c;
  }

  static json Payload(const json& run, const json& step = nullptr, json extra = json::object()) {
    json p = {{"run_id", run["run_id"]}, {"orchestrator", run["orchestrator"]}, {"state", run["state"]}};
    if (!step.is_null()) {
      p["step"] = step["id"];
      p["op"] = step["op"];
      p["step_state"] = step["state"];
      p["attempts"] = step["attempts"];
    }
    p.update(extra);
    return p;
  }

  // Writes `run` (loaded at revision `rev`) and appends `events`, in one
  // transaction. Aborted when the record changed since it was loaded.
  Status Persist(json& run, std::int64_t rev, const std::vector<Pending>& events) {
    const std::string id = run["run_id"];
    const bool ended = run["state"] != "running";
    store::WriteContext ctx = Ctx(run);
    run["rev"] = rev + 1;
    return store
        .Apply({}, ctx,
               [&](store::Txn& t, const store::Store::TxnHelpers& h) -> Status {
                 BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> cur, t.GetRecord(kRunKind, id));
                 if (!cur) return NotFoundError("no run " + id);
                 if (ParseOr(cur->value, json::object()).value("rev", std::int64_t{0}) != rev) {
                   return AbortedError("run " + id + " changed concurrently; read it again");
                 }
                 run["updated_at"] = core::FormatTimestamp(h.now_us());
                 if (ended && !run.contains("ended_at")) run["ended_at"] = run["updated_at"];
                 BVER_RETURN_IF_ERROR(t.PutRecord({kRunKind, id, run.dump(), h.now_us()}));
                 for (const Pending& e : events) {
                   BVER_RETURN_IF_ERROR(h.AppendEvent(t, kChannel, e.type, "orch:" + id, e.payload, ctx).status());
                 }
                 if (ended) BVER_RETURN_IF_ERROR(t.DeleteRecord(kActiveKind, id).status());
                 return Status::Ok();
               })
        .status();
  }

  json View(json run) const {
    run.erase("rev");
    for (json& step : run["steps"]) {
      json ids = json::array();
      for (json& call : step.value("calls", json::array())) {
        if (call.contains("job_id")) ids.push_back(call["job_id"]);
      }
      if (step.contains("calls")) {
        for (json& call : step["calls"]) {
          if (call.contains("retry_at_us")) {
            call["retry_at"] = core::FormatTimestamp(call["retry_at_us"].get<std::int64_t>());
            call.erase("retry_at_us");
          }
        }
      }
      if (!ids.empty()) step["job_ids"] = std::move(ids);
    }
    return run;
  }

  // A run as a list shows it: its state, each step's, and where the whole
  // run is. About 300 bytes a run instead of every input and output.
  static json Summary(const json& run) {
    json steps = json::array();
    for (const json& step : run.value("steps", json::array())) {
      json s = {{"id", step.value("id", "")}, {"state", step.value("state", "")}, {"attempts", step.value("attempts", 0)}};
      json ids = json::array();
      for (const json& call : step.value("calls", json::array())) {
        if (call.contains("job_id")) ids.push_back(call["job_id"]);
      }
      if (!ids.empty()) s["job_ids"] = std::move(ids);
      steps.push_back(std::move(s));
    }
    json out = {{"run_id", run.value("run_id", "")},
                {"orchestrator", run.value("orchestrator", "")},
                {"state", run.value("state", "")},
                {"steps", std::move(steps)},
                {"href", "/v1/orchestrators/" + run.value("orchestrator", "") + "/runs/" + run.value("run_id", "")}};
    for (const char* k : {"error", "actor", "correlation_id", "created_at", "updated_at", "ended_at"}) {
      if (run.contains(k)) out[k] = run[k];
    }
    return out;
  }

  // ---- start, get, cancel, list ----

  Result<json> Start(const runtime::OrchStartRequest& req) {
    auto it = orchestrators.find(req.orchestrator);
    if (it == orchestrators.end()) {
      return NotFoundError("no orchestrator \"" + req.orchestrator + "\" in bver.yaml (see `bver plan`)");
    }
    const domain::Orchestrator& o = *it->second;
    json input = req.input ? *req.input : json::object();
    if (!input.is_object()) {
      return InvalidArgumentError("the orchestrator input must be a JSON object", {{"input", "type", "expected an object"}});
    }
    // The schema's top-level defaults fill what the caller left out, so a
    // step can refer to ${input.parts} whether or not it was given.
    if (o.input_schema && o.input_schema->contains("properties") && (*o.input_schema)["properties"].is_object()) {
      for (const auto& [name, prop] : (*o.input_schema)["properties"].items()) {
        if (prop.is_object() && prop.contains("default") && !input.contains(name)) input[name] = prop["default"];
      }
    }
    auto v = validators.find(o.name);
    if (o.input_schema && v == validators.end()) return InternalError("the input schema of " + o.name + " does not compile");
    if (v != validators.end()) {
      if (Status s = v->second->Validate(input); !s.ok()) {
        std::vector<Violation> viol = s.violations();
        for (Violation& x : viol) x.path = x.path.empty() ? "input" : "input." + x.path;
        return InvalidArgumentError("the input does not match the input schema of orchestrator " + o.name, viol);
      }
    }
    std::string digest;
    if (!req.idempotency_key.empty()) {
      BVER_ASSIGN_OR_RETURN(digest, core::JsonDigest(json{{"orchestrator", o.name}, {"input", input}}));
      BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> rec,
                            store.backend().GetRecord(kIdempotencyKind, req.idempotency_key));
      BVER_ASSIGN_OR_RETURN(std::optional<std::string> seen, Replayed(rec, req.idempotency_key, digest));
      if (seen) return Get("", *seen, req.wait_seconds);
    }
    json run = {{"run_id", core::NewUuidV7()},
                {"orchestrator", o.name},
                {"state", "running"},
                {"input", input},
                {"steps", json::array()},
                {"cancel_requested", false},
                {"actor", req.actor.empty() ? std::string(kSystemActor) : req.actor},
                {"correlation_id", req.correlation_id.empty() ? core::NewUuidV7() : req.correlation_id},
                {"rev", 1}};
    if (!req.causation_id.empty()) run["causation_id"] = req.causation_id;
    for (const domain::Step& s : o.steps) {
      run["steps"].push_back({{"id", s.id}, {"op", s.op}, {"state", "pending"}, {"attempts", 0}});
    }
    const std::string id = run["run_id"];
    store::WriteContext ctx = Ctx(run);
    ctx.causation_id = req.causation_id;
    std::optional<std::string> replayed;
    BVER_RETURN_IF_ERROR(
        store
            .Apply({}, ctx,
                   [&](store::Txn& t, const store::Store::TxnHelpers& h) -> Status {
                     replayed.reset();
                     if (!req.idempotency_key.empty()) {
                       BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> rec,
                                             t.GetRecord(kIdempotencyKind, req.idempotency_key));
                       BVER_ASSIGN_OR_RETURN(replayed, Replayed(rec, req.idempotency_key, digest));
                       if (replayed) return Status::Ok();
                       BVER_RETURN_IF_ERROR(t.PutRecord({kIdempotencyKind, req.idempotency_key,
                                                         json{{"run_id", id}, {"request_digest", digest}}.dump(),
                                                         h.now_us()}));
                     }
                     run["created_at"] = run["updated_at"] = core::FormatTimestamp(h.now_us());
                     BVER_RETURN_IF_ERROR(t.PutRecord({kRunKind, id, run.dump(), h.now_us()}));
                     BVER_RETURN_IF_ERROR(t.PutRecord({kActiveKind, id, "{}", h.now_us()}));
                     return h.AppendEvent(t, kChannel, kEventStarted, "orch:" + id,
                                          Payload(run, nullptr, {{"input", input}}), ctx)
                         .status();
                   })
            .status());
    if (replayed) return Get("", *replayed, req.wait_seconds);
    if (req.wait_seconds > 0) return Get("", id, req.wait_seconds);
    return View(run);
  }

  static Result<std::optional<std::string>> Replayed(const std::optional<store::RecordRow>& rec, const std::string& key,
                                                     const std::string& digest) {
    if (!rec) return std::optional<std::string>();
    json v = ParseOr(rec->value, json::object());
    if (v.value("request_digest", "") != digest) {
      return AbortedError("idempotency key \"" + key + "\" was used to start a different run; use a new key");
    }
    return std::optional<std::string>(v.value("run_id", ""));
  }

  Result<Loaded> Find(const std::string& orchestrator, const std::string& run_id) {
    BVER_ASSIGN_OR_RETURN(std::optional<Loaded> l, Load(run_id));
    if (!l || (!orchestrator.empty() && l->run.value("orchestrator", "") != orchestrator)) {
      return NotFoundError("no run " + run_id + (orchestrator.empty() ? "" : " of orchestrator " + orchestrator) +
                           " (see `bver orch list`)");
    }
    return std::move(*l);
  }

  Result<json> Get(const std::string& orchestrator, const std::string& run_id, double wait_seconds) {
    auto deadline = Clock::now() + std::chrono::microseconds(static_cast<std::int64_t>(std::max(0.0, wait_seconds) * 1e6));
    while (true) {
      std::uint64_t seen = store.backend().commit_seq();
      BVER_ASSIGN_OR_RETURN(Loaded l, Find(orchestrator, run_id));
      if (l.run.value("state", "") != "running" || Clock::now() >= deadline) return View(std::move(l.run));
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      store.backend().WaitForCommit(seen, std::min(left, std::chrono::milliseconds(options.poll_ms)) +
                                              std::chrono::milliseconds(1));
    }
  }

  Result<json> Cancel(const std::string& orchestrator, const std::string& run_id, const std::string& actor,
                      const std::string& correlation_id) {
    for (int tries = 0;; ++tries) {
      BVER_ASSIGN_OR_RETURN(Loaded l, Find(orchestrator, run_id));
      json& run = l.run;
      if (run["state"] != "running") return View(std::move(run));
      std::vector<std::string> jobs;
      run["state"] = "cancelled";
      run["cancel_requested"] = true;
      run["error"] = {{"code", "cancelled"}, {"message", "cancelled by " + (actor.empty() ? std::string("?") : actor)}};
      for (json& step : run["steps"]) {
        if (StepEnded(step["state"])) continue;
        for (const json& call : step.value("calls", json::array())) {
          if (call.value("state", "") == "waiting_job") jobs.push_back(call["job_id"].get<std::string>());
        }
        step["state"] = "cancelled";
      }
      std::vector<Pending> events;
      events.push_back({kEventCancelled, Payload(run, nullptr, {{"by", actor}, {"by_correlation_id", correlation_id}})});
      Status s = Persist(run, l.rev, events);
      if (s.code() == StatusCode::kAborted && tries < 20) continue;  // the engine recorded a transition meanwhile
      BVER_RETURN_IF_ERROR(s);
      CancelJobs(run, jobs);
      return View(std::move(run));
    }
  }

  void CancelJobs(const json& run, const std::vector<std::string>& jobs) {
    const runtime::Dispatcher* b = Dispatcher();
    if (b == nullptr) return;
    for (const std::string& job : jobs) {
      runtime::Call c;
      c.operation = "jobs.cancel";
      c.input = std::make_shared<const json>(json{{"job_id", job}});
      c.principal = auth::Principal::Local(kSystemActor);
      c.correlation_id = run.value("correlation_id", "");
      c.causation_id = run.value("run_id", "");
      c.transport = "orch";
      (void)b->Invoke(c);  // an ended job is answered as it is; nothing else to do
    }
  }

  Result<json> List(const std::string& orchestrator, const std::string& state, const std::string& after,
                    std::size_t limit) {
    limit = std::clamp<std::size_t>(limit, 1, 1000);
    json runs = json::array();
    std::string cursor = after;
    bool more = true;
    while (runs.size() < limit && more) {
      BVER_ASSIGN_OR_RETURN(std::vector<store::RecordRow> page, store.backend().ListRecords(kRunKind, cursor, 200));
      more = page.size() == 200;
      for (const store::RecordRow& r : page) {
        cursor = r.key;
        json run = ParseOr(r.value, json::object());
        if ((orchestrator.empty() || run.value("orchestrator", "") == orchestrator) &&
            (state.empty() || run.value("state", "") == state)) {
          runs.push_back(Summary(run));
          if (runs.size() == limit) {
            more = true;
            break;
          }
        }
      }
    }
    json next = more && !runs.empty() ? json(runs.back()["run_id"]) : json(nullptr);
    return json{{"runs", std::move(runs)}, {"next_cursor", std::move(next)}};
  }

  // ---- advancing runs ----

  Result<bool> Pass() {
    if (Dispatcher() == nullptr) return false;
    bool any = false;
    std::string after;
    while (!stop_flag.load()) {
      BVER_ASSIGN_OR_RETURN(std::vector<store::RecordRow> page, store.backend().ListRecords(kActiveKind, after, 500));
      for (const store::RecordRow& r : page) {
        after = r.key;
        if (stop_flag.load()) break;
        {
          std::lock_guard<std::mutex> l(mu);
          if (!busy.insert(r.key).second) continue;
        }
        Result<bool> advanced = Advance(r.key);
        {
          std::lock_guard<std::mutex> l(mu);
          busy.erase(r.key);
        }
        if (!advanced.ok()) return advanced.status();
        any = any || *advanced;
      }
      if (page.size() < 500) break;
    }
    return any;
  }

  // Records transitions of run `run_id` until none is possible now.
  Result<bool> Advance(const std::string& run_id) {
    bool any = false;
    for (int i = 0; i < 1000 && !stop_flag.load(); ++i) {
      BVER_ASSIGN_OR_RETURN(std::optional<Loaded> l, Load(run_id));
      if (!l) return any;
      if (l->run.value("state", "") != "running") {
        // Ended by a writer that could not delete the marker (cannot happen
        // with Persist, which deletes it in the same transaction): tidy up.
        BVER_RETURN_IF_ERROR(store.backend().WriteTxn([&](store::Txn& t) {
          return t.DeleteRecord(kActiveKind, run_id).status();
        }));
        return any;
      }
      BVER_ASSIGN_OR_RETURN(bool progressed, Transition(*l));
      if (!progressed) return any;
      any = true;
    }
    return any;
  }

  TemplateScope Scope(const json& run, const json& outputs, const json* item) const {
    TemplateScope s;
    s.input = &run["input"];
    s.steps = &outputs;
    s.item = item;
    s.run_id = run["run_id"].get<std::string>();
    s.correlation_id = run.value("correlation_id", "");
    return s;
  }

  std::string Key(const json& run, const json& step, const json& call) const {
    return "orch/" + run["run_id"].get<std::string>() + "/" + step["id"].get<std::string>() + "/" +
           std::to_string(call["index"].get<int>()) + "/" + std::to_string(call["attempt"].get<int>());
  }

  std::int64_t Backoff(int attempt) const {
    std::int64_t ms = options.backoff_base_ms;
    for (int i = 1; i < attempt && ms < options.backoff_max_ms; ++i) ms *= 2;
    return std::min(ms, options.backoff_max_ms);
  }

  runtime::Call CallFor(const json& run, std::string op, json input) const {
    runtime::Call c;
    c.operation = std::move(op);
    c.input = std::make_shared<const json>(std::move(input));
    c.principal = auth::Principal::Local(kSystemActor);
    c.correlation_id = run.value("correlation_id", "");
    c.causation_id = run["run_id"].get<std::string>();
    c.transport = "orch";
    return c;
  }

  // A job's status object as an outcome (kNone while it has not ended).
  static Outcome FromJob(const json& job) {
    Outcome o;
    std::string state = job.value("state", "");
    o.job_id = job.value("job_id", "");
    if (state == "succeeded") {
      o.kind = Outcome::kSucceeded;
      o.output = job.contains("result") ? job["result"] : json::object();
    } else if (state == "failed" || state == "timed_out" || state == "cancelled") {
      o.kind = Outcome::kFailed;
      o.error = job.contains("error") ? job["error"] : json{{"code", state}, {"message", "job " + o.job_id + " " + state}};
      o.error["message"] = "job " + o.job_id + " " + state + ": " + o.error.value("message", "");
      o.retryable = state != "cancelled";
    } else {
      o.kind = Outcome::kWaitingJob;
    }
    return o;
  }

  // Issues call `call` of `step` (state ready) through the dispatcher.
  Outcome Issue(const runtime::Dispatcher& b, const json& run, const json& step, const json& call) {
    Outcome o;
    const std::string op = step["op"];
    const runtime::OperationRow* row = b.Find(op);
    if (row == nullptr) {
      o.kind = Outcome::kFailed;
      o.error = ErrorJson(FailedPreconditionError("operation " + op + " is not served by this runtime"));
      o.retryable = false;
      return o;
    }
    json input = call.value("input", json::object());
    // A job's or an orchestrator's step input is what its REST body is: the
    // capability's (the orchestrator's) input.
    const bool start_op = (row->kind == domain::OperationKind::kJobStart && op.rfind("jobs.", 0) == 0) ||
                          (row->kind == domain::OperationKind::kOrchStart && op.rfind("orch.", 0) == 0);
    if (start_op) input = json{{"input", std::move(input)}};
    const json& props = row->input_schema->contains("properties") ? (*row->input_schema)["properties"] : json::object();
    if (props.contains("idempotency_key")) input["idempotency_key"] = Key(run, step, call);
    Result<json> r = b.Invoke(CallFor(run, op, std::move(input)));
    if (!r.ok()) {
      o.kind = Outcome::kFailed;
      o.error = ErrorJson(r.status());
      return o;
    }
    if (row->kind == domain::OperationKind::kJobStart && op.rfind("jobs.", 0) == 0) return FromJob(*r);
    o.kind = Outcome::kSucceeded;
    o.output = *r;
    return o;
  }

  Outcome PollJob(const runtime::Dispatcher& b, const json& run, const json& call) {
    Result<json> r = b.Invoke(CallFor(run, "jobs.status", {{"job_id", call["job_id"]}}));
    if (!r.ok()) {
      Outcome o;
      if (r.status().code() != StatusCode::kNotFound) return o;  // try again at the next pass
      o.kind = Outcome::kFailed;
      o.error = ErrorJson(r.status());
      o.retryable = false;
      return o;
    }
    return FromJob(*r);
  }

  // Fails `run` because step `si` failed: the other unended steps are
  // cancelled; answers the jobs to cancel.
  std::vector<std::string> FailRun(json& run, std::size_t si, std::vector<Pending>& events) {
    json& step = run["steps"][si];
    step["state"] = "failed";
    events.push_back({kEventStepFailed, Payload(run, step, {{"error", step["error"]}})});
    std::vector<std::string> jobs;
    for (std::size_t i = 0; i < run["steps"].size(); ++i) {
      json& other = run["steps"][i];
      if (i == si || StepEnded(other["state"])) continue;
      for (const json& call : other.value("calls", json::array())) {
        if (call.value("state", "") == "waiting_job") jobs.push_back(call["job_id"].get<std::string>());
      }
      other["state"] = "cancelled";
    }
    run["state"] = "failed";
    run["error"] = step["error"];
    run["error"]["step"] = step["id"];
    events.push_back({kEventFailed, Payload(run, nullptr, {{"error", run["error"]}})});
    return jobs;
  }

  // Records the outcome of call `ci` of step `si`: the call's state, then
  // the step's and the run's when they end.
  std::vector<std::string> Record(json& run, std::size_t si, std::size_t ci, const Outcome& o, int retries,
                                  std::vector<Pending>& events) {
    json& step = run["steps"][si];
    json& call = step["calls"][ci];
    if (!o.job_id.empty()) call["job_id"] = o.job_id;
    if (o.kind == Outcome::kWaitingJob) {
      call["state"] = "waiting_job";
      return {};
    }
    if (o.kind == Outcome::kFailed) {
      call["error"] = o.error;
      if (o.retryable && call["attempt"].get<int>() <= retries) {
        call["state"] = "retry_wait";
        call["retry_at_us"] = store.Now() + Backoff(call["attempt"].get<int>()) * 1000;
        return {};
      }
      call["state"] = "failed";
      step["error"] = o.error;
      if (step["calls"].size() > 1) step["error"]["message"] = "item " + std::to_string(ci) + ": " + o.error.value("message", "");
      step["ended_at"] = core::FormatTimestamp(store.Now());
      return FailRun(run, si, events);
    }
    call["state"] = "succeeded";
    call.erase("error");
    call["output"] = o.output;
    json outputs = json::array();
    for (const json& c : step["calls"]) {
      if (c["state"] != "succeeded") return {};
      outputs.push_back(c["output"]);
    }
    step["state"] = "succeeded";
    step["output"] = step.value("fan_out", false) ? outputs : outputs[0];
    step["ended_at"] = core::FormatTimestamp(store.Now());
    events.push_back({kEventStepSucceeded, Payload(run, step)});
    return {};
  }

  // Starts or skips pending step `si` whose dependencies have all ended.
  // Answers the jobs to cancel when the step fails (and so the run).
  std::vector<std::string> Begin(json& run, const domain::Step& decl, std::size_t si, const json& outputs,
                                 bool dep_skipped, std::vector<Pending>& events) {
    json& step = run["steps"][si];
    auto skip = [&](const std::string& reason) {
      step["state"] = "skipped";
      step["reason"] = reason;
      step["ended_at"] = core::FormatTimestamp(store.Now());
      events.push_back({kEventStepSkipped, Payload(run, step, {{"reason", reason}})});
      return std::vector<std::string>();
    };
    auto fail = [&](const Status& s) {
      step["error"] = ErrorJson(s);
      step["ended_at"] = core::FormatTimestamp(store.Now());
      return FailRun(run, si, events);
    };
    if (dep_skipped) return skip("a step it depends on was skipped");
    TemplateScope scope = Scope(run, outputs, nullptr);
    if (!decl.when.empty()) {
      Result<bool> go = Condition(decl.when, scope);
      if (!go.ok()) return fail(go.status().WithPrefix("step " + decl.id + " when"));
      if (!*go) return skip("when " + decl.when + " is false");
    }
    std::vector<json> items;
    bool fan_out = !decl.for_each.empty();
    if (fan_out) {
      Result<json> list = Expand(json(decl.for_each), scope);
      if (!list.ok()) return fail(list.status().WithPrefix("step " + decl.id + " for_each"));
      if (!list->is_array()) {
        return fail(InvalidArgumentError("step " + decl.id + " for_each " + decl.for_each + " is not a list",
                                         {{"for_each", "orch.for_each", "refer to an array"}}));
      }
      items.assign(list->begin(), list->end());
    }
    json calls = json::array();
    std::size_t n = fan_out ? items.size() : 1;
    for (std::size_t k = 0; k < n; ++k) {
      TemplateScope s = Scope(run, outputs, fan_out ? &items[k] : nullptr);
      Result<json> input = Expand(decl.input ? *decl.input : json::object(), s);
      if (!input.ok()) return fail(input.status().WithPrefix("step " + decl.id + " input"));
      if (!input->is_object()) {
        return fail(InvalidArgumentError("step " + decl.id + " input is not an object", {{"input", "type", "expected {...}"}}));
      }
      json call = {{"index", k}, {"state", "ready"}, {"attempt", 1}, {"input", std::move(input).value()}};
      if (fan_out) call["item"] = items[k];
      calls.push_back(std::move(call));
    }
    step["state"] = "running";
    step["fan_out"] = fan_out;
    step["calls"] = std::move(calls);
    step["attempts"] = static_cast<int>(n);
    step["started_at"] = core::FormatTimestamp(store.Now());
    events.push_back({kEventStepStarted, Payload(run, step, {{"calls", n}})});
    if (n == 0) {  // an empty for_each list: nothing to call
      step["state"] = "succeeded";
      step["output"] = json::array();
      step["ended_at"] = step["started_at"];
      events.push_back({kEventStepSucceeded, Payload(run, step)});
    }
    return {};
  }

  // Records at most one transition of the run in `l`; false when none is
  // possible now (or another writer got there first).
  Result<bool> Transition(Loaded& l) {
    const runtime::Dispatcher* b = Dispatcher();
    if (b == nullptr) return false;
    json& run = l.run;
    std::vector<Pending> events;
    std::vector<std::string> cancel_jobs;
    std::string started_job;  // a job this transition started (cancelled if the run was cancelled meanwhile)
    auto oit = orchestrators.find(run.value("orchestrator", ""));
    if (oit == orchestrators.end() || oit->second->steps.size() != run["steps"].size()) {
      run["state"] = "failed";
      run["error"] = {{"code", "failed_precondition"},
                      {"message", "orchestrator " + run.value("orchestrator", "") +
                                      " is no longer declared as it was when the run started"}};
      events.push_back({kEventFailed, Payload(run, nullptr, {{"error", run["error"]}})});
      return Commit(l, events, {}, "");
    }
    const domain::Orchestrator& o = *oit->second;
    json outputs = json::object();
    for (const json& s : run["steps"]) {
      if (s["state"] == "succeeded") outputs[s["id"].get<std::string>()] = s["output"];
    }
    // 1. Running steps: due retries, ready calls, ended jobs.
    for (std::size_t si = 0; si < run["steps"].size(); ++si) {
      json& step = run["steps"][si];
      if (step["state"] != "running") continue;
      for (std::size_t ci = 0; ci < step["calls"].size(); ++ci) {
        json& call = step["calls"][ci];
        std::string cs = call["state"];
        if (cs == "retry_wait") {
          if (store.Now() < call["retry_at_us"].get<std::int64_t>()) continue;
          call["state"] = "ready";
          call["attempt"] = call["attempt"].get<int>() + 1;
          call.erase("retry_at_us");
          call.erase("job_id");
          step["attempts"] = step["attempts"].get<int>() + 1;
          return Commit(l, events, {}, "");  // recorded before it is issued
        }
        Outcome out;
        if (cs == "ready") {
          out = Issue(*b, run, step, call);
          started_job = out.job_id;
        } else if (cs == "waiting_job") {
          out = PollJob(*b, run, call);
        }
        if (out.kind == Outcome::kNone) continue;
        if (out.kind == Outcome::kWaitingJob && cs == "waiting_job") continue;
        cancel_jobs = Record(run, si, ci, out, o.steps[si].retries, events);
        return Commit(l, events, cancel_jobs, started_job);
      }
    }
    // 2. Pending steps whose dependencies have ended.
    for (std::size_t si = 0; si < run["steps"].size(); ++si) {
      if (run["steps"][si]["state"] != "pending") continue;
      const domain::Step& decl = o.steps[si];
      bool ready = true;
      bool dep_skipped = false;
      for (const std::string& dep : decl.after) {
        for (const json& s : run["steps"]) {
          if (s["id"] != dep) continue;
          if (!StepEnded(s["state"])) ready = false;
          if (s["state"] != "succeeded") dep_skipped = true;
        }
      }
      if (!ready) continue;
      cancel_jobs = Begin(run, decl, si, outputs, dep_skipped, events);
      return Commit(l, events, cancel_jobs, "");
    }
    // 3. Every step ended: the run succeeded.
    for (const json& s : run["steps"]) {
      if (!StepEnded(s["state"])) return false;
    }
    run["state"] = "succeeded";
    run["output"] = outputs;
    events.push_back({kEventSucceeded, Payload(run)});
    return Commit(l, events, {}, "");
  }

  Result<bool> Commit(Loaded& l, const std::vector<Pending>& events, const std::vector<std::string>& cancel_jobs,
                      const std::string& started_job) {
    Status s = Persist(l.run, l.rev, events);
    if (s.code() == StatusCode::kAborted) {
      // Cancelled (or advanced by another engine) meanwhile. A job this
      // transition started belongs to no step of a cancelled run: cancel it.
      Result<std::optional<Loaded>> now = Load(l.run["run_id"].get<std::string>());
      if (now.ok() && *now && (**now).run.value("state", "") == "cancelled" && !started_job.empty()) {
        CancelJobs(l.run, {started_job});
      }
      return false;
    }
    BVER_RETURN_IF_ERROR(s);
    CancelJobs(l.run, cancel_jobs);
    return true;
  }

  // ---- workers ----

  void Loop() {
    while (!stop_flag.load()) {
      std::uint64_t seen = store.backend().commit_seq();
      Result<bool> r = Pass();
      if (!r.ok()) {
        // A store hiccup: say so once per pass and try again after the poll interval.
        json line = {{"level", "error"}, {"msg", "orchestrator pass failed"}, {"error", r.status().ToString()}};
        std::fprintf(stderr, "%s\n", line.dump().c_str());
      }
      if (stop_flag.load()) break;
      if (r.ok() && !*r) {
        // Nothing to do: not more than one idle pass per kMinIdleMs, however
        // busy the store is (every commit of the process wakes the wait).
        std::unique_lock<std::mutex> l(mu);
        stop_cv.wait_for(l, std::chrono::milliseconds(kMinIdleMs), [this] { return stop_flag.load(); });
      }
      store.backend().WaitForCommit(seen, std::chrono::milliseconds(options.poll_ms));
    }
  }
};

Engine::Engine(store::Store& store, EngineOptions options) : impl_(std::make_unique<Impl>(store, options)) {}

Engine::~Engine() { Stop(); }

void Engine::Start(const runtime::Dispatcher& dispatcher) {
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->stopping || impl_->dispatcher != nullptr) return;
  impl_->dispatcher = &dispatcher;
  for (int i = 0; i < impl_->options.threads; ++i) impl_->threads.emplace_back([this] { impl_->Loop(); });
}

void Engine::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->stopping = true;
    impl_->stop_flag = true;
    threads.swap(impl_->threads);
  }
  impl_->stop_cv.notify_all();
  impl_->store.backend().WakeWaiters();
  for (std::thread& t : threads) t.join();
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->dispatcher = nullptr;  // it may go now
}

Result<bool> Engine::RunPass() { return impl_->Pass(); }

Result<nlohmann::json> Engine::StartRun(const runtime::OrchStartRequest& request) { return impl_->Start(request); }

Result<nlohmann::json> Engine::GetRun(const std::string& orchestrator, const std::string& run_id, double wait_seconds) {
  return impl_->Get(orchestrator, run_id, wait_seconds);
}

Result<nlohmann::json> Engine::CancelRun(const std::string& orchestrator, const std::string& run_id,
                                         const std::string& actor, const std::string& correlation_id) {
  return impl_->Cancel(orchestrator, run_id, actor, correlation_id);
}

Result<nlohmann::json> Engine::ListRuns(const std::string& orchestrator, const std::string& state,
                                        const std::string& after, std::size_t limit) {
  return impl_->List(orchestrator, state, after, limit);
}

}  // namespace bver::orch
