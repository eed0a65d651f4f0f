#include "src/jobs/engine.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <unistd.h>

#include "src/core/clock.h"
#include "src/core/digest.h"
#include "src/core/uuid.h"
#include "src/plugin/contracts.h"
#include "src/plugin/runner.h"
#include "src/schema/validator.h"
#include "src/store/store.h"
#include "src/runtime/problem.h"

namespace bver::jobs {
namespace {

using nlohmann::json;
using domain::ConflictPolicy;
using domain::Primitive;

constexpr const char* kChannel = "control";

bool Ended(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "cancelled" || state == "timed_out";
}

using runtime::ErrorJson;

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

// What a job runs on: the input with defaults, every pointer pinned, the
// references pointing at them, and the key all of that gives.
struct Resolution {
  json input;             // with defaults, pointers as given
  json resolved = json::object();
  json related = json::object();
  json pins = json::object();  // "ns/repo/id" -> version (input pointers)
  std::vector<Pointer> targets;  // input references (unpinned, no path), unique
  std::string cache_key;
};

struct Spec {
  std::string name;  // the job's name, or the capability id for a capability without a job
  const domain::Capability* cap = nullptr;
  ConflictPolicy policy = ConflictPolicy::kFail;
  std::int64_t timeout_ms = 300000;
  int max_attempts = 4;
};

// What ended an attempt.
enum class Outcome { kSucceeded, kFailed, kTimedOut, kCancelled, kLost, kRetry, kRestart };

struct Execution {
  std::string job_id;
  std::string worker;
  std::string correlation_id;
  std::int64_t attempt = 0;
  std::atomic<bool> cancel{false};     // what the runner watches
  std::atomic<bool> timed_out{false};  // set with cancel at the deadline
  std::atomic<bool> cancel_requested{false};
  std::atomic<bool> lost{false};  // the job lease was lost (taken over)
  std::int64_t deadline_us = 0;
  std::int64_t next_heartbeat_us = 0;
  std::int64_t claimed_us = 0;
  std::vector<Pointer> leased;  // GUARDED_BY(Impl::mu) while registered
  // The job.started event is appended by the monitor once the job has run
  // for EngineOptions::started_event_delay_ms, or else in the transaction
  // that ends the job (before its end event): one transaction less for
  // short jobs, and the log keeps started before the end either way.
  std::mutex started_mu;
  bool started_pending = true;  // GUARDED_BY(started_mu)
  // The next job of this engine's queue, claimed in the transaction that
  // ended this one (SQLite; see CommitAs). Only the worker thread touches it.
  std::optional<store::JobRow> next;
  nlohmann::json started_payload;  // set before the execution is shared
};

std::string DefaultWorkerName() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "localhost");
  return std::string(host) + ":" + std::to_string(::getpid());
}

}  // namespace

struct Engine::Impl {
  store::Store& store;
  CapabilityHost& host;
  EngineOptions options;
  std::string labels_text;
  std::map<std::string, std::shared_ptr<const schema::Validator>> input_validators;  // immutable after ctor

  std::mutex mu;
  std::condition_variable work_cv;  // a job was queued here
  std::condition_variable done_cv;  // a job ended here
  std::condition_variable stop_cv;  // Stop() was called (wakes the monitor)
  // Jobs queued by this engine, claimed by id before the store's queue is
  // asked (SQLite only; see ClaimLocal).
  std::deque<std::string> local;    // GUARDED_BY(mu)
  bool claim_local = false;         // immutable after the constructor
  bool stopping = false;            // GUARDED_BY(mu)
  bool started = false;             // GUARDED_BY(mu)
  std::map<std::string, std::shared_ptr<Execution>> active;  // GUARDED_BY(mu)
  std::map<std::string, std::shared_ptr<const plugin::OutputContract>> contracts;  // GUARDED_BY(mu)
  std::vector<std::thread> threads;
  std::mt19937_64 rng{std::random_device{}()};  // GUARDED_BY(mu)

