// The orchestrator engine's passes: advancing each run's steps, and the
// worker threads (engine_impl.h; docs/orchestrators.md).
#include "src/orch/engine_impl.h"

namespace bver::orch {

Result<bool> Engine::Impl::Pass() {
  if (Dispatcher() == nullptr) return false;
  bool any = false;
  std::string after;
  while (!follower.stopped()) {
    BVER_ASSIGN_OR_RETURN(std::vector<store::RecordRow> page, store.backend().ListRecords(kActiveKind, after, 500));
    for (const store::RecordRow& r : page) {
      after = r.key;
      if (follower.stopped()) break;
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
Result<bool> Engine::Impl::Advance(const std::string& run_id) {
  bool any = false;
  for (int i = 0; i < 1000 && !follower.stopped(); ++i) {
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

TemplateScope Engine::Impl::Scope(const json& run, const json& outputs, const json* item) const {
  TemplateScope s;
  s.input = &run["input"];
  s.steps = &outputs;
  s.item = item;
  s.run_id = run["run_id"].get<std::string>();
  s.correlation_id = run.value("correlation_id", "");
  return s;
}

std::string Engine::Impl::Key(const json& run, const json& step, const json& call) const {
  return "orch/" + run["run_id"].get<std::string>() + "/" + step["id"].get<std::string>() + "/" +
         std::to_string(call["index"].get<int>()) + "/" + std::to_string(call["attempt"].get<int>());
}

std::int64_t Engine::Impl::Backoff(int attempt) const {
  std::int64_t ms = options.backoff_base_ms;
  for (int i = 1; i < attempt && ms < options.backoff_max_ms; ++i) ms *= 2;
  return std::min(ms, options.backoff_max_ms);
}

runtime::Call Engine::Impl::CallFor(const json& run, std::string op, json input) const {
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
Outcome Engine::Impl::FromJob(const json& job) {
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
Outcome Engine::Impl::Issue(const runtime::Dispatcher& b, const json& run, const json& step, const json& call) {
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

Outcome Engine::Impl::PollJob(const runtime::Dispatcher& b, const json& run, const json& call) {
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
std::vector<std::string> Engine::Impl::FailRun(json& run, std::size_t si, std::vector<Pending>& events) {
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
std::vector<std::string> Engine::Impl::Record(json& run, std::size_t si, std::size_t ci, const Outcome& o, int retries,
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
std::vector<std::string> Engine::Impl::Begin(json& run, const domain::Step& decl, std::size_t si, const json& outputs,
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
Result<bool> Engine::Impl::Transition(Loaded& l) {
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

Result<bool> Engine::Impl::Commit(Loaded& l, const std::vector<Pending>& events, const std::vector<std::string>& cancel_jobs,
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

void Engine::Impl::Loop() {
  follower.Run([this] { return Pass(); },
               [this](const Status& s) {
                 // A store hiccup: say so once per pass and try again after the poll interval.
                 json line = {{"level", "error"}, {"msg", "orchestrator pass failed"}, {"error", s.ToString()}};
                 std::fprintf(stderr, "%s\n", line.dump().c_str());
                 return std::chrono::milliseconds(options.poll_ms);
               });
}

}  // namespace bver::orch
