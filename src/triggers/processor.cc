#include "src/triggers/processor.h"

#include <iostream>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "src/auth/principal.h"
#include "src/core/clock.h"
#include "src/store/follower.h"
#include "src/triggers/match.h"
#include "src/runtime/broker.h"
#include "src/runtime/problem.h"

namespace bver::triggers {
namespace {

using nlohmann::json;

constexpr const char* kCursorKey = "cursor";

struct Compiled {
  std::string name;
  domain::EventPattern on;  // repo qualified ("ns/repo")
  std::string start;
  json input;
};

using runtime::ErrorJson;

json PatternJson(const domain::EventPattern& p) {
  json on = json::object();
  for (auto [k, v] : {std::pair{"channel", &p.channel}, std::pair{"event_type", &p.event_type},
                      std::pair{"repo", &p.repo}, std::pair{"kind", &p.kind}, std::pair{"changed", &p.changed}}) {
    if (!v->empty()) on[k] = *v;
  }
  return on;
}

bool TakesIdempotencyKey(const runtime::OperationRow& row) {
  return row.input_schema && row.input_schema->contains("properties") &&
         (*row.input_schema)["properties"].contains("idempotency_key");
}

json ParseOr(const std::string& text, json fallback) {
  json j = json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

Result<std::optional<json>> GetJson(store::Txn& t, const std::string& kind, const std::string& key) {
  BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, t.GetRecord(kind, key));
  if (!row) return std::optional<json>();
  return std::optional<json>(ParseOr(row->value, json::object()));
}

Status PutJson(store::Txn& t, const std::string& kind, const std::string& key, const json& value, std::int64_t now) {
  store::RecordRow row;
  row.kind = kind;
  row.key = key;
  row.value = value.dump();
  row.updated_at_us = now;
  return t.PutRecord(row);
}

}  // namespace

struct TriggerProcessor::Impl {
  store::Store& store;
  ProcessorOptions options;
  std::vector<Compiled> triggers;

  std::mutex mu;  // guards running, follower
  bool running = false;
  std::atomic<bool> stopping{false};
  std::unique_ptr<store::Follower> follower;  // set by Start: the loop's waits and stop
  std::thread thread;

  Impl(store::Store& s, ProcessorOptions o) : store(s), options(o) {
    const domain::Platform& p = store.platform();
    for (const domain::Trigger& t : p.triggers) {
      Compiled c{t.name, t.on, t.start, t.input ? *t.input : json::object()};
      if (const domain::Repo* repo = c.on.repo.empty() ? nullptr : p.FindRepo(c.on.repo)) {
        c.on.repo = repo->qualified_name();
      }
      triggers.push_back(std::move(c));
    }
  }

  std::string Now() const { return core::FormatTimestamp(store.Now()); }

  // A context for the processor's own events.
  static store::WriteContext Ctx(const std::string& correlation_id, const std::string& causation_id) {
    store::WriteContext ctx;
    ctx.actor = std::string("local:") + kPrincipalName;
    ctx.correlation_id = correlation_id;
    ctx.causation_id = causation_id;
    return ctx;
  }

  // Runs `fn` in one store transaction that may also append events.
  Status Txn(const store::WriteContext& ctx, const std::function<Status(store::Txn&, const store::Store::TxnHelpers&)>& fn) {
    Result<std::vector<store::Reference>> r = store.Apply({}, ctx, fn);
    return r.status();
  }

  Status BumpStats(store::Txn& t, const std::string& trigger, const char* counter, std::int64_t now) {
    BVER_ASSIGN_OR_RETURN(std::optional<json> stats, GetJson(t, kStatsRecord, trigger));
    json s = stats ? *stats : json{{"fired", 0}, {"failed", 0}, {"suppressed", 0}};
    s[counter] = s.value(counter, 0) + 1;
    s["last_at"] = core::FormatTimestamp(now);
    return PutJson(t, kStatsRecord, trigger, s, now);
  }

