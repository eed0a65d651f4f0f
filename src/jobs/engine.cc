#include "src/jobs/engine.h"

#include "src/jobs/engine_impl.h"

namespace bver::jobs {
namespace internal {

bool Ended(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled" || state == "timed_out";
}

json ParseOr(const std::string& text, json fallback) {
  if (text.empty()) return fallback;
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

// Every string of `value` that the schema marks as a pointer field
// (x-bver-pointer), with where it sits. Follows properties,
// additionalProperties, items and the allOf/anyOf/oneOf branches.
void CollectPointers(const json& schema, const json& value, const json::json_pointer& at,
                     std::map<std::string, std::pair<json::json_pointer, std::string>>& out) {
  if (!schema.is_object()) return;
  if (schema.contains("x-bver-pointer") && value.is_string()) {
    out.emplace(at.to_string(), std::make_pair(at, value.get<std::string>()));
    return;
  }
  for (const char* k : {"allOf", "anyOf", "oneOf"}) {
    if (auto it = schema.find(k); it != schema.end() && it->is_array()) {
      for (const json& sub : *it) CollectPointers(sub, value, at, out);
    }
  }
  if (value.is_object()) {
    const json* props = schema.contains("properties") ? &schema.at("properties") : nullptr;
    const json* extra = schema.contains("additionalProperties") ? &schema.at("additionalProperties") : nullptr;
    for (auto it = value.begin(); it != value.end(); ++it) {
      if (props != nullptr && props->is_object() && props->contains(it.key())) {
        CollectPointers(props->at(it.key()), it.value(), at / it.key(), out);
      } else if (extra != nullptr && extra->is_object()) {
        CollectPointers(*extra, it.value(), at / it.key(), out);
      }
    }
  } else if (value.is_array()) {
    if (auto it = schema.find("items"); it != schema.end() && it->is_object()) {
      for (std::size_t i = 0; i < value.size(); ++i) CollectPointers(*it, value[i], at / i, out);
    }
  }
}

// Whether references of `from`'s repo reach the capability as `related`
// (and so pin its cache key): every repo unless bver.yaml lists `reads`.
bool Reads(const domain::Capability& cap, const Pointer& from) {
  if (cap.reads.empty()) return true;
  const std::string repo = from.ns() + "/" + from.repo();
  return std::find(cap.reads.begin(), cap.reads.end(), repo) != cap.reads.end();
}

// Every string of `value` that names an artifact digest ("sha256:" + 64
// lower-case hex digits), whatever field holds it.
void CollectDigests(const json& value, std::set<std::string>& out) {
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    if (s.size() == 71 && s.compare(0, 7, "sha256:") == 0 &&
        std::all_of(s.begin() + 7, s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); })) {
      out.insert(s);
    }
  } else if (value.is_structured()) {
    for (const json& v : value) CollectDigests(v, out);
  }
}

// Top-level defaults of the input schema, so that {site} and {site,
// bays_per_level: <its default>} are one job for the cache.
json WithDefaults(const json& schema, json input) {
  if (!input.is_object() || !schema.is_object()) return input;
  auto props = schema.find("properties");
  if (props == schema.end() || !props->is_object()) return input;
  for (auto it = props->begin(); it != props->end(); ++it) {
    if (it.value().is_object() && it.value().contains("default") && !input.contains(it.key())) {
      input[it.key()] = it.value().at("default");
    }
  }
  return input;
}

json RefEntry(const store::Reference& r) {
  return {{"pointer", r.pointer().ToString()},
          {"kind", r.kind.empty() ? json(nullptr) : json(r.kind)},
          {"body", r.body ? *r.body : json::object()}};
}

std::string DefaultWorkerName() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "localhost");
  return std::string(host) + ":" + std::to_string(::getpid());
}

}  // namespace internal

