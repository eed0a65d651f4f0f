// The orchestrator engine over the real store (SQLite and PostgreSQL), the
// real job engine and the real broker: DAG order, input references, when
// and skip, for_each, retry then success, failure, cancel, restart of the
// engine mid-run, a call re-issued after a "crash" committing once, the
// idempotency of starts (runs and jobs), and bad input.
//
// Capabilities of plugin "fake" run as C++ runners in this process.
#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/jobs/engine.h"
#include "src/orch/engine.h"
#include "src/plugin/registry.h"
#include "src/plugin/runner.h"
#include "src/runtime/broker.h"
#include "src/runtime/operations.h"
#include "src/store/store.h"
#include "tests/support/fake_capabilities.h"
#include "tests/support/store_backends.h"

namespace bver::orch {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

using bver::testing::FakeHost;

bool SleepUnlessCancelled(const plugin::Invocation& inv, std::int64_t ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (inv.cancel != nullptr && inv.cancel->load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

using bver::testing::BackendCase;

class OrchTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    dir_ = bver::testing::FreshTestDir("bver_orch");
    Result<bver::testing::TestStore> opened =
        bver::testing::OpenTestStore(GetParam(), dir_, BVER_SOURCE_DIR "/tests/orch/bver.yaml");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    platform_ = opened->platform;
    store_ = std::move(opened->store);
    host_.Add("test.gen", [this](const plugin::Invocation& inv) -> Result<json> {
      ++gen_calls_;
      if (!SleepUnlessCancelled(inv, gen_sleep_ms_.load())) return Status(StatusCode::kCancelled, "cancelled");
      std::string site = inv.input.at("site");
      std::string id = Pointer::Parse(site)->id() + "-" + inv.input.value("tag", "gen");
      return json{{"changeset",
                   {{"creates", {{{"repo", "assets/asset"}, {"id", id}, {"body", {{"name", id}, {"site", site}}}}}}}}};
    });
    host_.Add("test.check", [](const plugin::Invocation& inv) -> Result<json> {
      return json{{"passed", inv.input.value("pass", false)}, {"findings", json::array()}};
    });
    host_.Add("test.flaky", [this](const plugin::Invocation& inv) -> Result<json> {
      if (flaky_calls_++ < inv.input.value("fail_times", 0)) return UnavailableError("not yet");
      return json{{"metrics", {{"calls", flaky_calls_.load()}}}};
    });
    jobs::EngineOptions jo;
    jo.threads = 2;
    jo.job_lease_ms = 1500;
    jo.heartbeat_ms = 100;
    jo.idle_poll_ms = 10;
    jo.backoff_base_ms = 20;
    jo.worker_name = "test";
    jo.worker_labels = json::object();
    jobs_ = std::make_unique<jobs::Engine>(*store_, host_, jo);
    jobs_->Start();
    options_.threads = 2;
    options_.poll_ms = 50;
    options_.backoff_base_ms = 20;
    options_.backoff_max_ms = 100;
    StartOrch();
  }
  void TearDown() override {
    StopOrch();
    jobs_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // A new orchestrator engine with its own table and broker (as a restarted process has).
  void StartOrch() {
    orch_ = std::make_unique<Engine>(*store_, options_);
    runtime::OperationTable::Bindings bindings;
    bindings.store = store_.get();
    bindings.jobs = jobs_.get();
    bindings.orchestrators = orch_.get();
    Result<std::unique_ptr<runtime::OperationTable>> table = runtime::OperationTable::Build(platform_, bindings);
    ASSERT_TRUE(table.ok()) << table.status().ToString();
    broker_ = std::make_shared<const runtime::Broker>(std::shared_ptr<const runtime::OperationTable>(std::move(*table)));
    orch_->Start(*broker_);
  }
  void StopOrch() {
    if (orch_) orch_->Stop();
    broker_.reset();
    orch_.reset();
  }

  Result<json> Start(const std::string& name, json input, double wait = 0, const std::string& key = "") {
    runtime::OrchStartRequest r;
    r.orchestrator = name;
    r.input = std::make_shared<const json>(std::move(input));
    r.wait_seconds = wait;
    r.idempotency_key = key;
    r.actor = "test";
    return orch_->StartRun(r);
  }
  json Run(const std::string& name, json input) {
    Result<json> r = Start(name, std::move(input), 30);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : json::object();
  }
  json Get(const std::string& run_id, double wait = 0) {
    Result<json> r = orch_->GetRun("", run_id, wait);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : json::object();
  }
  static const json& Step(const json& run, const std::string& id) {
    for (const json& s : run["steps"]) {
      if (s["id"] == id) return s;
    }
    static const json kNone = json::object();
    return kNone;
  }
  // Waits (10 s at most) until `pred` holds for the run.
  json Until(const std::string& run_id, const std::function<bool(const json&)>& pred) {
    for (int i = 0; i < 1000; ++i) {
      json r = Get(run_id);
      if (pred(r)) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "condition never held for run " << run_id << ": " << Get(run_id).dump();
    return Get(run_id);
  }

  std::string Site(const std::string& id) {
    store::WriteContext ctx;
    ctx.actor = "test";
    Result<store::Reference> r = store_->Create("sites/site", "", {{"name", id}}, ctx, id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return "bver://sites/site/" + id;
  }
  std::uint64_t Version(const std::string& pointer) {
    Result<store::Reference> r = store_->Get(*Pointer::Parse(pointer));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->version : 0;
  }
  json Body(const std::string& pointer) {
    Result<store::Reference> r = store_->Get(*Pointer::Parse(pointer));
    return r.ok() && r->body ? *r->body : json::object();
  }

  std::vector<json> Events() {
    std::vector<json> out;
    for (std::uint64_t from = 1;;) {
      Result<std::vector<store::Event>> ev = store_->ReadEvents(from, 1000);
      EXPECT_TRUE(ev.ok()) << ev.status().ToString();
      if (!ev.ok() || ev->empty()) break;
      for (const store::Event& e : *ev) {
        out.push_back(*e.envelope);
        from = e.offset + 1;
      }
    }
    return out;
  }
  // The orch.* event types of a run, in log order ("type:step" for step events).
  std::vector<std::string> RunEvents(const std::string& run_id) {
    std::vector<std::string> out;
    for (const json& e : Events()) {
      if (e["object_pointer"] != "orch:" + run_id) continue;
      std::string t = e["event_type"];
      if (e["payload"].contains("step")) t += ":" + e["payload"]["step"].get<std::string>();
      out.push_back(t);
    }
    return out;
  }
  // Events of `type` carrying `correlation_id`.
  int Count(const std::string& type, const std::string& correlation_id) {
    int n = 0;
    for (const json& e : Events()) n += e["event_type"] == type && e["correlation_id"] == correlation_id;
    return n;
  }
  std::size_t Records(const std::string& kind) {
    Result<std::vector<store::RecordRow>> r = store_->backend().ListRecords(kind, "", 10000);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r->size() : 0;
  }

  fs::path dir_;
  std::shared_ptr<domain::Platform> platform_;
  std::unique_ptr<store::Store> store_;
  FakeHost host_;
  std::unique_ptr<jobs::Engine> jobs_;
  EngineOptions options_;
  std::unique_ptr<Engine> orch_;
  std::shared_ptr<const runtime::Broker> broker_;
  std::atomic<int> gen_calls_{0}, flaky_calls_{0};
  std::atomic<std::int64_t> gen_sleep_ms_{0};
};

TEST_P(OrchTest, DesignRunsItsStepsInOrderAndMarksTheSiteReady) {
  std::string site = Site("s1");
  json run = Run("design", {{"site", site}, {"pass", true}});
  ASSERT_EQ(run["state"], "succeeded") << run.dump(2);
  std::string id = run["run_id"];
  for (const char* s : {"generate", "validate", "mark_ready", "after_ready"}) EXPECT_EQ(Step(run, s)["state"], "succeeded") << s;
  EXPECT_EQ(Step(run, "validate")["output"]["passed"], true);
  EXPECT_EQ(Step(run, "mark_ready")["output"]["version"], 2);
  EXPECT_EQ(Step(run, "after_ready")["output"]["body"]["status"], "ready");
  EXPECT_EQ(run["output"]["mark_ready"]["version"], 2);
  EXPECT_EQ(Step(run, "generate")["job_ids"].size(), 1u);
  EXPECT_EQ(Body(site)["status"], "ready");
  EXPECT_EQ(Version(site), 2u);
  EXPECT_EQ(Version("bver://assets/asset/s1-gen"), 1u);
  // Each step starts after the one it depends on ended; one event per transition.
  EXPECT_THAT(RunEvents(id),
              ElementsAre("orch.started", "orch.step.started:generate", "orch.step.succeeded:generate",
                          "orch.step.started:validate", "orch.step.succeeded:validate", "orch.step.started:mark_ready",
                          "orch.step.succeeded:mark_ready", "orch.step.started:after_ready",
                          "orch.step.succeeded:after_ready", "orch.succeeded"));
  // The steps' writes carry the run's correlation id and the run as cause.
  bool patched = false;
  for (const json& e : Events()) {
    if (e["event_type"] == "ref.patched" && e["object_pointer"] == site + "~2") {
      patched = true;
      EXPECT_EQ(e["correlation_id"], run["correlation_id"]);
      EXPECT_EQ(e["causation_id"], id);
      EXPECT_EQ(e["payload"]["actor"], std::string("local:") + kSystemActor);  // Principal::Local
    }
  }
  EXPECT_TRUE(patched);
  EXPECT_EQ(Count("job.queued", run["correlation_id"]), 2);
  EXPECT_EQ(Records(kActiveKind), 0u);
}

TEST_P(OrchTest, WhenFalseSkipsTheStepAndWhatDependsOnIt) {
  std::string site = Site("s2");
  json run = Run("design", {{"site", site}, {"pass", false}});
  ASSERT_EQ(run["state"], "succeeded") << run.dump(2);
  EXPECT_EQ(Step(run, "mark_ready")["state"], "skipped");
  EXPECT_THAT(Step(run, "mark_ready")["reason"].get<std::string>(), HasSubstr("is false"));
  EXPECT_EQ(Step(run, "after_ready")["state"], "skipped");
  EXPECT_FALSE(run["output"].contains("mark_ready"));
  EXPECT_EQ(Version(site), 1u);
  std::vector<std::string> ev = RunEvents(run["run_id"]);
  EXPECT_EQ(std::count(ev.begin(), ev.end(), "orch.step.skipped:mark_ready"), 1);
  EXPECT_EQ(std::count(ev.begin(), ev.end(), "orch.step.skipped:after_ready"), 1);
}

TEST_P(OrchTest, InputsReferToTheRunInputAndEarlierOutputs) {
  json run = Run("chain", {{"name", "alpha"}});
  ASSERT_EQ(run["state"], "succeeded") << run.dump(2);
  std::string id = Step(run, "create")["output"]["id"];
  EXPECT_EQ(Body("bver://sites/site/" + id)["note"], "made alpha as " + id);
  EXPECT_EQ(Step(run, "note")["calls"][0]["input"]["id"], id);
}

TEST_P(OrchTest, ForEachCallsOncePerItemAndOutputsTheList) {
  json sites = {Site("f1"), Site("f2"), Site("f3")};
  json run = Run("fan", {{"sites", sites}});
  ASSERT_EQ(run["state"], "succeeded") << run.dump(2);
  const json& touch = Step(run, "touch");
  ASSERT_EQ(touch["output"].size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(touch["output"][i]["id"], "f" + std::to_string(i + 1));
    EXPECT_EQ(Body(sites[i])["note"], "touched");
    EXPECT_EQ(Version(sites[i]), 2u);
  }
  EXPECT_EQ(Step(run, "gens")["job_ids"].size(), 3u);
  EXPECT_EQ(Step(run, "gens")["output"].size(), 3u);
  EXPECT_EQ(gen_calls_.load(), 3);
}

TEST_P(OrchTest, TheInputSchemasDefaultsFillWhatTheCallerLeftOut) {
  json run = Run("flaky", json::object());
  ASSERT_EQ(run["state"], "succeeded") << run.dump(2);
  EXPECT_EQ(run["input"]["fail_times"], 0);
  EXPECT_EQ(Step(run, "try")["calls"][0]["input"]["fail_times"], 0);
  // A value given wins over the default.
  run = Run("flaky", {{"fail_times", 1}});
  ASSERT_EQ(run["state"], "succeeded") << run.dump(2);
  EXPECT_EQ(run["input"]["fail_times"], 1);
}

TEST_P(OrchTest, AFailedStepIsRetriedWithBackoffThenSucceeds) {
  json run = Run("flaky", {{"fail_times", 2}});
  ASSERT_EQ(run["state"], "succeeded") << run.dump(2);
  EXPECT_EQ(Step(run, "try")["attempts"], 3);
  EXPECT_EQ(Step(run, "try")["calls"][0]["attempt"], 3);
  EXPECT_EQ(flaky_calls_.load(), 3);
  EXPECT_EQ(Count("job.queued", run["correlation_id"]), 3);  // a new job (new key) per attempt
}

TEST_P(OrchTest, AStepFailingForGoodFailsTheRun) {
  json run = Run("flaky", {{"fail_times", 10}});
  ASSERT_EQ(run["state"], "failed") << run.dump(2);
  EXPECT_EQ(Step(run, "try")["state"], "failed");
  EXPECT_EQ(Step(run, "try")["attempts"], 3);
  EXPECT_EQ(run["error"]["step"], "try");
  EXPECT_THAT(run["error"]["message"].get<std::string>(), HasSubstr("failed"));
  std::vector<std::string> ev = RunEvents(run["run_id"]);
  ASSERT_GE(ev.size(), 2u);
  EXPECT_EQ(ev[ev.size() - 2], "orch.step.failed:try");
  EXPECT_EQ(ev.back(), "orch.failed");
  EXPECT_EQ(flaky_calls_.load(), 3);
}

TEST_P(OrchTest, CancelStopsTheRunAndItsJob) {
  gen_sleep_ms_ = 20000;
  std::string site = Site("c1");
  Result<json> started = Start("design", {{"site", site}, {"pass", true}});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::string id = (*started)["run_id"];
  json running = Until(id, [](const json& r) {
    const json& g = Step(r, "generate");
    return g.contains("calls") && g["calls"][0]["state"] == "waiting_job";
  });
  std::string job = Step(running, "generate")["calls"][0]["job_id"];
  Result<json> cancelled = orch_->CancelRun("design", id, "test", "");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  EXPECT_EQ((*cancelled)["state"], "cancelled");
  EXPECT_EQ(Step(*cancelled, "generate")["state"], "cancelled");
  Result<json> j = jobs_->JobStatus(job, 10);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ((*j)["state"], "cancelled");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  json after = Get(id);
  EXPECT_EQ(after["state"], "cancelled");
  EXPECT_EQ(Step(after, "validate")["state"], "cancelled");
  EXPECT_EQ(Version(site), 1u);
  EXPECT_EQ(RunEvents(id).back(), "orch.cancelled");
  // Cancelling an ended run answers it as it is.
  Result<json> again = orch_->CancelRun("", id, "test", "");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)["state"], "cancelled");
  EXPECT_EQ(Records(kActiveKind), 0u);
}

TEST_P(OrchTest, ARestartedEngineResumesTheRunAndCommitsEachStepOnce) {
  gen_sleep_ms_ = 700;
  std::string site = Site("r1");
  Result<json> started = Start("design", {{"site", site}, {"pass", true}});
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  std::string id = (*started)["run_id"];
  Until(id, [](const json& r) {
    const json& g = Step(r, "generate");
    return g.contains("calls") && g["calls"][0]["state"] == "waiting_job";
  });
  StopOrch();  // the process "dies": the run stays running in the store
  json mid = json::parse(store_->backend().GetRecord(kRunKind, id).value()->value);
  EXPECT_EQ(mid["state"], "running");
  StartOrch();
  json run = Get(id, 30);
  ASSERT_EQ(run["state"], "succeeded") << run.dump(2);
  EXPECT_EQ(gen_calls_.load(), 1);
  EXPECT_EQ(Version(site), 2u);
  EXPECT_EQ(Count("job.queued", run["correlation_id"]), 2);
  EXPECT_EQ(Count("ref.patched", run["correlation_id"]), 1);
  EXPECT_EQ(RunEvents(id).back(), "orch.succeeded");
}

// A crash after a call committed but before the engine recorded it leaves
// the call "ready" in the record: issued again, with the same key, it is
// answered from the first commit (the same job, the same version).
TEST_P(OrchTest, ACallIssuedAgainAfterACrashCommitsOnce) {
  std::string site = Site("k1");
  json run = Run("design", {{"site", site}, {"pass", true}});
  ASSERT_EQ(run["state"], "succeeded") << run.dump(2);
  std::string id = run["run_id"];
  std::string job = Step(run, "generate")["job_ids"][0];
  StopOrch();
  json rec = json::parse(store_->backend().GetRecord(kRunKind, id).value()->value);
  rec["state"] = "running";
  rec.erase("output");
  rec.erase("ended_at");
  for (json& s : rec["steps"]) {
    if (s["id"] == "generate" || s["id"] == "mark_ready") {
      s["state"] = "running";
      s.erase("output");
      s["calls"][0]["state"] = "ready";
      s["calls"][0].erase("output");
      s["calls"][0].erase("job_id");
    }
    if (s["id"] == "after_ready") {
      s = {{"id", "after_ready"}, {"op", s["op"]}, {"state", "pending"}, {"attempts", 0}};
    }
  }
  rec["rev"] = rec["rev"].get<int>() + 1;
  ASSERT_TRUE(store_->backend()
                  .WriteTxn([&](store::Txn& t) -> Status {
                    BVER_RETURN_IF_ERROR(t.PutRecord({kRunKind, id, rec.dump(), store_->Now()}));
                    return t.PutRecord({kActiveKind, id, "{}", store_->Now()});
                  })
                  .ok());
  StartOrch();
  json again = Get(id, 30);
  ASSERT_EQ(again["state"], "succeeded") << again.dump(2);
  EXPECT_EQ(Step(again, "generate")["job_ids"][0], job);
  EXPECT_EQ(Step(again, "mark_ready")["output"]["version"], 2);
  EXPECT_EQ(Version(site), 2u);
  EXPECT_EQ(gen_calls_.load(), 1);
  EXPECT_EQ(Count("job.queued", run["correlation_id"]), 2);
  EXPECT_EQ(Count("ref.patched", run["correlation_id"]), 1);
}

TEST_P(OrchTest, StartsAreIdempotentByKey) {
  std::string site = Site("i1");
  Result<json> a = Start("design", {{"site", site}, {"pass", true}}, 30, "k-1");
  Result<json> b = Start("design", {{"site", site}, {"pass", true}}, 0, "k-1");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)["run_id"], (*b)["run_id"]);
  EXPECT_EQ((*b)["state"], "succeeded");
  Result<json> c = Start("design", {{"site", site}, {"pass", false}}, 0, "k-1");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kAborted);
  EXPECT_EQ(Records(kRunKind), 1u);
  // Jobs too: the same key answers the same job, nothing queued twice.
  runtime::JobStartRequest r;
  r.job = "flaky";
  r.input = std::make_shared<const json>(json{{"fail_times", 0}});
  r.idempotency_key = "test job-1";
  r.wait_seconds = 10;
  Result<json> j1 = jobs_->StartJob(r);
  Result<json> j2 = jobs_->StartJob(r);
  ASSERT_TRUE(j1.ok() && j2.ok()) << j1.status().ToString() << j2.status().ToString();
  EXPECT_EQ((*j1)["job_id"], (*j2)["job_id"]);
  EXPECT_EQ(flaky_calls_.load(), 1);
  r.input = std::make_shared<const json>(json{{"fail_times", 1}});
  Result<json> j3 = jobs_->StartJob(r);
  ASSERT_FALSE(j3.ok());
  EXPECT_EQ(j3.status().code(), StatusCode::kAborted);
}