  // The operation's input for one firing: the rendered template; for a
  // jobs.<job>.start or orch.<name>.start, the template is the capability's
  // (the orchestrator's) input, wrapped as {input: ...}, as orchestrator
  // steps and the REST bodies take it; plus the idempotency key when the
  // operation takes one.
  Result<json> BuildInput(const Compiled& t, const json& envelope, const std::string& event_id,
                          const runtime::Dispatcher& b) {
    BVER_ASSIGN_OR_RETURN(json rendered, RenderInput(t.input, envelope));
    const runtime::OperationRow* row = b.Find(t.start);
    bool wrap = row != nullptr &&
                (row->kind == domain::OperationKind::kJobStart || row->kind == domain::OperationKind::kOrchStart);
    json input = wrap ? json{{"input", rendered}} : rendered;
    if (row != nullptr && TakesIdempotencyKey(*row) && input.is_object()) {
      input["idempotency_key"] = "trigger:" + t.name + ":" + event_id;
    }
    return input;
  }

  // The answer of one start: the fire record updated, the pending entry
  // dropped, the counters and (when failed) a trigger.failed event, in one
  // transaction.
  Status Settle(const std::string& key, json record, const Result<json>& answer) {
    bool ok = answer.ok();
    record["state"] = ok ? "started" : "failed";
    if (ok) {
      record["answer"] = *answer;
    } else {
      record["error"] = ErrorJson(answer.status());
    }
    record["updated_at"] = Now();
    std::string trigger = record.value("trigger", "");
    std::string object = record.value("object", "");
    return Txn(Ctx(record.value("correlation_id", ""), record.value("event_id", "")),
               [&](store::Txn& t, const store::Store::TxnHelpers& h) -> Status {
                 BVER_RETURN_IF_ERROR(PutJson(t, kFireRecord, key, record, h.now_us()));
                 BVER_RETURN_IF_ERROR(t.DeleteRecord(kPendingRecord, key).status());
                 BVER_RETURN_IF_ERROR(BumpStats(t, trigger, ok ? "fired" : "failed", h.now_us()));
                 if (ok) return Status::Ok();
                 json payload = {{"trigger", trigger},
                                 {"event_id", record.value("event_id", "")},
                                 {"event_offset", record.value("event_offset", 0)},
                                 {"operation", record.value("operation", "")},
                                 {"error", record["error"]}};
                 return h.AppendEvent(t, "control", "trigger.failed", object.empty() ? "trigger:" + trigger : object,
                                      payload, Ctx(record.value("correlation_id", ""), record.value("event_id", "")))
                     .status();
               });
  }

