#include "src/orch/engine.h"

#include "src/orch/engine_impl.h"

namespace bver::orch {
namespace internal {

json ParseOr(const std::string& text, json fallback) {
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

bool StepEnded(const std::string& s) {
  return s == "succeeded" || s == "failed" || s == "skipped" || s == "cancelled";
}

}  // namespace internal

Engine::Impl::Impl(store::Store& s, EngineOptions o)
    : store(s),
      options(o),
      follower(s.backend(), {.poll = std::chrono::milliseconds(o.poll_ms), .min_idle = std::chrono::milliseconds(kMinIdleMs)}) {
  for (const domain::Orchestrator& orch : store.platform().orchestrators) {
    orchestrators.emplace(orch.name, &orch);
    if (!orch.input_schema) continue;
    Result<std::unique_ptr<schema::Validator>> v = schema::Validator::Compile(*orch.input_schema);
    // The compiler has compiled it already; one that fails here is refused at start.
    if (v.ok()) validators.emplace(orch.name, std::shared_ptr<const schema::Validator>(std::move(v).value()));
  }
}

const runtime::Dispatcher* Engine::Impl::Dispatcher() {
  std::lock_guard<std::mutex> l(mu);
  return dispatcher;
}

Result<std::optional<Engine::Impl::Loaded>> Engine::Impl::Load(const std::string& run_id) {
  BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> rec, store.backend().GetRecord(kRunKind, run_id));
  if (!rec) return std::optional<Loaded>();
  Loaded l;
  l.run = ParseOr(rec->value, json::object());
  l.rev = l.run.value("rev", std::int64_t{0});
  return std::optional<Loaded>(std::move(l));
}

store::WriteContext Engine::Impl::Ctx(const json& run) const {
  store::WriteContext c;
  c.actor = run.value("actor", std::string(kSystemActor));
  c.correlation_id = run.value("correlation_id", "");
  c.causation_id = run.value("run_id", "");
  return c;
}

json Engine::Impl::Payload(const json& run, const json& step, json extra) {
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
Status Engine::Impl::Persist(json& run, std::int64_t rev, const std::vector<Pending>& events) {
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

json Engine::Impl::View(json run) const {
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
json Engine::Impl::Summary(const json& run) {
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

Result<json> Engine::Impl::Start(const runtime::OrchStartRequest& req) {
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

Result<std::optional<std::string>> Engine::Impl::Replayed(const std::optional<store::RecordRow>& rec, const std::string& key,
                                                   const std::string& digest) {
  if (!rec) return std::optional<std::string>();
  json v = ParseOr(rec->value, json::object());
  if (v.value("request_digest", "") != digest) {
    return AbortedError("idempotency key \"" + key + "\" was used to start a different run; use a new key");
  }
  return std::optional<std::string>(v.value("run_id", ""));
}

Result<Engine::Impl::Loaded> Engine::Impl::Find(const std::string& orchestrator, const std::string& run_id) {
  BVER_ASSIGN_OR_RETURN(std::optional<Loaded> l, Load(run_id));
  if (!l || (!orchestrator.empty() && l->run.value("orchestrator", "") != orchestrator)) {
    return NotFoundError("no run " + run_id + (orchestrator.empty() ? "" : " of orchestrator " + orchestrator) +
                         " (see `bver orch list`)");
  }
  return std::move(*l);
}

Result<json> Engine::Impl::Get(const std::string& orchestrator, const std::string& run_id, double wait_seconds) {
  auto deadline = Clock::now() + std::chrono::microseconds(static_cast<std::int64_t>(std::max(0.0, wait_seconds) * 1e6));
  std::optional<Loaded> found;
  BVER_RETURN_IF_ERROR(follower
                           .WaitUntil(
                               [&]() -> Result<bool> {
                                 BVER_ASSIGN_OR_RETURN(found, Find(orchestrator, run_id));
                                 return found->run.value("state", "") != "running";
                               },
                               deadline)
                           .status());
  return View(std::move(found->run));
}

Result<json> Engine::Impl::Cancel(const std::string& orchestrator, const std::string& run_id, const std::string& actor,
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

void Engine::Impl::CancelJobs(const json& run, const std::vector<std::string>& jobs) {
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

Result<json> Engine::Impl::List(const std::string& orchestrator, const std::string& state, const std::string& after,
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
    threads.swap(impl_->threads);
  }
  impl_->follower.Stop();
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