TEST_P(OrchTest, BadInputIsAStructuredErrorAndStoresNothing) {
  std::uint64_t events = Events().size();
  Result<json> unknown = Start("nope", json::object());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("nope"));
  Result<json> missing = Start("design", {{"pass", true}});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  ASSERT_FALSE(missing.status().violations().empty());
  EXPECT_THAT(missing.status().violations()[0].path, HasSubstr("input"));
  Result<json> wrong = Start("design", {{"site", "not a pointer"}});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kInvalidArgument);
  // Through the broker, as REST and MCP call it.
  runtime::Call call;
  call.operation = "orch.design.start";
  call.input = std::make_shared<const json>(json{{"input", {{"site", 7}}}});
  call.principal = auth::Principal::Local("test");
  Result<json> via = broker_->Invoke(call);
  ASSERT_FALSE(via.ok());
  EXPECT_EQ(via.status().code(), StatusCode::kInvalidArgument);
  Result<json> no_run = orch_->GetRun("", "01890000-0000-7000-8000-000000000000", 0);
  ASSERT_FALSE(no_run.ok());
  EXPECT_EQ(no_run.status().code(), StatusCode::kNotFound);
  Result<json> no_cancel = orch_->CancelRun("design", "01890000-0000-7000-8000-000000000000", "test", "");
  EXPECT_EQ(no_cancel.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Records(kRunKind), 0u);
  EXPECT_EQ(Records(kActiveKind), 0u);
  EXPECT_EQ(Events().size(), events);
}