  // Matches `envelope` against trigger `t` (already matched) and fires it
  // at most once. Errors: the store's only.
  Status Fire(const Compiled& t, const json& envelope, std::uint64_t offset, const runtime::Dispatcher& b) {
    std::string event_id = envelope.value("event_id", "");
    if (event_id.empty()) return Status::Ok();  // the log gives every event an id; nothing to key on otherwise
    std::string key = t.name + "/" + event_id;
    std::string chain = envelope.value("correlation_id", "");
    if (chain.empty() || !runtime::Broker::CheckCorrelationId(chain).ok()) chain = event_id;
    std::string object = ObjectOf(envelope);
    Result<json> input = BuildInput(t, envelope, event_id, b);
    json record = {{"trigger", t.name},
                   {"event_id", event_id},
                   {"event_offset", offset},
                   {"event_type", envelope.value("event_type", "")},
                   {"object", object},
                   {"operation", t.start},
                   {"correlation_id", chain},
                   {"created_at", Now()}};
    bool call = false;
    Status st = Txn(Ctx(chain, event_id), [&](store::Txn& tx, const store::Store::TxnHelpers& h) -> Status {
      call = false;
      BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> existing, tx.GetRecord(kFireRecord, key));
      if (existing) return Status::Ok();  // handled before (a replay, or a pass cut short)
      BVER_ASSIGN_OR_RETURN(std::optional<json> chain_rec, GetJson(tx, kChainRecord, chain));
      json c = chain_rec ? *chain_rec : json{{"firings", 0}, {"per", json::object()}};
      std::string per_key = t.name + " " + object;
      int firings = c.value("firings", 0);
      int per = c["per"].value(per_key, 0);
      std::string reason;
      if (firings >= options.max_chain_firings) {
        reason = "chain_limit: correlation id " + chain + " has fired " + std::to_string(firings) +
                 " trigger(s), the most one causal chain may (max_chain_firings)";
      } else if (per >= options.max_per_trigger) {
        reason = "trigger_limit: trigger " + t.name + " has fired " + std::to_string(per) + " time(s) on " +
                 (object.empty() ? std::string("this object") : object) + " in correlation id " + chain +
                 ", the most it may (max_per_trigger)";
      }
      if (!reason.empty()) {
        record["state"] = "suppressed";
        record["reason"] = reason;
        BVER_RETURN_IF_ERROR(PutJson(tx, kFireRecord, key, record, h.now_us()));
        BVER_RETURN_IF_ERROR(BumpStats(tx, t.name, "suppressed", h.now_us()));
        json payload = {{"trigger", t.name}, {"event_id", event_id}, {"event_offset", offset},
                        {"operation", t.start}, {"reason", reason}};
        return h.AppendEvent(tx, "control", "trigger.suppressed", object.empty() ? "trigger:" + t.name : object,
                             payload, Ctx(chain, event_id))
            .status();
      }
      if (!input.ok()) {
        record["state"] = "failed";
        record["error"] = ErrorJson(input.status());
        BVER_RETURN_IF_ERROR(PutJson(tx, kFireRecord, key, record, h.now_us()));
        BVER_RETURN_IF_ERROR(BumpStats(tx, t.name, "failed", h.now_us()));
        json payload = {{"trigger", t.name}, {"event_id", event_id}, {"event_offset", offset},
                        {"operation", t.start}, {"error", record["error"]}};
        return h.AppendEvent(tx, "control", "trigger.failed", object.empty() ? "trigger:" + t.name : object,
                             payload, Ctx(chain, event_id))
            .status();
      }
      c["firings"] = firings + 1;
      c["per"][per_key] = per + 1;
      c["updated_at"] = core::FormatTimestamp(h.now_us());
      BVER_RETURN_IF_ERROR(PutJson(tx, kChainRecord, chain, c, h.now_us()));
      record["state"] = "starting";
      record["input"] = *input;
      BVER_RETURN_IF_ERROR(PutJson(tx, kFireRecord, key, record, h.now_us()));
      BVER_RETURN_IF_ERROR(PutJson(tx, kPendingRecord, key, json::object(), h.now_us()));
      call = true;
      return Status::Ok();
    });
    BVER_RETURN_IF_ERROR(st);
    if (!call) return Status::Ok();
    return Settle(key, record, Invoke(b, record));
  }

  static Result<json> Invoke(const runtime::Dispatcher& b, const json& record) {
    runtime::Call c;
    c.operation = record.value("operation", "");
    c.input = std::make_shared<const json>(record.value("input", json::object()));
    c.principal = auth::Principal::Local(kPrincipalName);
    c.correlation_id = record.value("correlation_id", "");
    c.causation_id = record.value("event_id", "");
    c.transport = "trigger";
    return b.Invoke(c);
  }

