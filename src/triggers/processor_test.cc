// The trigger processor over the real store (SQLite and PostgreSQL), the
// real job engine and the real broker: exactly one start per matching
// event, also across a processor destroyed and recreated mid-way; nothing
// before the first start; failed starts recorded; a loop cut by the bound
// with trigger.suppressed; a start interrupted by a crash settled on Start.
#include "src/triggers/processor.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/jobs/engine.h"
#include "src/plugin/registry.h"
#include "src/plugin/runner.h"
#include "src/runtime/broker.h"
#include "src/runtime/operations.h"
#include "tests/support/fake_capabilities.h"
#include "tests/support/store_backends.h"

namespace bver::triggers {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

using bver::testing::FakeHost;

using bver::testing::BackendCase;

class TriggerTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    dir_ = bver::testing::FreshTestDir("bver_triggers");
    Result<bver::testing::TestStore> opened =
        bver::testing::OpenTestStore(GetParam(), dir_, BVER_SOURCE_DIR "/tests/triggers/bver.yaml");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    platform_ = opened->platform;
    store_ = std::move(opened->store);
    host_.Add("test.note", [](const plugin::Invocation&) -> Result<json> { return json{{"metrics", json::object()}}; });
    host_.Add("test.bump", [this](const plugin::Invocation& inv) -> Result<json> {
      int n = ++bumps_;
      return json{{"changeset",
                   {{"patches",
                     {{{"pointer", inv.input.at("target")},
                       {"merge", {{"status", "bumped-" + std::to_string(n)}, {"count", n}}}}}}}}};
    });
  }
  void TearDown() override {
    processor_.reset();
    broker_.reset();
    engine_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // The engine (workers: `threads`), the broker over it, and a processor.
  void Open(int threads, ProcessorOptions options = {}) {
    jobs::EngineOptions eo;
    eo.threads = threads;
    eo.worker_name = "test";
    eo.worker_labels = json::object();
    eo.idle_poll_ms = 10;
    eo.started_event_delay_ms = 0;
    engine_ = std::make_unique<jobs::Engine>(*store_, host_, eo);
    if (threads > 0) engine_->Start();
    Result<std::unique_ptr<runtime::OperationTable>> table =
        runtime::OperationTable::Build(platform_, {store_.get(), nullptr, engine_.get()});
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    broker_ = std::make_shared<const runtime::Broker>(std::shared_ptr<const runtime::OperationTable>(std::move(*table)));
    options_ = options;
    NewProcessor();
  }

  void NewProcessor() {
    processor_ = std::make_unique<TriggerProcessor>(*store_, options_);
  }

  // Passes until the processor has read every event.
  void Drain() {
    for (int i = 0; i < 1000; ++i) {
      Result<std::size_t> n = processor_->RunOnce(*broker_);
      ASSERT_TRUE(n.ok()) << n.status().ToString();
      if (*n == 0) return;
    }
    FAIL() << "the processor never caught up";
  }

  store::Reference Create(const std::string& repo, const std::string& kind, json body, const std::string& id,
                          const std::string& correlation = "") {
    store::WriteContext ctx;
    ctx.actor = "test";
    ctx.correlation_id = correlation;
    Result<store::Reference> r = store_->Create(repo, kind, body, ctx, id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : store::Reference{};
  }

  std::vector<json> Events(const std::string& type) {
    std::vector<json> out;
    Result<std::vector<store::Event>> all = store_->ReadEvents(1, 10000);
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    if (!all.ok()) return out;
    for (const store::Event& e : *all) {
      if ((*e.envelope)["event_type"] == type) out.push_back(*e.envelope);
    }
    return out;
  }

  std::vector<json> Fires(const std::string& trigger) {
    Result<json> f = processor_->ListFires(trigger, "", 1000);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? (*f)["fires"].get<std::vector<json>>() : std::vector<json>{};
  }

  std::vector<store::JobRow> Jobs(const std::string& job) {
    Result<std::vector<store::JobRow>> all = store_->backend().ListJobs("", "", 10000);
    EXPECT_TRUE(all.ok()) << all.status().ToString();
    std::vector<store::JobRow> out;
    for (const store::JobRow& r : all.ok() ? *all : std::vector<store::JobRow>{}) {
      if (r.job == job) out.push_back(r);
    }
    return out;
  }

  json Counts(const std::string& trigger) {
    Result<json> l = processor_->ListTriggers();
    EXPECT_TRUE(l.ok()) << l.status().ToString();
    for (const json& t : (*l)["triggers"]) {
      if (t["name"] == trigger) return {t["fired"], t["failed"], t["suppressed"]};
    }
    return nullptr;
  }

  fs::path dir_;
  std::shared_ptr<domain::Platform> platform_;
  std::unique_ptr<store::Store> store_;
  FakeHost host_;
  std::atomic<int> bumps_{0};
  std::unique_ptr<jobs::Engine> engine_;
  std::shared_ptr<const runtime::Broker> broker_;
  ProcessorOptions options_;
  std::unique_ptr<TriggerProcessor> processor_;
};

TEST_P(TriggerTest, StartsOncePerMatchingEventWithTheEventsIds) {
  Open(0);
  ASSERT_TRUE(processor_->Prepare(*broker_).ok());
  store::Reference sub = Create("sites/site", "power.substation", {{"name", "north"}}, "north", "corr-1");
  Create("sites/site", "telecom.node", {{"name", "t1"}}, "t1");  // another kind: no match
  Create("sites/site", "", {{"name", "plain"}}, "plain");         // no kind: no match
  Drain();
  std::vector<json> fires = Fires("on_substation");
  ASSERT_EQ(fires.size(), 1u);
  EXPECT_EQ(fires[0]["state"], "started") << fires[0].dump();
  EXPECT_EQ(fires[0]["object"], "bver://sites/site/north");
  EXPECT_EQ(fires[0]["correlation_id"], "corr-1");
  std::vector<json> created = Events("ref.created");
  ASSERT_GE(created.size(), 1u);
  EXPECT_EQ(fires[0]["event_id"], created[0]["event_id"]);
  // The job: started with the rendered input, the event's correlation id, the system principal.
  std::vector<store::JobRow> jobs = Jobs("note");
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(fires[0]["answer"]["job_id"], jobs[0].id);
  EXPECT_EQ(jobs[0].correlation_id, "corr-1");
  EXPECT_EQ(jobs[0].actor, "local:triggers");
  json input = json::parse(jobs[0].input);
  EXPECT_EQ(input["site"], "bver://sites/site/north");
  EXPECT_EQ(input["tag"], "created v1");
  // job.queued carries the causation: the triggering event.
  bool caused = false;
  for (const json& e : Events("job.queued")) caused = caused || e["causation_id"] == created[0]["event_id"];
  EXPECT_TRUE(caused);
  // Passes over the same log start nothing more; nor does a replay.
  Drain();
  Result<std::uint64_t> reset = processor_->ResetCursor(1);
  ASSERT_TRUE(reset.ok()) << reset.status().ToString();
  Drain();
  EXPECT_EQ(Jobs("note").size(), 1u);
  EXPECT_EQ(Counts("on_substation"), json({1, 0, 0}));
  EXPECT_EQ(Counts("on_status"), json({0, 0, 0}));
  // An idle pass writes nothing (a commit would wake the processor's own wait at once).
  std::uint64_t seq = store_->backend().commit_seq();
  ASSERT_TRUE(processor_->RunOnce(*broker_).ok());
  EXPECT_EQ(store_->backend().commit_seq(), seq);
}

TEST_P(TriggerTest, TheFirstStartBeginsAtTheEndOfTheLog) {
  Create("sites/site", "power.substation", {{"name", "old"}}, "old");
  Open(0);
  ASSERT_TRUE(processor_->Prepare(*broker_).ok());
  Result<std::optional<std::uint64_t>> cursor = processor_->Cursor();
  ASSERT_TRUE(cursor.ok() && cursor->has_value());
  EXPECT_EQ(**cursor, 2u);
  Create("sites/site", "power.substation", {{"name", "new"}}, "new");
  Drain();
  std::vector<json> fires = Fires("on_substation");
  ASSERT_EQ(fires.size(), 1u);
  EXPECT_EQ(fires[0]["object"], "bver://sites/site/new");
  // The operator replays from offset 1: the older event fires now, the newer not again.
  ASSERT_TRUE(processor_->ResetCursor(1).ok());
  Drain();
  EXPECT_EQ(Fires("on_substation").size(), 2u);
  EXPECT_EQ(Jobs("note").size(), 2u);
  Result<std::uint64_t> past = processor_->ResetCursor(1000);
  EXPECT_EQ(past.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(past.status().message(), HasSubstr("past the end of the log"));
}

TEST_P(TriggerTest, RecreatedMidwayNeitherRepeatsNorMisses) {
  ProcessorOptions o;
  o.batch = 2;
  Open(0, o);
  ASSERT_TRUE(processor_->Prepare(*broker_).ok());
  for (int i = 0; i < 7; ++i) Create("sites/site", "power.substation", {{"name", "s"}}, "s" + std::to_string(i));
  Result<std::size_t> n = processor_->RunOnce(*broker_);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2u);
  EXPECT_EQ(Jobs("note").size(), 2u);
  // Destroyed and made again (a restart of bver up), with more events meanwhile.
  processor_.reset();
  for (int i = 7; i < 10; ++i) Create("sites/site", "power.substation", {{"name", "s"}}, "s" + std::to_string(i));
  NewProcessor();
  ASSERT_TRUE(processor_->Prepare(*broker_).ok());
  Drain();
  std::vector<store::JobRow> jobs = Jobs("note");
  EXPECT_EQ(jobs.size(), 10u);
  std::set<std::string> sites;
  for (const store::JobRow& j : jobs) sites.insert(json::parse(j.input)["site"].get<std::string>());
  EXPECT_EQ(sites.size(), 10u);
  EXPECT_EQ(Counts("on_substation"), json({10, 0, 0}));
  // The thread does the same as the passes: one more event, one more job.
  ASSERT_TRUE(processor_->Start(*broker_).ok());
  Create("sites/site", "power.substation", {{"name", "s"}}, "s10");
  for (int i = 0; i < 1000 && Jobs("note").size() < 11; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  processor_->Stop();
  EXPECT_EQ(Jobs("note").size(), 11u);
}

TEST_P(TriggerTest, FailedStartsAreRecordedAndDoNotStopTheProcessor) {
  Open(0);
  ASSERT_TRUE(processor_->Prepare(*broker_).ok());
  Create("other/thing", "", json::object(), "a");  // on_thing: plugin missing
  Create("sites/site", "power.substation", {{"name", "after"}}, "after");
  store::WriteContext ctx;
  ctx.actor = "test";
  ASSERT_TRUE(store_->Delete(*Pointer::Parse("bver://other/thing/a"), ctx).ok());  // bad_input
  Drain();
  std::vector<json> missing = Fires("on_thing");
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0]["state"], "failed");
  EXPECT_EQ(missing[0]["error"]["code"], "failed_precondition") << missing[0].dump();
  EXPECT_THAT(missing[0]["error"]["message"].get<std::string>(), HasSubstr("not installed"));
  std::vector<json> bad = Fires("bad_input");
  ASSERT_EQ(bad.size(), 1u);
  EXPECT_EQ(bad[0]["state"], "failed");
  EXPECT_EQ(bad[0]["error"]["code"], "invalid_argument");
  EXPECT_EQ(bad[0]["error"]["violations"][0]["path"], "site");
  std::vector<json> failed = Events("trigger.failed");
  ASSERT_EQ(failed.size(), 2u);
  EXPECT_EQ(failed[0]["channel"], "control");
  EXPECT_EQ(failed[0]["payload"]["trigger"], "on_thing");
  EXPECT_EQ(failed[0]["payload"]["error"]["code"], "failed_precondition");
  EXPECT_EQ(failed[0]["causation_id"], missing[0]["event_id"]);
  // The substation created after the failure still got its job; nothing ran for the others.
  EXPECT_EQ(Jobs("note").size(), 1u);
  EXPECT_EQ(Jobs("missing").size(), 0u);
  EXPECT_EQ(Counts("on_thing"), json({0, 1, 0}));
  EXPECT_EQ(Counts("bad_input"), json({0, 1, 0}));
  // Unknown trigger names are refused.
  EXPECT_EQ(processor_->ListFires("nope", "", 10).status().code(), StatusCode::kNotFound);
}