Engine::Impl::Impl(store::Store& s, CapabilityHost& h, EngineOptions o)
    : store(s), queue(s.backend()), records(s.backend()), host(h), options(std::move(o)) {
  if (options.worker_name.empty()) options.worker_name = DefaultWorkerName();
  if (options.worker_labels.is_null()) options.worker_labels = DetectLabels();
  if (options.heartbeat_ms <= 0) options.heartbeat_ms = std::max<std::int64_t>(1, options.job_lease_ms / 3);
  labels_text = options.worker_labels.dump();
  claim_local = store.backend().Name() == "sqlite";
  for (const domain::Capability& c : store.platform().capabilities) {
    if (!c.input_schema) continue;
    Result<std::unique_ptr<schema::Validator>> v = schema::Validator::Compile(*c.input_schema);
    // The domain compiler has compiled it already; one that fails here is refused at submit.
    if (v.ok()) input_validators.emplace(c.id, std::shared_ptr<const schema::Validator>(std::move(v).value()));
  }
}

Result<Spec> Engine::Impl::FindSpec(const std::string& name) const {
  Spec s;
  const domain::Job* job = nullptr;
  for (const domain::Job& j : platform().jobs) {
    if (j.name == name) job = &j;
  }
  if (job == nullptr) {
    s.cap = platform().FindCapability(name);
    if (s.cap == nullptr) {
      return NotFoundError("no job or capability \"" + name + "\" in bver.yaml");
    }
    for (const domain::Job& j : platform().jobs) {
      if (j.capability == name && job == nullptr) job = &j;
    }
    s.name = job != nullptr ? job->name : name;
  } else {
    s.name = job->name;
    s.cap = platform().FindCapability(job->capability);
    if (s.cap == nullptr) return NotFoundError("job " + name + " names unknown capability " + job->capability);
  }
  if (job != nullptr) {
    s.policy = job->on_conflict;
    s.timeout_ms = job->timeout_seconds * 1000;
    s.max_attempts = job->max_retries + 1;
  }
  if (options.timeout_ms_override > 0) s.timeout_ms = options.timeout_ms_override;
  return s;
}

Result<std::shared_ptr<const plugin::OutputContract>> Engine::Impl::ContractFor(const domain::Capability& cap,
                                                                 const BoundCapability& bound) {
  {
    std::lock_guard<std::mutex> l(mu);
    if (auto it = contracts.find(cap.id); it != contracts.end()) return it->second;
  }
  std::vector<domain::JsonPtr> declared = bound.declared_outputs;
  if (cap.output_schema) declared.push_back(cap.output_schema);
  BVER_ASSIGN_OR_RETURN(std::unique_ptr<plugin::OutputContract> c,
                        plugin::OutputContract::Make(cap.id, cap.primitive, declared, cap.writes));
  std::shared_ptr<const plugin::OutputContract> shared(std::move(c));
  std::lock_guard<std::mutex> l(mu);
  contracts.emplace(cap.id, shared);
  return shared;
}