  // Entries a crash left "starting": issued again when the operation takes
  // an idempotency key (it answers the first start if there was one),
  // otherwise recorded failed.
  Status Recover(const runtime::Dispatcher& b) {
    std::string after;
    while (true) {
      BVER_ASSIGN_OR_RETURN(std::vector<store::RecordRow> pending,
                            store.backend().ListRecords(kPendingRecord, after, 100));
      if (pending.empty()) return Status::Ok();
      for (const store::RecordRow& p : pending) {
        after = p.key;
        BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> fire, store.backend().GetRecord(kFireRecord, p.key));
        json record = fire ? ParseOr(fire->value, json::object()) : json::object();
        if (!fire || record.value("state", "") != "starting") {
          BVER_RETURN_IF_ERROR(store.backend().WriteTxn(
              [&](store::Txn& t) { return t.DeleteRecord(kPendingRecord, p.key).status(); }));
          continue;
        }
        const runtime::OperationRow* row = b.Find(record.value("operation", ""));
        json& input = record["input"];
        if (row != nullptr && TakesIdempotencyKey(*row) && input.is_object()) {
          if (!input.contains("idempotency_key")) {
            input["idempotency_key"] = "trigger:" + record.value("trigger", "") + ":" + record.value("event_id", "");
          }
          record["reissued"] = true;
          BVER_RETURN_IF_ERROR(Settle(p.key, record, Invoke(b, record)));
        } else {
          BVER_RETURN_IF_ERROR(Settle(
              p.key, record,
              AbortedError("interrupted: the processor stopped between recording this start and its answer, and " +
                           record.value("operation", std::string("the operation")) +
                           " takes no idempotency_key, so it is not issued again (it may have started: look for "
                           "causation_id " +
                           record.value("event_id", "") + ")")));
        }
      }
    }
  }

  Result<std::optional<std::uint64_t>> ReadCursor() {
    BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, store.backend().GetRecord(kCursorRecord, kCursorKey));
    if (!row) return std::optional<std::uint64_t>();
    return std::optional<std::uint64_t>(ParseOr(row->value, json::object()).value("next_offset", std::uint64_t{1}));
  }

  Status WriteCursor(std::uint64_t next) {
    return store.backend().WriteTxn([&](store::Txn& t) {
      return PutJson(t, kCursorRecord, kCursorKey, {{"next_offset", next}, {"updated_at", Now()}}, store.Now());
    });
  }

  // The cursor, created at the end of the log when absent (in one
  // transaction, so two first starts agree).
  Result<std::uint64_t> EnsureCursor() {
    std::uint64_t out = 0;
    BVER_RETURN_IF_ERROR(store.backend().WriteTxn([&](store::Txn& t) -> Status {
      BVER_ASSIGN_OR_RETURN(std::optional<json> cur, GetJson(t, kCursorRecord, kCursorKey));
      if (cur) {
        out = cur->value("next_offset", std::uint64_t{1});
        return Status::Ok();
      }
      BVER_ASSIGN_OR_RETURN(out, t.NextEventOffset());
      return PutJson(t, kCursorRecord, kCursorKey, {{"next_offset", out}, {"updated_at", Now()}}, store.Now());
    }));
    return out;
  }

  Result<std::size_t> RunOnce(const runtime::Dispatcher& b) {
    // A read, not a transaction: an idle pass writes nothing (a commit
    // would wake the thread's own WaitForCommit at once).
    BVER_ASSIGN_OR_RETURN(std::optional<std::uint64_t> at, ReadCursor());
    std::uint64_t cursor = 0;
    if (at) {
      cursor = *at;
    } else {
      BVER_ASSIGN_OR_RETURN(cursor, EnsureCursor());
    }
    BVER_ASSIGN_OR_RETURN(std::vector<store::Event> events, store.ReadEvents(cursor, options.batch));
    std::uint64_t next = cursor;
    Status failed;
    for (const store::Event& ev : events) {
      if (stopping.load()) break;
      const json& env = *ev.envelope;
      if (env.value("event_type", "").rfind("trigger.", 0) != 0) {
        for (const Compiled& t : triggers) {
          if (!Matches(t.on, env)) continue;
          failed = Fire(t, env, ev.offset, b);
          if (!failed.ok()) break;
        }
      }
      if (!failed.ok()) break;
      next = ev.offset + 1;
    }
    if (next != cursor) BVER_RETURN_IF_ERROR(WriteCursor(next));
    BVER_RETURN_IF_ERROR(failed);
    return events.size();
  }

  void Loop(const runtime::Dispatcher& dispatcher) {
    follower->Run(
        [&]() -> Result<bool> {
          BVER_ASSIGN_OR_RETURN(std::size_t n, RunOnce(dispatcher));
          return n >= options.batch;  // a full batch: more may be waiting
        },
        [&](const Status& s) {
          std::cerr << json{{"component", "triggers"}, {"error", ErrorJson(s)}}.dump() << "\n";
          return options.idle_wait * 4;
        });
  }
};

TriggerProcessor::TriggerProcessor(store::Store& store, ProcessorOptions options)
    : impl_(std::make_unique<Impl>(store, options)) {}

TriggerProcessor::~TriggerProcessor() { Stop(); }

Status TriggerProcessor::Prepare(const runtime::Dispatcher& dispatcher) {
  BVER_RETURN_IF_ERROR(impl_->EnsureCursor().status());
  return impl_->Recover(dispatcher);
}