  Impl(store::Store& s, CapabilityHost& h, EngineOptions o) : store(s), host(h), options(std::move(o)) {
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

  const domain::Platform& platform() const { return store.platform(); }

  Result<Spec> FindSpec(const std::string& name) const {
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

  Result<std::shared_ptr<const plugin::OutputContract>> ContractFor(const domain::Capability& cap,
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
  Result<Resolution> Resolve(const domain::Capability& cap, const json& raw, bool with_related = true) {
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


  store::WriteContext Ctx(const store::JobRow& row) const {
    store::WriteContext c;
    c.actor = row.actor.empty() ? "jobs" : row.actor;
    c.correlation_id = row.correlation_id;
    return c;
  }

  static json EventPayload(const store::JobRow& row, const json& extra) {
    json p = {{"job_id", row.id}, {"job", row.job}, {"capability", row.capability},
              {"state", row.state}, {"attempt", row.attempts}};
    if (!row.worker.empty()) p["worker"] = row.worker;
    p.update(extra);
    return p;
  }

  json View(const store::JobRow& row) const {
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
    return v;
  }

  // ---- submission ----

  // The job an idempotency key was first used for, when it was; Aborted
  // when it was used for a different request (digest).
  Result<std::optional<std::string>> IdempotentJob(const std::optional<store::RecordRow>& rec, const std::string& key,
                                                   const std::string& digest) {
    if (!rec) return std::optional<std::string>();
    json v = ParseOr(rec->value, json::object());
    if (v.value("request_digest", "") != digest) {
      return AbortedError("idempotency key \"" + key + "\" was used for a different job start; use a new key");
    }
    return std::optional<std::string>(v.value("job_id", ""));
  }

  Result<json> Submit(const runtime::JobStartRequest& req) {
    BVER_ASSIGN_OR_RETURN(Spec spec, FindSpec(req.job));
    const domain::Capability& cap = *spec.cap;
    json raw = req.input ? *req.input : json::object();
    if (!raw.is_object()) return InvalidArgumentError("the job input must be a JSON object", {{"input", "type", "expected an object"}});
    std::string idem_digest;
    if (!req.idempotency_key.empty()) {
      BVER_ASSIGN_OR_RETURN(idem_digest, core::JsonDigest(json{{"job", spec.name}, {"input", raw}, {"no_cache", req.no_cache}}));
      BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> rec,
                            store.backend().GetRecord(kJobIdempotencyKind, req.idempotency_key));
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
      BVER_ASSIGN_OR_RETURN(cached, store.backend().GetRecord(kActionCacheKind, res.cache_key));
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

  // ---- status, cancel, wait ----

  Result<json> StatusOf(const std::string& id, double wait_seconds) {
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::microseconds(static_cast<std::int64_t>(std::max(0.0, wait_seconds) * 1e6));
    while (true) {
      BVER_ASSIGN_OR_RETURN(std::optional<store::JobRow> row, store.backend().GetJob(id));
      if (!row) return NotFoundError("no job " + id);
      if (Ended(row->state) || std::chrono::steady_clock::now() >= deadline) return View(*row);
      std::unique_lock<std::mutex> l(mu);
      // Woken when a job of this process ends; polls for other processes' workers.
      done_cv.wait_for(l, std::min<std::chrono::steady_clock::duration>(
                              std::chrono::milliseconds(20), deadline - std::chrono::steady_clock::now()));
    }
  }

  Result<json> Cancel(const std::string& id, const std::string& actor, const std::string& correlation_id) {
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

  // ---- workers ----

  std::int64_t Backoff(std::int64_t attempt) {
    std::int64_t base = options.backoff_base_ms;
    for (std::int64_t i = 1; i < attempt && base < options.backoff_max_ms; ++i) base *= 2;
    base = std::min(base, options.backoff_max_ms);
    std::lock_guard<std::mutex> l(mu);
    std::uniform_real_distribution<double> jitter(0.5, 1.5);
    return static_cast<std::int64_t>(static_cast<double>(base) * jitter(rng));
  }

  // Ends (or requeues) the attempt `row` of `worker` in one transaction,
  // after checking that it still holds it. `changes` (a generator's
  // changeset) are committed in the same transaction. Lost: another worker
  // holds the job now (nothing written).
  enum class Guard { kOk, kLost, kCancelRequested, kInputChanged };
  struct Finish {
    std::string state;  // succeeded, failed, cancelled, timed_out, queued (retry)
    json result;        // {"output": ...} or {"error": ...}
    const char* event = kEventFailed;
    json event_extra = json::object();
    std::int64_t run_after_us = 0;
    std::string cache_key;  // succeeded & deterministic: the cache record's key
    json pins;              // non-null: check the input heads are still at these versions
    bool honour_cancel = false;
    json started_event;     // non-null: append job.started with this payload first
    std::string claim_next; // non-empty: also claim this queued job for row.worker
  };

  // In transaction `t`: claims queued job `id` for `worker` when it is due
  // and our labels fit it (else nothing).
  Result<std::optional<store::JobRow>> ClaimIn(store::Txn& t, const std::string& id, const std::string& worker,
                                               std::int64_t now_us) {
    BVER_ASSIGN_OR_RETURN(std::optional<store::JobRow> row, t.GetJob(id));
    if (!row || row->state != "queued" || row->run_after_us > now_us || !store::LabelsMatch(row->labels, labels_text)) {
      return std::optional<store::JobRow>();
    }
    row->state = "running";
    row->worker = worker;
    row->attempts += 1;
    row->lease_expires_at_us = now_us + options.job_lease_ms * 1000;
    row->updated_at_us = now_us;
    BVER_RETURN_IF_ERROR(t.PutJob(*row));
    return row;
  }

  Result<Guard> Commit(const store::JobRow& row, const std::vector<store::Change>& changes, const Finish& f,
                       const json& provenance, std::vector<store::Reference>* written,
                       std::optional<store::JobRow>* claimed_next = nullptr) {
    Guard guard = Guard::kOk;
    store::WriteContext ctx = Ctx(row);
    if (!changes.empty()) {
      ctx.actor = "plugin:" + ParseOr(row.extra, json::object()).value("plugin", std::string("unknown"));
      ctx.lease_holder = "job:" + row.id;
      ctx.provenance = std::make_shared<const json>(provenance);
    }
    Result<std::vector<store::Reference>> r = store.Apply(
        changes, ctx, [&](store::Txn& t, const store::Store::TxnHelpers& h) -> bver::Status {
          guard = Guard::kOk;
          if (claimed_next != nullptr) claimed_next->reset();
          BVER_ASSIGN_OR_RETURN(std::optional<store::JobRow> cur, t.GetJob(row.id));
          if (!cur || cur->state != "running" || cur->worker != row.worker || cur->attempts != row.attempts) {
            guard = Guard::kLost;
            return AbortedError("job " + row.id + " is no longer held by " + row.worker);
          }
          if (f.honour_cancel && cur->cancel_requested) {
            guard = Guard::kCancelRequested;
            return AbortedError("job " + row.id + " was cancelled");
          }
          if (f.pins.is_object()) {
            for (auto it = f.pins.begin(); it != f.pins.end(); ++it) {
              Result<Pointer> p = Pointer::Parse("bver://" + it.key());
              if (!p.ok()) continue;
              BVER_ASSIGN_OR_RETURN(std::optional<store::VersionRow> head, t.GetHead(p->ns(), p->repo(), p->id()));
              if (!head || head->version != it.value().get<std::uint64_t>()) {
                guard = Guard::kInputChanged;
                return AbortedError("input bver://" + it.key() + " changed from version " +
                                    std::to_string(it.value().get<std::uint64_t>()) + " to " +
                                    (head ? std::to_string(head->version) : std::string("deleted")) +
                                    " while the job ran");
              }
            }
          }
          if (!f.started_event.is_null()) {
            BVER_RETURN_IF_ERROR(
                h.AppendEvent(t, kChannel, kEventStarted, "job:" + row.id, f.started_event, ctx).status());
          }
          store::JobRow next_row = *cur;
          next_row.state = f.state;
          next_row.updated_at_us = h.now_us();
          next_row.result = f.result.dump();
          json extra = ParseOr(cur->extra, json::object());
          if (!f.cache_key.empty()) extra["cache_key"] = f.cache_key;
          if (written != nullptr && !changes.empty()) extra["commit"] = {{"changes", changes.size()}};
          next_row.extra = extra.dump();
          if (f.state == "queued") {
            next_row.worker.clear();
            next_row.lease_expires_at_us = 0;
            next_row.run_after_us = f.run_after_us;
          }
          BVER_RETURN_IF_ERROR(t.PutJob(next_row));
          if (f.state == "succeeded" && !f.cache_key.empty()) {
            json rec = {{"capability", row.capability},
                        {"capability_version", extra.value("capability_version", "")},
                        {"output", f.result.value("output", json::object())},
                        {"job_id", row.id},
                        {"created_at", core::FormatTimestamp(h.now_us())}};
            BVER_RETURN_IF_ERROR(t.PutRecord({kActionCacheKind, f.cache_key, rec.dump(), h.now_us()}));
          }
          BVER_RETURN_IF_ERROR(
              h.AppendEvent(t, kChannel, f.event, "job:" + row.id, EventPayload(next_row, f.event_extra), ctx)
                  .status());
          if (!f.claim_next.empty() && claimed_next != nullptr) {
            BVER_ASSIGN_OR_RETURN(*claimed_next, ClaimIn(t, f.claim_next, row.worker, h.now_us()));
          }
          return bver::Status::Ok();
        });
    if (!r.ok()) {
      if (guard != Guard::kOk) return guard;
      return r.status();
    }
    if (written != nullptr) *written = std::move(r).value();
    return Guard::kOk;
  }

  // Commit, with the job.started event first when it is still pending.
  Result<Guard> CommitAs(Execution& e, const store::JobRow& row, const std::vector<store::Change>& changes,
                         Finish f, const json& provenance, std::vector<store::Reference>* written) {
    std::lock_guard<std::mutex> l(e.started_mu);
    if (e.started_pending) f.started_event = e.started_payload;
    // The worker's next job from this engine's queue is claimed in the same
    // transaction: one write transaction less per job.
    f.claim_next = PopLocal();
    Result<Guard> g = Commit(row, changes, f, provenance, written, &e.next);
    bool committed = g.ok() && *g == Guard::kOk;
    if (committed) e.started_pending = false;
    if (!committed) {
      e.next.reset();
      if (!f.claim_next.empty()) PushLocalFront(f.claim_next);
    }
    return g;
  }

  // The next job id this engine queued, or "" (none, not on SQLite, or stopping).
  std::string PopLocal() {
    std::lock_guard<std::mutex> l(mu);
    if (!claim_local || stopping || local.empty()) return "";
    std::string id = std::move(local.front());
    local.pop_front();
    return id;
  }
  void PushLocalFront(std::string id) {
    std::lock_guard<std::mutex> l(mu);
    local.push_front(std::move(id));
    work_cv.notify_one();
  }

  void NotifyDone() {
    std::lock_guard<std::mutex> l(mu);
    done_cv.notify_all();
  }

  // Ends the attempt without a changeset; a lost job is left alone.
  void End(Execution& e, const store::JobRow& row, Finish f) {
    Result<Guard> g = CommitAs(e, row, {}, std::move(f), json(), nullptr);
    if (!g.ok()) {
      // The store refused: the job stays running and is taken over when its
      // lease expires. Say so once on stderr; nothing else can be done here.
      std::fprintf(stderr, "bver jobs: cannot record the end of job %s: %s\n", row.id.c_str(),
                   g.status().ToString().c_str());
    }
    NotifyDone();
  }

  Finish Failed(const Status& s, const char* event = kEventFailed, const std::string& state = "failed") {
    Finish f;
    f.state = state;
    f.event = event;
    f.result = {{"error", ErrorJson(s)}};
    f.event_extra = {{"error", ErrorJson(s)}};
    return f;
  }

  // A retryable failure: requeued with backoff, or failed when attempts are spent.
  Finish Retry(const store::JobRow& row, const Status& s) {
    if (row.attempts >= row.max_attempts) {
      return Failed(s.WithPrefix("gave up after " + std::to_string(row.attempts) + " attempt(s)"));
    }
    Finish f;
    f.state = "queued";
    f.event = kEventRetrying;
    f.run_after_us = store.Now() + Backoff(row.attempts) * 1000;
    f.result = {{"error", ErrorJson(s)}};
    f.event_extra = {{"error", ErrorJson(s)}, {"run_after", core::FormatTimestamp(f.run_after_us)}};
    return f;
  }

  // `generator`: a create whose id exists is skipped (a deterministic
  // generator run again is a no-op); for an interpreter or a simulator it is
  // an error (an import must not silently leave an older network in place).
  Result<std::vector<store::Change>> ToChanges(const json& changeset, bool generator) {
    std::vector<store::Change> out;
    for (const json& c : changeset.value("creates", json::array())) {
      store::Change ch;
      ch.op = store::Change::Op::kCreate;
      ch.repo = c.value("repo", "");
      ch.kind = c.value("kind", "");
      ch.id = c.value("id", "");
      ch.skip_if_exists = generator && !ch.id.empty();
      ch.body = std::make_shared<const json>(c.value("body", json::object()));
      out.push_back(std::move(ch));
    }
    std::size_t i = 0;
    for (const json& c : changeset.value("patches", json::array())) {
      store::Change ch;
      ch.op = store::Change::Op::kPatch;
      Result<Pointer> p = Pointer::Parse(c.value("pointer", ""));
      if (!p.ok()) {
        return InvalidArgumentError("changeset.patches[" + std::to_string(i) + "].pointer: " + p.status().message());
      }
      ch.target = p->Reference();
      if (c.contains("merge")) {
        ch.format = store::PatchFormat::kMergePatch;
        ch.body = std::make_shared<const json>(c.at("merge"));
      } else {
        ch.format = store::PatchFormat::kJsonPatch;
        ch.body = std::make_shared<const json>(c.value("patch", json::array()));
      }
      out.push_back(std::move(ch));
      ++i;
    }
    i = 0;
    for (const json& c : changeset.value("deletes", json::array())) {
      store::Change ch;
      ch.op = store::Change::Op::kDelete;
      Result<Pointer> p = Pointer::Parse(c.value("pointer", ""));
      if (!p.ok()) {
        return InvalidArgumentError("changeset.deletes[" + std::to_string(i) + "].pointer: " + p.status().message());
      }
      ch.target = p->Reference();
      out.push_back(std::move(ch));
      ++i;
    }
    return out;
  }

  std::shared_ptr<Execution> Register(const store::JobRow& row, std::int64_t timeout_ms) {
    auto e = std::make_shared<Execution>();
    e->job_id = row.id;
    e->worker = row.worker;
    e->attempt = row.attempts;
    std::int64_t now = store.Now();
    e->claimed_us = now;
    e->correlation_id = row.correlation_id;
    e->started_payload = EventPayload(row, {{"started_at", core::FormatTimestamp(now)}});
    e->deadline_us = now + timeout_ms * 1000;
    e->next_heartbeat_us = now + options.heartbeat_ms * 1000;
    std::lock_guard<std::mutex> l(mu);
    active[row.id] = e;
    return e;
  }

  void Unregister(const std::string& id) {
    std::lock_guard<std::mutex> l(mu);
    active.erase(id);
  }

  // Stores the output's `attachments` ([{digest, media_type, content}]:
  // files a capability produced, such as a report) as artifacts, checking
  // each digest, and keeps only {digest, media_type, size} in the output.
  Status StoreAttachments(const domain::Capability& cap, json& out) const {
    auto it = out.find("attachments");
    if (it == out.end()) return Status::Ok();
    if (!it->is_array()) {
      return InvalidArgumentError("capability " + cap.id + " returned attachments that are not an array");
    }
    if (!options.put_artifact) {
      return FailedPreconditionError("capability " + cap.id + " returned attachments, but this runtime has no artifact store");
    }
    for (std::size_t i = 0; i < it->size(); ++i) {
      json& a = (*it)[i];
      const std::string where = "attachments[" + std::to_string(i) + "]";
      if (!a.is_object() || !a.contains("content") || !a["content"].is_string() || !a.contains("digest") ||
          !a["digest"].is_string()) {
        return InvalidArgumentError("capability " + cap.id + " returned a malformed attachment at " + where +
                                    " (expected {digest, media_type, content})");
      }
      const std::string& content = a["content"].get_ref<const std::string&>();
      Result<std::string> digest = options.put_artifact(content);
      if (!digest.ok()) return digest.status().WithPrefix("storing " + where + " of capability " + cap.id);
      if (*digest != a["digest"].get<std::string>()) {
        return InvalidArgumentError("capability " + cap.id + " named " + where + " " + a["digest"].get<std::string>() +
                                    ", but its content hashes to " + *digest);
      }
      a["size"] = content.size();
      a.erase("content");
    }
    return Status::Ok();
  }

  // {digest: path} for the stored artifacts the input names.
  json ArtifactPaths(const json& input) const {
    json out = json::object();
    if (!options.artifact_path) return out;
    std::set<std::string> digests;
    CollectDigests(input, digests);
    for (const std::string& d : digests) {
      if (std::optional<std::string> path = options.artifact_path(d)) out[d] = *path;
    }
    return out;
  }

  void ReleaseLeases(Execution& e) {
    std::vector<Pointer> leased;
    {
      std::lock_guard<std::mutex> l(mu);
      leased.swap(e.leased);
    }
    if (e.lost) return;  // the holder "job:<id>" is the new attempt's now
    for (const Pointer& p : leased) (void)store.ReleaseLease(p, "job:" + e.job_id);
  }

  // Runs the capability once, or k-of-n times for a capability marked for
  // trust: the output that at least `trust_agree` runs gave (compared by
  // the digest of its canonical JSON). Runs go one after the other and stop
  // early once the answer is decided.
  Result<json> InvokeTrusted(const BoundCapability& bound, const plugin::Invocation& inv, Execution& e) {
    if (bound.trust_runs <= 1) return bound.runner->Invoke(inv);
    std::map<std::string, std::pair<int, json>> seen;  // digest -> (count, output)
    Status last_error;
    int failed = 0;
    for (int i = 0; i < bound.trust_runs; ++i) {
      Result<json> r = bound.runner->Invoke(inv);
      if (e.cancel) return r.ok() ? Result<json>(Status(StatusCode::kCancelled, "cancelled")) : r;
      if (!r.ok()) {
        last_error = r.status();
        ++failed;
      } else {
        Result<std::string> d = core::JsonDigest(*r);
        if (!d.ok()) return d.status();
        auto& slot = seen[*d];
        slot.first += 1;
        slot.second = std::move(r).value();
        if (slot.first >= bound.trust_agree) return slot.second;
      }
      int best = 0;
      for (const auto& [digest, v] : seen) best = std::max(best, v.first);
      if (best + (bound.trust_runs - i - 1) < bound.trust_agree) break;  // cannot reach k any more
    }
    if (seen.empty() && failed > 0) return last_error;
    int best = 0;
    for (const auto& [digest, v] : seen) best = std::max(best, v.first);
    return Status(StatusCode::kFailedPrecondition,
                  "trust: " + std::to_string(best) + " run(s) agreed on one output; " + std::to_string(bound.trust_agree) +
                      " of " + std::to_string(bound.trust_runs) + " needed (" + std::to_string(failed) + " failed)");
  }

  // One run of the capability; what ended it is in the returned Finish (and
  // `outcome`).
  Outcome Attempt(store::JobRow& row, const Spec& spec, Execution& e, Finish& finish) {
    const domain::Capability& cap = *spec.cap;
    Result<BoundCapability> bound = host.Bind(cap);
    if (!bound.ok()) {
      finish = Failed(bound.status());
      return Outcome::kFailed;
    }
    {
      json extra = ParseOr(row.extra, json::object());
      extra["plugin"] = bound->plugin_id.empty() ? cap.plugin : bound->plugin_id;
      row.extra = extra.dump();
    }
    Result<Resolution> res = Resolve(cap, ParseOr(row.input, json::object()));
    if (!res.ok()) {
      finish = Failed(res.status().WithPrefix("the job's input no longer resolves"));
      return Outcome::kFailed;
    }
    const bool generator = cap.primitive == Primitive::kGenerator;
    // Interpreters and simulators that declare `writes` may return a
    // changeset too (an import, a study); only a generator must.
    const bool may_write = generator || (!cap.writes.empty() && (cap.primitive == Primitive::kInterpreter ||
                                                                 cap.primitive == Primitive::kSimulator));
    if (generator) {
      // Lease the references the generator works on before it runs.
      for (const Pointer& p : res->targets) {
        Result<store::Lease> l = store.AcquireLease(p, "job:" + row.id, options.ref_lease_ms);
        if (!l.ok()) {
          finish = Failed(l.status());
          return l.status().code() == StatusCode::kAborted ? Conflict(row, spec, l.status(), false, finish)
                                                           : Outcome::kFailed;
        }
        std::lock_guard<std::mutex> g(mu);
        e.leased.push_back(p);
      }
      // What was read before the lease may have changed: read again under it.
      res = Resolve(cap, ParseOr(row.input, json::object()));
      if (!res.ok()) {
        finish = Failed(res.status().WithPrefix("the job's input no longer resolves"));
        return Outcome::kFailed;
      }
    }
    plugin::Invocation inv;
    inv.capability_id = cap.id;
    inv.capability_version = cap.version;
    inv.input = res->input;
    inv.resolved = res->resolved;
    inv.related = res->related;
    inv.artifacts = ArtifactPaths(res->input);
    inv.job_id = row.id;
    inv.attempt = static_cast<int>(row.attempts);
    inv.cancel = &e.cancel;
    Result<json> out = InvokeTrusted(*bound, inv, e);
    if (e.lost) return Outcome::kLost;
    if (e.cancel_requested) {
      finish = Failed(Status(StatusCode::kCancelled, "cancelled while running"), kEventCancelled, "cancelled");
      return Outcome::kCancelled;
    }
    if (e.timed_out || (!out.ok() && out.status().code() == StatusCode::kDeadlineExceeded)) {
      Status s = e.timed_out ? Status(StatusCode::kDeadlineExceeded,
                                      "the job ran longer than its timeout of " + std::to_string(spec.timeout_ms) +
                                          " ms and was stopped")
                             : out.status();
      finish = Failed(s, kEventTimedOut, "timed_out");
      return Outcome::kTimedOut;
    }
    if (!out.ok()) {
      if (out.status().code() == StatusCode::kUnavailable) {
        finish = Retry(row, out.status());
        return finish.state == "queued" ? Outcome::kRetry : Outcome::kFailed;
      }
      finish = Failed(out.status().WithPrefix("capability " + cap.id + " failed"));
      return Outcome::kFailed;
    }
    Result<std::shared_ptr<const plugin::OutputContract>> contract = ContractFor(cap, *bound);
    if (!contract.ok()) {
      finish = Failed(contract.status());
      return Outcome::kFailed;
    }
    if (Status s = (*contract)->Check(*out); !s.ok()) {
      finish = Failed(s);
      return Outcome::kFailed;
    }
    if (Status s = StoreAttachments(cap, *out); !s.ok()) {
      finish = Failed(s);
      return Outcome::kFailed;
    }
    std::vector<store::Change> changes;
    if (generator || (may_write && out->contains("changeset"))) {
      const json& cs = out->contains("changeset") ? out->at("changeset") : json::object();
      if (Status s = plugin::CheckChangesetWrites(cap.id, cs, cap.writes); !s.ok()) {
        finish = Failed(s);
        return Outcome::kFailed;
      }
      Result<std::vector<store::Change>> ch = ToChanges(cs, generator);
      if (!ch.ok()) {
        finish = Failed(ch.status());
        return Outcome::kFailed;
      }
      changes = std::move(ch).value();
    }
    Finish ok;
    ok.state = "succeeded";
    ok.event = kEventSucceeded;
    if (!generator) {
      // What an interpreter or simulator wrote is in the store (each
      // version's provenance names this job); the job keeps the counts, not
      // a second copy of a network.
      if (auto it = out->find("changeset"); it != out->end() && it->is_object()) {
        json counts = json::object();
        for (const char* section : {"creates", "patches", "deletes"}) {
          counts[section] = it->contains(section) && (*it)[section].is_array() ? (*it)[section].size() : 0;
        }
        *it = std::move(counts);
      }
    }
    ok.result = {{"output", *out}};
    ok.honour_cancel = true;
    ok.pins = res->pins;
    const bool deterministic = ParseOr(row.extra, json::object()).value("deterministic", cap.deterministic);
    if (deterministic) ok.cache_key = res->cache_key;
    ok.event_extra = {{"cache_hit", false}, {"changes", changes.size()}};
    json provenance = {{"job", row.id},
                       {"job_name", row.job},
                       {"capability", cap.id + "@" + cap.version},
                       {"input_digest", res->cache_key},
                       {"attempt", row.attempts}};
    std::vector<store::Reference> written;
    Result<Guard> g = CommitAs(e, row, changes, ok, provenance, &written);
    if (!g.ok()) {
      if (g.status().code() == StatusCode::kAborted) return Conflict(row, spec, g.status(), false, finish);
      if (g.status().code() == StatusCode::kUnavailable) {
        finish = Retry(row, g.status());
        return finish.state == "queued" ? Outcome::kRetry : Outcome::kFailed;
      }
      finish = Failed(g.status().WithPrefix("the changeset of capability " + cap.id + " was not committed"));
      return Outcome::kFailed;
    }
    switch (*g) {
      case Guard::kOk:
        return Outcome::kSucceeded;
      case Guard::kLost:
        e.lost = true;
        return Outcome::kLost;
      case Guard::kCancelRequested:
        finish = Failed(Status(StatusCode::kCancelled, "cancelled while running; its output was discarded"),
                        kEventCancelled, "cancelled");
        return Outcome::kCancelled;
      case Guard::kInputChanged:
        return Conflict(row, spec, AbortedError("an input changed while the job ran"), true, finish);
    }
    return Outcome::kFailed;
  }

  // The job's conflict policy applied to conflict `s`.
  Outcome Conflict(const store::JobRow& row, const Spec& spec, const Status& s, bool input_changed, Finish& finish) {
    Status conflict(StatusCode::kAborted, "conflict: " + s.message());
    switch (spec.policy) {
      case ConflictPolicy::kFail:
        finish = Failed(conflict);
        return Outcome::kFailed;
      case ConflictPolicy::kRestartOnWrite:
        if (input_changed) return Outcome::kRestart;
        [[fallthrough]];  // another's lease: wait for it like retry, then run on what it wrote
      case ConflictPolicy::kRetry:
        finish = Retry(row, conflict);
        return finish.state == "queued" ? Outcome::kRetry : Outcome::kFailed;
    }
    return Outcome::kFailed;
  }

  // Runs claimed job `row` to its end; answers the next job claimed in its
  // end transaction, if any.
  std::optional<store::JobRow> Execute(store::JobRow row) {
    Result<Spec> spec = FindSpec(row.job);
    std::shared_ptr<Execution> e = Register(row, spec.ok() ? spec->timeout_ms : 0);
    Finish finish;
    Outcome o = Outcome::kRestart;
    if (!spec.ok()) {
      finish = Failed(spec.status().WithPrefix("the job is no longer declared"));
      o = Outcome::kFailed;
    } else if (row.cancel_requested) {
      finish = Failed(Status(StatusCode::kCancelled, "cancelled"), kEventCancelled, "cancelled");
      o = Outcome::kCancelled;
    } else if (row.attempts > row.max_attempts) {
      json last = ParseOr(row.result, json::object());
      std::string why = last.contains("error") ? last["error"].value("message", "") : "its worker stopped answering";
      finish = Failed(Status(StatusCode::kAborted, "gave up after " + std::to_string(row.max_attempts) +
                                                       " attempt(s); the last: " + why));
      o = Outcome::kFailed;
    }
    for (int restarts = 0; o == Outcome::kRestart; ++restarts) {
      if (restarts > options.max_restarts) {
        finish = Failed(AbortedError("conflict: an input kept changing while the job ran (" +
                                     std::to_string(options.max_restarts) + " restarts)"));
        o = Outcome::kFailed;
        break;
      }
      o = Attempt(row, *spec, *e, finish);
    }
    if (o != Outcome::kSucceeded && o != Outcome::kLost) End(*e, row, finish);
    ReleaseLeases(*e);
    Unregister(row.id);
    NotifyDone();
    return std::move(e->next);
  }

  Result<bool> RunOne(const std::string& worker) {
    std::int64_t now = store.Now();
    BVER_ASSIGN_OR_RETURN(std::optional<store::JobRow> row,
                          store.backend().ClaimJob(worker, labels_text, now, now + options.job_lease_ms * 1000));
    if (!row) return false;
    for (std::optional<store::JobRow> next = Execute(std::move(*row)); next;) next = Execute(std::move(*next));
    return true;
  }

  // The pending job.started event of a job that is still running. Skipped
  // this tick when the worker is committing the job's end (which then
  // carries the event itself).
  void EmitStarted(Execution& e) {
    std::unique_lock<std::mutex> l(e.started_mu, std::try_to_lock);
    if (!l.owns_lock() || !e.started_pending || e.lost) return;
    store::WriteContext ctx;
    ctx.actor = "jobs";
    ctx.correlation_id = e.correlation_id;
    Result<std::uint64_t> r = store.AppendEvent(kChannel, kEventStarted, "job:" + e.job_id, e.started_payload, ctx);
    if (r.ok()) e.started_pending = false;
  }

  // Heartbeats, timeouts and cancellation of the running jobs of this engine.
  void Monitor() {
    const auto tick = std::chrono::milliseconds(std::clamp<std::int64_t>(options.heartbeat_ms / 2, 5, 50));
    std::unique_lock<std::mutex> l(mu);
    // Runs until stopped and no job of this engine is still running (they
    // need their heartbeats to the end).
    while (!(stopping && active.empty())) {
      stop_cv.wait_for(l, tick);
      std::vector<std::shared_ptr<Execution>> running;
      for (auto& [id, e] : active) running.push_back(e);
      l.unlock();
      std::int64_t now = store.Now();
      for (const std::shared_ptr<Execution>& e : running) {
        if (e->lost) continue;  // taken over or abandoned: its leases must lapse
        if (now - e->claimed_us >= options.started_event_delay_ms * 1000) EmitStarted(*e);
        if (now >= e->deadline_us && !e->timed_out) {
          e->timed_out = true;
          e->cancel = true;
        }
        if (now < e->next_heartbeat_us) continue;
        e->next_heartbeat_us = now + options.heartbeat_ms * 1000;
        Result<bool> held = store.backend().RenewJobLease(e->job_id, e->worker, now + options.job_lease_ms * 1000);
        if (held.ok() && !*held) {
          e->lost = true;
          e->cancel = true;
          continue;
        }
        Result<std::optional<store::JobRow>> row = store.backend().GetJob(e->job_id);
        if (row.ok() && *row && (*row)->cancel_requested) {
          e->cancel_requested = true;
          e->cancel = true;
        }
        std::vector<Pointer> leased;
        {
          std::lock_guard<std::mutex> g(mu);
          leased = e->leased;
        }
        for (const Pointer& p : leased) (void)store.RenewLease(p, "job:" + e->job_id, options.ref_lease_ms);
      }
      l.lock();
    }
  }

  // Claims job `id` that this engine queued, by id: the claim ClaimJob
  // makes, without its search of the queue (one primary-key read inside
  // the writer transaction; the search sorted the whole queue there before
  // the store's 03575f9, docs/PERFORMANCE.md "Jobs"). SQLite only: on
  // PostgreSQL ClaimJob does not take the store's writer lock and this
  // would. Nothing when another worker (of any process) has taken the job,
  // or it is not due or not for our labels.
  Result<std::optional<store::JobRow>> ClaimById(const std::string& id, const std::string& worker) {
    std::optional<store::JobRow> claimed;
    store::WriteContext ctx;
    ctx.actor = "jobs";
    BVER_RETURN_IF_ERROR(store
                             .Apply({}, ctx,
                                    [&](store::Txn& t, const store::Store::TxnHelpers& h) -> bver::Status {
                                      BVER_ASSIGN_OR_RETURN(claimed, ClaimIn(t, id, worker, h.now_us()));
                                      return bver::Status::Ok();
                                    })
                             .status());
    return claimed;
  }

  void WorkerLoop(const std::string& name) {
    while (true) {
      std::string next;
      {
        std::lock_guard<std::mutex> l(mu);
        if (stopping) return;
        if (claim_local && !local.empty()) {
          next = std::move(local.front());
          local.pop_front();
        }
      }
      if (!next.empty()) {
        Result<std::optional<store::JobRow>> row = ClaimById(next, name);
        if (!row.ok() || !*row) continue;
        // A job claimed with the end of the previous one runs even when
        // stopping: it is ours already.
        for (std::optional<store::JobRow> more = Execute(std::move(**row)); more;) more = Execute(std::move(*more));
        continue;
      }
      Result<bool> ran = RunOne(name);
      if (ran.ok() && *ran) continue;
      std::unique_lock<std::mutex> l(mu);
      work_cv.wait_for(l, std::chrono::milliseconds(options.idle_poll_ms),
                       [&] { return stopping || (claim_local && !local.empty()); });
    }
  }
};

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
  BVER_ASSIGN_OR_RETURN(std::vector<store::JobRow> rows, impl_->store.backend().ListJobs(state, after_id, limit));
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