// Checks `raw` against the capability's input schema and resolves it.
// Validates the input, pins its pointers and computes the cache key; with
// `with_related`, also reads the references pointing at each input
// reference (`related`, what the plugin is given). Submission needs only
// the key, so it skips the bodies: a network of 40,000 elements is keyed
// by a few link revisions, not by reading 40,000 references.
Result<Resolution> Engine::Impl::Resolve(const domain::Capability& cap, const json& raw, bool with_related) {
  Resolution r;
  json schema = cap.input_schema ? *cap.input_schema : json::object();
  r.input = WithDefaults(schema, raw.is_null() ? json::object() : raw);
  auto v = input_validators.find(cap.id);
  if (v == input_validators.end()) return InternalError("the input schema of " + cap.id + " does not compile");
  if (Status s = v->second->Validate(r.input); !s.ok()) {
    std::vector<Violation> viol = s.violations();
    for (Violation& x : viol) x.path = x.path.empty() ? "input" : "input." + x.path;
    return InvalidArgumentError("the input does not match the input schema of capability " + cap.id, viol);
  }
  std::map<std::string, std::pair<json::json_pointer, std::string>> found;
  CollectPointers(schema, r.input, json::json_pointer(), found);
  json pinned_input = r.input;
  std::set<std::string> seen;
  json links = json::object();
  for (auto& [where, entry] : found) {
    const std::string& text = entry.second;
    std::string field = "input" + (where.empty() ? "" : where);
    std::replace(field.begin(), field.end(), '/', '.');
    Result<Pointer> p = Pointer::Parse(text);
    if (!p.ok()) return InvalidArgumentError("input field " + field + " is not a pointer: " + p.status().message(),
                                             {{field, "pointer.syntax", p.status().message()}});
    Result<store::Reference> ref = store.Get(p->WithPath(AttributePath()));
    if (!ref.ok()) {
      if (ref.status().code() == StatusCode::kNotFound) {
        return NotFoundError("input field " + field + ": " + ref.status().message());
      }
      return ref.status().WithPrefix("input field " + field);
    }
    Pointer pinned = p->WithVersion(ref->version);
    pinned_input[entry.first] = pinned.ToString();
    r.resolved[text] = RefEntry(*ref);
    std::string key = ref->ns + "/" + ref->repo + "/" + ref->id;
    if (!seen.insert(key).second) continue;
    r.pins[key] = ref->version;
    r.targets.push_back(p->Reference());
    // The link revisions first, the related bodies after: a write in
    // between makes the bodies newer than the key, never older, so a
    // cached result can only miss, never be stale.
    BVER_ASSIGN_OR_RETURN(auto revs, store.LinkRevisions(p->Reference()));
    json counted = json::object();
    for (const auto& [repo, rev] : revs) {
      if (cap.reads.empty() || std::find(cap.reads.begin(), cap.reads.end(), repo) != cap.reads.end()) {
        counted[repo] = rev;
      }
    }
    // Keyed by the reference, not by how the input wrote it: "~N" for the
    // version it resolves to anyway must not change the key.
    links[p->Reference().ToString()] = std::move(counted);
    if (!with_related) continue;
    BVER_ASSIGN_OR_RETURN(std::vector<store::Store::Backlink> backlinks, store.ReferencesTo(p->Reference()));
    std::map<std::string, json> rel;  // by pinned pointer: sorted, one entry per reference
    for (const store::Store::Backlink& b : backlinks) {
      if (!Reads(cap, b.from)) continue;  // a repo the capability does not read (bver.yaml `reads`)
      Result<store::Reference> from = store.Get(b.from.Reference());
      if (!from.ok()) {
        if (from.status().code() == StatusCode::kNotFound) continue;  // deleted since
        return from.status();
      }
      json e = RefEntry(*from);
      std::string ptr = e["pointer"].get<std::string>();
      rel.emplace(std::move(ptr), std::move(e));
    }
    json list = json::array();
    list.get_ref<json::array_t&>().reserve(rel.size());
    for (auto& [ptr, e] : rel) list.push_back(std::move(e));
    r.related[text] = std::move(list);
  }
  // The key names what points at each input reference through its link
  // revisions (stricter than BVER.md's formula): a new, changed or deleted
  // asset at a site changes the key of a check of that site, so the
  // check's cached result is never stale.
  json key = {{"capability", cap.id},
              {"version", cap.version},
              {"input", pinned_input},
              {"links", links}};
  BVER_ASSIGN_OR_RETURN(r.cache_key, core::JsonDigest(key));
  return r;
}

store::WriteContext Engine::Impl::Ctx(const store::JobRow& row) const {
  store::WriteContext c;
  c.actor = row.actor.empty() ? "jobs" : row.actor;
  c.correlation_id = row.correlation_id;
  return c;
}

json Engine::Impl::EventPayload(const store::JobRow& row, const json& extra) {
  json p = {{"job_id", row.id}, {"job", row.job}, {"capability", row.capability},
            {"state", row.state}, {"attempt", row.attempts}};
  if (!row.worker.empty()) p["worker"] = row.worker;
  p.update(extra);
  return p;
}