TEST_P(OrchTest, RunsAreListedAndServedByTheBroker) {
  std::string site = Site("l1");
  json a = Run("design", {{"site", site}, {"pass", false}});
  json b = Run("chain", {{"name", "beta"}});
  Result<json> all = orch_->ListRuns("", "", "", 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ((*all)["runs"].size(), 2u);
  EXPECT_EQ((*all)["runs"][0]["run_id"], a["run_id"]);
  Result<json> chains = orch_->ListRuns("chain", "", "", 100);
  ASSERT_TRUE(chains.ok());
  ASSERT_EQ((*chains)["runs"].size(), 1u);
  EXPECT_EQ((*chains)["runs"][0]["run_id"], b["run_id"]);
  Result<json> page = orch_->ListRuns("", "", "", 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ((*page)["runs"].size(), 1u);
  Result<json> next = orch_->ListRuns("", "", (*page)["next_cursor"], 1);
  ASSERT_TRUE(next.ok());
  EXPECT_EQ((*next)["runs"][0]["run_id"], b["run_id"]);
  // A list entry is a summary: each step's state, no inputs or calls, and
  // where the whole run is.
  const json& summary = (*all)["runs"][0];
  EXPECT_FALSE(summary.contains("input")) << summary.dump();
  ASSERT_FALSE(summary["steps"].empty());
  EXPECT_FALSE(summary["steps"][0].contains("calls")) << summary.dump();
  EXPECT_TRUE(summary["steps"][0].contains("state"));
  EXPECT_EQ(summary["href"], "/v1/orchestrators/design/runs/" + a["run_id"].get<std::string>());
  EXPECT_EQ(summary["state"], a["state"]);
  // The rows validate the real outputs against their schemas.
  for (auto [op, input] : {std::pair<std::string, json>{"orch.runs.list", json::object()},
                           std::pair<std::string, json>{"orch.design.get", {{"run_id", a["run_id"]}}},
                           std::pair<std::string, json>{"orch.runs.get", {{"run_id", b["run_id"]}}},
                           std::pair<std::string, json>{"orch.runs.cancel", {{"run_id", b["run_id"]}}},
                           std::pair<std::string, json>{"orch.chain.start", {{"input", {{"name", "gamma"}}}, {"wait", 30}}}}) {
    runtime::Call call;
    call.operation = op;
    call.input = std::make_shared<const json>(input);
    call.principal = auth::Principal::Local("test");
    Result<json> r = broker_->Invoke(call);
    EXPECT_TRUE(r.ok()) << op << ": " << r.status().ToString();
  }
  runtime::Call other;
  other.operation = "orch.chain.get";  // a run of another orchestrator
  other.input = std::make_shared<const json>(json{{"run_id", a["run_id"]}});
  other.principal = auth::Principal::Local("test");
  EXPECT_EQ(broker_->Invoke(other).status().code(), StatusCode::kNotFound);
}

INSTANTIATE_TEST_SUITE_P(Backends, OrchTest, ::testing::ValuesIn(bver::testing::StoreBackends(4)),
                         [](const ::testing::TestParamInfo<BackendCase>& i) { return i.param.name; });

}  // namespace
}  // namespace bver::orch