Status TriggerProcessor::Start(const runtime::Dispatcher& dispatcher) {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (impl_->running) return Status::Ok();
  }
  BVER_RETURN_IF_ERROR(Prepare(dispatcher));
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->stopping = false;
  impl_->follower = std::make_unique<store::Follower>(
      impl_->store.backend(),
      store::Follower::Options{.poll = impl_->options.idle_wait});
  impl_->running = true;
  impl_->thread = std::thread([this, &dispatcher] { impl_->Loop(dispatcher); });
  return Status::Ok();
}

void TriggerProcessor::Stop() {
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    if (!impl_->running) return;
    impl_->stopping = true;
  }
  impl_->follower->Stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->running = false;
}

Result<std::size_t> TriggerProcessor::RunOnce(const runtime::Dispatcher& dispatcher) {
  return impl_->RunOnce(dispatcher);
}

Result<std::optional<std::uint64_t>> TriggerProcessor::Cursor() { return impl_->ReadCursor(); }

Result<std::uint64_t> TriggerProcessor::ResetCursor(std::uint64_t offset) {
  std::uint64_t out = offset;
  BVER_RETURN_IF_ERROR(impl_->store.backend().WriteTxn([&](store::Txn& t) -> Status {
    BVER_ASSIGN_OR_RETURN(std::uint64_t end, t.NextEventOffset());
    if (offset == 0) out = end;
    if (out > end) {
      return InvalidArgumentError("offset " + std::to_string(offset) + " is past the end of the log (the next event "
                                  "gets offset " + std::to_string(end) + "); give 1.." + std::to_string(end) +
                                  ", or 0 for the end");
    }
    return PutJson(t, kCursorRecord, kCursorKey, {{"next_offset", out}, {"updated_at", impl_->Now()}},
                   impl_->store.Now());
  }));
  return out;
}

Result<json> TriggerProcessor::ListTriggers() {
  BVER_ASSIGN_OR_RETURN(std::optional<std::uint64_t> cursor, impl_->ReadCursor());
  json out = {{"cursor", cursor ? json(*cursor) : json(nullptr)}, {"triggers", json::array()}};
  {
    std::lock_guard<std::mutex> l(impl_->mu);
    out["running"] = impl_->running;
  }
  for (const Compiled& t : impl_->triggers) {
    BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> stats, impl_->store.backend().GetRecord(kStatsRecord, t.name));
    json s = stats ? ParseOr(stats->value, json::object()) : json::object();
    json row = {{"name", t.name},
                {"on", PatternJson(t.on)},
                {"start", t.start},
                {"fired", s.value("fired", 0)},
                {"failed", s.value("failed", 0)},
                {"suppressed", s.value("suppressed", 0)}};
    if (s.contains("last_at")) row["last_at"] = s["last_at"];
    out["triggers"].push_back(std::move(row));
  }
  return out;
}

Result<json> TriggerProcessor::MoveCursor(std::uint64_t offset) {
  BVER_ASSIGN_OR_RETURN(std::uint64_t at, ResetCursor(offset));
  return json{{"cursor", at}};
}

Result<json> TriggerProcessor::ListFires(const std::string& trigger, const std::string& after, std::size_t limit) {
  if (!trigger.empty()) {
    bool known = false;
    for (const Compiled& t : impl_->triggers) known = known || t.name == trigger;
    if (!known) return NotFoundError("no trigger \"" + trigger + "\" in this platform; `bver triggers list` shows them");
  }
  if (limit == 0) limit = 100;
  std::string prefix = trigger.empty() ? "" : trigger + "/";
  std::string from = after.empty() ? prefix : after;
  if (!prefix.empty() && from < prefix) from = prefix;
  BVER_ASSIGN_OR_RETURN(std::vector<store::RecordRow> rows, impl_->store.backend().ListRecords(kFireRecord, from, limit));
  json fires = json::array();
  bool more = rows.size() == limit;
  for (const store::RecordRow& r : rows) {
    if (!prefix.empty() && r.key.rfind(prefix, 0) != 0) {
      more = false;
      break;
    }
    json f = ParseOr(r.value, json::object());
    f["key"] = r.key;
    fires.push_back(std::move(f));
  }
  json next = more && !fires.empty() ? json(fires.back()["key"]) : json(nullptr);
  return json{{"fires", std::move(fires)}, {"next_cursor", std::move(next)}};
}

}  // namespace bver::triggers