json Engine::Impl::View(const store::JobRow& row) const {
  json extra = ParseOr(row.extra, json::object());
  json result = ParseOr(row.result, json::object());
  json v = {{"job_id", row.id},
            {"job", row.job},
            {"capability", row.capability},
            {"capability_version", extra.value("capability_version", "")},
            {"state", row.state},
            {"cache_hit", extra.value("cache_hit", false)},
            {"cache_key", extra.value("cache_key", "")},
            {"attempts", row.attempts},
            {"max_attempts", row.max_attempts},
            {"cancel_requested", row.cancel_requested},
            {"created_at", core::FormatTimestamp(row.created_at_us)},
            {"updated_at", core::FormatTimestamp(row.updated_at_us)},
            {"input", ParseOr(row.input, json::object())}};
  if (!row.worker.empty() && row.state == "running") v["worker"] = row.worker;
  if (row.state == "queued" && row.run_after_us > row.created_at_us) {
    v["run_after"] = core::FormatTimestamp(row.run_after_us);
  }
  if (result.contains("output")) v["result"] = result["output"];
  if (result.contains("error")) v["error"] = result["error"];
  if (extra.contains("commit")) v["commit"] = extra["commit"];
  if (extra.contains("policy_revision")) v["policy_revision"] = extra["policy_revision"];
  return v;
}

// The job an idempotency key was first used for, when it was; Aborted
// when it was used for a different request (digest).
Result<std::optional<std::string>> Engine::Impl::IdempotentJob(const std::optional<store::RecordRow>& rec, const std::string& key,
                                                 const std::string& digest) {
  if (!rec) return std::optional<std::string>();
  json v = ParseOr(rec->value, json::object());
  if (v.value("request_digest", "") != digest) {
    return AbortedError("idempotency key \"" + key + "\" was used for a different job start; use a new key");
  }
  return std::optional<std::string>(v.value("job_id", ""));
}

Result<json> Engine::Impl::Submit(const runtime::JobStartRequest& req) {
  BVER_ASSIGN_OR_RETURN(Spec spec, FindSpec(req.job));
  const domain::Capability& cap = *spec.cap;
  json raw = req.input ? *req.input : json::object();
  if (!raw.is_object()) return InvalidArgumentError("the job input must be a JSON object", {{"input", "type", "expected an object"}});
  std::string idem_digest;
  if (!req.idempotency_key.empty()) {
    BVER_ASSIGN_OR_RETURN(idem_digest, core::JsonDigest(json{{"job", spec.name}, {"input", raw}, {"no_cache", req.no_cache}}));
    BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> rec,
                          records.GetRecord(kJobIdempotencyKind, req.idempotency_key));
    BVER_ASSIGN_OR_RETURN(std::optional<std::string> seen, IdempotentJob(rec, req.idempotency_key, idem_digest));
    if (seen) return StatusOf(*seen, req.wait_seconds);
  }
  BVER_ASSIGN_OR_RETURN(BoundCapability bound, host.Bind(cap));
  BVER_ASSIGN_OR_RETURN(Resolution res, Resolve(cap, raw, /*with_related=*/false));
  json labels = json::object();
  for (const auto& [k, v] : bound.labels) labels[k] = v;
  for (const std::string& l : cap.requires_labels) {
    std::size_t eq = l.find('=');
    if (eq == std::string::npos) {
      labels[l] = "true";
    } else {
      labels[l.substr(0, eq)] = l.substr(eq + 1);
    }
  }
  std::int64_t now = store.Now();
  store::JobRow row;
  row.id = core::NewUuidV7();
  row.job = spec.name;
  row.capability = cap.id;
  row.input = res.input.dump();
  row.labels = labels.dump();
  row.correlation_id = req.correlation_id;
  row.actor = req.actor;
  row.max_attempts = spec.max_attempts;
  row.created_at_us = row.updated_at_us = row.run_after_us = now;
  json extra = {{"capability_version", cap.version},
                {"cache_key", res.cache_key},
                {"deterministic", cap.deterministic},
                {"no_cache", req.no_cache},
                {"pins", res.pins}};
  std::optional<store::RecordRow> cached;
  if (cap.deterministic && !req.no_cache) {
    BVER_ASSIGN_OR_RETURN(cached, records.GetRecord(kActionCacheKind, res.cache_key));
  }
  store::WriteContext ctx;
  ctx.actor = row.actor.empty() ? "jobs" : row.actor;
  ctx.correlation_id = req.correlation_id;
  ctx.causation_id = req.causation_id;
  json event = json::object();
  const char* event_type = kEventQueued;
  if (cached) {
    json rec = ParseOr(cached->value, json::object());
    row.state = "succeeded";
    row.result = json{{"output", rec.value("output", json::object())}}.dump();
    extra["cache_hit"] = true;
    extra["cached_from"] = rec.value("job_id", "");
    if (!store.policy_revision().empty()) extra["policy_revision"] = store.policy_revision();
    event_type = kEventSucceeded;
    event = {{"cache_hit", true}};
  } else {
    row.state = "queued";
  }
  row.extra = extra.dump();
  std::optional<std::string> replayed;  // set when another start with the key won the race
  BVER_RETURN_IF_ERROR(store
                           .Apply({}, ctx,
                                  [&](store::Txn& t, const store::Store::TxnHelpers& h) -> Status {
                                    replayed.reset();
                                    if (!req.idempotency_key.empty()) {
                                      BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> rec,
                                                            t.GetRecord(kJobIdempotencyKind, req.idempotency_key));
                                      BVER_ASSIGN_OR_RETURN(replayed,
                                                            IdempotentJob(rec, req.idempotency_key, idem_digest));
                                      if (replayed) return Status::Ok();
                                      BVER_RETURN_IF_ERROR(t.PutRecord(
                                          {kJobIdempotencyKind, req.idempotency_key,
                                           json{{"job_id", row.id}, {"request_digest", idem_digest}}.dump(),
                                           h.now_us()}));
                                    }
                                    BVER_RETURN_IF_ERROR(t.PutJob(row));
                                    return h.AppendEvent(t, kChannel, event_type, "job:" + row.id,
                                                         EventPayload(row, event), ctx)
                                        .status();
                                  })
                           .status());
  if (replayed) return StatusOf(*replayed, req.wait_seconds);
  if (!cached) {
    std::lock_guard<std::mutex> l(mu);
    if (claim_local && started && !stopping && options.threads > 0) local.push_back(row.id);
    work_cv.notify_one();
  }
  if (req.wait_seconds > 0 && !cached) return StatusOf(row.id, req.wait_seconds);
  return View(row);
}