TEST_P(TriggerTest, ALoopIsCutByTheBoundWithTriggerSuppressed) {
  ProcessorOptions o;
  o.idle_wait = std::chrono::milliseconds(50);
  Open(2, o);
  ASSERT_TRUE(processor_->Start(*broker_).ok());
  Create("sites/site", "", {{"name", "loop"}}, "loop");
  store::WriteContext ctx;
  ctx.actor = "test";
  ctx.correlation_id = "loop-chain";
  ASSERT_TRUE(store_->Patch(*Pointer::Parse("bver://sites/site/loop"), store::PatchFormat::kMergePatch,
                            {{"status", "start"}}, ctx)
                  .ok());
  for (int i = 0; i < 2000 && Events("trigger.suppressed").empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Let anything that would still run run.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  processor_->Stop();
  engine_.reset();
  std::vector<json> suppressed = Events("trigger.suppressed");
  ASSERT_EQ(suppressed.size(), 1u) << json(Fires("on_status")).dump() << "\n"
                                   << json(Events("job.failed")).dump();
  EXPECT_EQ(suppressed[0]["payload"]["trigger"], "on_status");
  EXPECT_EQ(suppressed[0]["correlation_id"], "loop-chain");
  EXPECT_THAT(suppressed[0]["payload"]["reason"].get<std::string>(), HasSubstr("trigger_limit"));
  EXPECT_EQ(bumps_.load(), 3);  // max_per_trigger
  EXPECT_EQ(Jobs("bump").size(), 3u);
  for (const store::JobRow& j : Jobs("bump")) EXPECT_EQ(j.correlation_id, "loop-chain");
  Result<store::Reference> site = store_->Get(*Pointer::Parse("bver://sites/site/loop"));
  ASSERT_TRUE(site.ok());
  EXPECT_EQ(site->version, 5u);  // created, patched by the test, by 3 bumps
  EXPECT_EQ(Counts("on_status"), json({3, 0, 1}));
  std::vector<json> fires = Fires("on_status");
  ASSERT_EQ(fires.size(), 4u);
  int n_suppressed = 0;
  for (const json& f : fires) n_suppressed += f["state"] == "suppressed";
  EXPECT_EQ(n_suppressed, 1);
}

TEST_P(TriggerTest, TheChainBoundCountsEveryTrigger) {
  ProcessorOptions o;
  o.max_chain_firings = 2;
  Open(0, o);
  ASSERT_TRUE(processor_->Prepare(*broker_).ok());
  for (int i = 0; i < 4; ++i) {
    Create("sites/site", "power.substation", {{"name", "s"}}, "c" + std::to_string(i), "one-chain");
  }
  Create("sites/site", "power.substation", {{"name", "s"}}, "other", "another-chain");
  Drain();
  EXPECT_EQ(Jobs("note").size(), 3u);  // two in one-chain, one in another-chain
  std::vector<json> suppressed = Events("trigger.suppressed");
  ASSERT_EQ(suppressed.size(), 2u);
  EXPECT_THAT(suppressed[0]["payload"]["reason"].get<std::string>(), HasSubstr("chain_limit"));
  EXPECT_EQ(Counts("on_substation"), json({3, 0, 2}));
}

TEST_P(TriggerTest, AStartInterruptedByACrashIsSettledOnStart) {
  Open(0);
  ASSERT_TRUE(processor_->Prepare(*broker_).ok());
  Create("sites/site", "power.substation", {{"name", "crash"}}, "crash", "crash-chain");
  json created = Events("ref.created").back();
  std::string event_id = created["event_id"];
  std::uint64_t offset = created["offset"];
  const runtime::OperationRow* row = broker_->table().Find("jobs.note.start");
  ASSERT_NE(row, nullptr);
  bool idempotent = (*row->input_schema)["properties"].contains("idempotency_key");
  // What a crash leaves: the record "starting" (and pending), the cursor past the event,
  // and, when the operation takes an idempotency key, maybe the job itself.
  std::string key = "on_substation/" + event_id;
  json input = {{"input", {{"site", "bver://sites/site/crash"}, {"tag", "created v1"}}}};
  if (idempotent) input["idempotency_key"] = "trigger:on_substation:" + event_id;
  std::string first_job;
  if (idempotent) {
    runtime::Call c{"jobs.note.start", std::make_shared<const json>(input), auth::Principal::Local("triggers"),
                    "crash-chain", event_id, "test"};
    Result<json> started = broker_->Invoke(c);
    ASSERT_TRUE(started.ok()) << started.status().ToString();
    first_job = (*started)["job_id"];
  }
  json record = {{"trigger", "on_substation"}, {"event_id", event_id}, {"event_offset", offset},
                 {"event_type", "ref.created"}, {"object", "bver://sites/site/crash"}, {"operation", "jobs.note.start"},
                 {"correlation_id", "crash-chain"}, {"state", "starting"}, {"input", input}};
  ASSERT_TRUE(store_->backend()
                  .WriteTxn([&](store::Txn& t) -> Status {
                    BVER_RETURN_IF_ERROR(t.PutRecord({kFireRecord, key, record.dump(), 0}));
                    BVER_RETURN_IF_ERROR(t.PutRecord({kPendingRecord, key, "{}", 0}));
                    return t.PutRecord({kCursorRecord, "cursor", json{{"next_offset", offset + 1}}.dump(), 0});
                  })
                  .ok());
  NewProcessor();
  ASSERT_TRUE(processor_->Prepare(*broker_).ok());
  Drain();
  std::vector<json> fires = Fires("on_substation");
  ASSERT_EQ(fires.size(), 1u);
  if (idempotent) {
    EXPECT_EQ(fires[0]["state"], "started") << fires[0].dump();
    EXPECT_EQ(fires[0]["reissued"], true);
    EXPECT_EQ(fires[0]["answer"]["job_id"], first_job);  // the first start answered, nothing queued twice
    EXPECT_EQ(Jobs("note").size(), 1u);
  } else {
    EXPECT_EQ(fires[0]["state"], "failed") << fires[0].dump();
    EXPECT_THAT(fires[0]["error"]["message"].get<std::string>(), HasSubstr("interrupted"));
    EXPECT_EQ(Jobs("note").size(), 0u);
  }
  Result<std::vector<store::RecordRow>> pending = store_->backend().ListRecords(kPendingRecord, "", 10);
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, TriggerTest, ::testing::ValuesIn(bver::testing::StoreBackends(4)),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace bver::triggers