Result<json> Engine::Impl::StatusOf(const std::string& id, double wait_seconds) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::microseconds(static_cast<std::int64_t>(std::max(0.0, wait_seconds) * 1e6));
  while (true) {
    BVER_ASSIGN_OR_RETURN(std::optional<store::JobRow> row, queue.GetJob(id));
    if (!row) return NotFoundError("no job " + id);
    if (Ended(row->state) || std::chrono::steady_clock::now() >= deadline) return View(*row);
    std::unique_lock<std::mutex> l(mu);
    // Woken when a job of this process ends; polls for other processes' workers.
    done_cv.wait_for(l, std::min<std::chrono::steady_clock::duration>(
                            std::chrono::milliseconds(20), deadline - std::chrono::steady_clock::now()));
  }
}

Result<json> Engine::Impl::Cancel(const std::string& id, const std::string& actor, const std::string& correlation_id) {
  store::JobRow out;
  bool found = false;
  store::WriteContext ctx;
  ctx.actor = actor.empty() ? "jobs" : actor;
  ctx.correlation_id = correlation_id;
  BVER_RETURN_IF_ERROR(store
                           .Apply({}, ctx,
                                  [&](store::Txn& t, const store::Store::TxnHelpers& h) -> bver::Status {
                                    found = false;
                                    BVER_ASSIGN_OR_RETURN(std::optional<store::JobRow> row, t.GetJob(id));
                                    if (!row) return bver::Status::Ok();
                                    found = true;
                                    out = *row;
                                    if (row->state == "queued") {
                                      out.state = "cancelled";
                                      out.cancel_requested = true;
                                      out.updated_at_us = h.now_us();
                                      out.result = json{{"error", {{"code", "cancelled"},
                                                                   {"message", "cancelled before it ran"}}}}
                                                       .dump();
                                      BVER_RETURN_IF_ERROR(t.PutJob(out));
                                      return h.AppendEvent(t, kChannel, kEventCancelled, "job:" + id,
                                                           EventPayload(out, json::object()), ctx)
                                          .status();
                                    }
                                    if (row->state == "running" && !row->cancel_requested) {
                                      out.cancel_requested = true;
                                      out.updated_at_us = h.now_us();
                                      BVER_RETURN_IF_ERROR(t.PutJob(out));
                                      return h.AppendEvent(t, kChannel, kEventCancelRequested, "job:" + id,
                                                           EventPayload(out, json::object()), ctx)
                                          .status();
                                    }
                                    return bver::Status::Ok();
                                  })
                           .status());
  if (!found) return NotFoundError("no job " + id);
  {
    std::lock_guard<std::mutex> l(mu);
    if (auto it = active.find(id); it != active.end()) {
      it->second->cancel_requested = true;
      it->second->cancel = true;
    }
    done_cv.notify_all();
  }
  return View(out);
}

Engine::Engine(store::Store& store, CapabilityHost& host, EngineOptions options)
    : impl_(std::make_unique<Impl>(store, host, std::move(options))) {}

Engine::~Engine() { Stop(); }

void Engine::Start() {
  std::lock_guard<std::mutex> l(impl_->mu);
  if (impl_->started) return;
  impl_->started = true;
  impl_->threads.emplace_back([this] { impl_->Monitor(); });
  for (int i = 0; i < impl_->options.threads; ++i) {
    std::string name = impl_->options.worker_name + "/" + std::to_string(i);
    impl_->threads.emplace_back([this, name] { impl_->WorkerLoop(name); });
  }
}

void Engine::Stop() {
  {
    std::unique_lock<std::mutex> l(impl_->mu);
    impl_->stopping = true;
    impl_->work_cv.notify_all();
    impl_->stop_cv.notify_all();
    // Running jobs get the grace period to end; the others are abandoned:
    // their plugins are cancelled, nothing is written, their job leases
    // lapse and another worker runs them again.
    impl_->done_cv.wait_for(l, std::chrono::milliseconds(impl_->options.stop_grace_ms),
                            [&] { return impl_->active.empty(); });
    for (auto& [id, e] : impl_->active) {
      e->lost = true;
      e->cancel = true;
    }
  }
  for (std::thread& t : impl_->threads) {
    if (t.joinable()) t.join();
  }
  impl_->threads.clear();
}

Result<nlohmann::json> Engine::StartJob(const runtime::JobStartRequest& request) { return impl_->Submit(request); }

Result<nlohmann::json> Engine::JobStatus(const std::string& job_id, double wait_seconds) {
  return impl_->StatusOf(job_id, wait_seconds);
}

Result<nlohmann::json> Engine::CancelJob(const std::string& job_id, const std::string& actor,
                                         const std::string& correlation_id) {
  return impl_->Cancel(job_id, actor, correlation_id);
}

Result<std::vector<nlohmann::json>> Engine::List(const std::string& state, const std::string& after_id,
                                                 std::size_t limit) {
  BVER_ASSIGN_OR_RETURN(std::vector<store::JobRow> rows, impl_->queue.ListJobs(state, after_id, limit));
  std::vector<json> out;
  for (const store::JobRow& r : rows) out.push_back(impl_->View(r));
  return out;
}

Result<nlohmann::json> Engine::ListJobs(const std::string& state, const std::string& after, std::size_t limit) {
  limit = std::clamp<std::size_t>(limit, 1, 1000);
  // One more than asked: whether a next page exists.
  BVER_ASSIGN_OR_RETURN(std::vector<nlohmann::json> jobs, List(state, after, limit + 1));
  nlohmann::json next = nullptr;
  if (jobs.size() > limit) {
    jobs.resize(limit);
    next = jobs.back()["job_id"];
  }
  return nlohmann::json{{"jobs", std::move(jobs)}, {"next_cursor", std::move(next)}};
}

Result<bool> Engine::RunOne(const std::string& worker) { return impl_->RunOne(worker); }

Result<std::string> Engine::CacheKeyForTest(const std::string& job_or_capability, const nlohmann::json& input) {
  BVER_ASSIGN_OR_RETURN(Spec spec, impl_->FindSpec(job_or_capability));
  BVER_ASSIGN_OR_RETURN(Resolution r, impl_->Resolve(*spec.cap, input));
  return r.cache_key;
}

}  // namespace bver::jobs
