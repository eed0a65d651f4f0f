// The job engine over the real store (SQLite and PostgreSQL): cache hits and
// misses, generators committing once with provenance, conflict policies,
// retries, timeouts, cancellation, misbehaving plugins, labels and the
// takeover of a job whose worker died.
//
// Capabilities of plugin "fake" run as C++ runners in this process; those
// of plugin "jobtest" are the exec plugin in tests/jobs/plugins/jobtest,
// installed into an in-memory registry.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/domain/compiler.h"
#include "src/jobs/engine.h"
#include "src/plugin/registry.h"
#include "src/plugin/runner.h"
#include "src/store/postgres/postgres_backend.h"
#include "src/store/sqlite/sqlite_backend.h"
#include "src/store/store.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/fake_capabilities.h"
#include "tests/support/store_backends.h"

namespace bver::jobs {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

// Fakes first, then the installed plugins.
class TestHost final : public CapabilityHost {
 public:
  TestHost(plugin::Registry& registry, const domain::Platform& platform)
      : host_(MakeRegistryHost(registry, platform)) {}
  void Add(const std::string& cap, bver::testing::FakePlugin fn, int trust_runs = 1, int trust_agree = 1) {
    host_.Add(cap, std::move(fn), trust_runs, trust_agree);
  }
  Result<BoundCapability> Bind(const domain::Capability& cap) override { return host_.Bind(cap); }

 private:
  bver::testing::FakeHost host_;
};

// Sleeps `ms`, watching the cancel flag. False when cancelled.
bool SleepUnlessCancelled(const plugin::Invocation& inv, std::int64_t ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < end) {
    if (inv.cancel != nullptr && inv.cancel->load()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

using bver::testing::BackendCase;

std::vector<BackendCase> Backends() { return bver::testing::StoreBackends(4); }

Pointer P(const std::string& text) { return *Pointer::Parse(text); }

class EngineTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    dir_ = bver::testing::FreshTestDir("bver_jobs");
    Result<bver::testing::TestStore> opened =
        bver::testing::OpenTestStore(GetParam(), dir_, BVER_SOURCE_DIR "/tests/jobs/bver.yaml");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    platform_ = opened->platform;
    store_ = std::move(opened->store);
    registry_ = std::make_unique<plugin::Registry>(registry_storage_, (dir_ / "plugins").string());
    Result<plugin::InstalledPlugin> installed =
        registry_->Install(BVER_SOURCE_DIR "/tests/jobs/plugins/jobtest", platform_.get());
    ASSERT_TRUE(installed.ok()) << installed.status().ToString();
    host_ = std::make_unique<TestHost>(*registry_, *platform_);
    AddFakes();
    options_.threads = 2;
    options_.job_lease_ms = 1500;
    options_.heartbeat_ms = 100;
    options_.ref_lease_ms = 3000;
    options_.idle_poll_ms = 10;
    options_.backoff_base_ms = 20;
    options_.backoff_max_ms = 200;
    options_.worker_name = "test";
    options_.worker_labels = json::object();
  }
  void TearDown() override {
    engine_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void AddFakes() {
    host_->Add("test.gen", [this](const plugin::Invocation& inv) -> Result<json> {
      ++gen_calls_;
      int sleep = inv.input.value("sleep_ms", 0) + (inv.attempt == 1 ? inv.input.value("sleep_first_ms", 0) : 0);
      if (!SleepUnlessCancelled(inv, sleep)) return Status(StatusCode::kCancelled, "cancelled");
      std::string site = inv.input.at("site");
      std::string id = P(site).id() + "-" + inv.input.value("tag", "a");
      return json{{"changeset",
                   {{"creates", {{{"repo", "assets/asset"}, {"id", id}, {"body", {{"name", id}, {"site", site}}}}}}}}};
    });
    host_->Add("test.check", [this](const plugin::Invocation& inv) -> Result<json> {
      ++check_calls_;
      {
        std::lock_guard<std::mutex> l(mu_);
        last_check_ = {{"resolved", inv.resolved}, {"related", inv.related}};
      }
      if (!SleepUnlessCancelled(inv, inv.input.value("sleep_ms", 0))) return Status(StatusCode::kCancelled, "cancelled");
      return json{{"passed", true}, {"findings", json::array()}};
    });
    host_->Add("test.noop", [](const plugin::Invocation&) -> Result<json> { return json{{"metrics", json::object()}}; });
    host_->Add("test.cached", [this](const plugin::Invocation&) -> Result<json> {
      return json{{"metrics", {{"n", ++cached_calls_}}}};
    });
    host_->Add("test.labelled", [](const plugin::Invocation&) -> Result<json> { return json{{"metrics", json::object()}}; });
    // 2 of 3 runs must agree; with disagree, every run answers differently.
    host_->Add(
        "test.trusted",
        [this](const plugin::Invocation& inv) -> Result<json> {
          int n = ++trusted_calls_;
          return json{{"metrics", {{"v", inv.input.value("disagree", false) ? n : 7}}}};
        },
        3, 2);
    host_->Add("test.flaky", [this](const plugin::Invocation& inv) -> Result<json> {
      if (flaky_calls_++ < inv.input.value("fail_times", 0)) return UnavailableError("not yet");
      return json{{"metrics", {{"calls", flaky_calls_.load()}}}};
    });
  }

  void StartEngine() {
    engine_ = std::make_unique<Engine>(*store_, *host_, options_);
    engine_->Start();
  }

  Result<json> Start(const std::string& job, json input, bool no_cache = false, double wait = 0) {
    runtime::JobStartRequest r;
    r.job = job;
    r.input = std::make_shared<const json>(std::move(input));
    r.no_cache = no_cache;
    r.wait_seconds = wait;
    r.actor = "test";
    return engine_->StartJob(r);
  }

  json Run(const std::string& job, json input, bool no_cache = false) {
    Result<json> r = Start(job, std::move(input), no_cache, 30);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : json::object();
  }

  json Await(const std::string& id) {
    Result<json> r = engine_->JobStatus(id, 30);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : json::object();
  }

  // Waits until the job is running (or 10 s).
  void UntilRunning(const std::string& id) {
    for (int i = 0; i < 1000; ++i) {
      Result<json> r = engine_->JobStatus(id, 0);
      if (r.ok() && (*r)["state"] == "running") return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "job " << id << " never ran";
  }

  store::Reference Site(const std::string& id) {
    store::WriteContext ctx;
    ctx.actor = "test";
    Result<store::Reference> r = store_->Create("sites/site", "", {{"name", id}}, ctx, id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : store::Reference{};
  }

  std::vector<json> ControlEvents(const std::string& job_id) {
    std::vector<json> out;
    for (std::uint64_t from = 1;;) {
      Result<std::vector<store::Event>> ev = store_->ReadEvents(from, 1000);
      EXPECT_TRUE(ev.ok()) << ev.status().ToString();
      if (!ev.ok() || ev->empty()) break;
      for (const store::Event& e : *ev) {
        if ((*e.envelope)["channel"] == "control" && (*e.envelope)["object_pointer"] == "job:" + job_id) {
          out.push_back(*e.envelope);
        }
        from = e.offset + 1;
      }
    }
    return out;
  }
  std::vector<std::string> EventTypes(const std::string& job_id) {
    std::vector<std::string> out;
    for (const json& e : ControlEvents(job_id)) out.push_back(e["event_type"]);
    return out;
  }

  fs::path dir_;
  std::shared_ptr<domain::Platform> platform_;
  std::unique_ptr<store::Store> store_;
  plugin::MemoryRegistryStorage registry_storage_;
  std::unique_ptr<plugin::Registry> registry_;
  std::unique_ptr<TestHost> host_;
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
  std::atomic<int> gen_calls_{0}, check_calls_{0}, cached_calls_{0}, flaky_calls_{0}, trusted_calls_{0};
  std::mutex mu_;
  json last_check_;
};

TEST_P(EngineTest, CacheHitOnIdenticalPinnedInputsAndMissAfterAChange) {
  StartEngine();
  store::Reference site = Site("s1");
  json first = Run("check", {{"site", "bver://sites/site/s1"}});
  EXPECT_EQ(first["state"], "succeeded") << first.dump();
  EXPECT_EQ(first["cache_hit"], false);
  EXPECT_EQ(first["result"]["passed"], true);
  EXPECT_EQ(check_calls_, 1);
  {
    std::lock_guard<std::mutex> l(mu_);
    EXPECT_EQ(last_check_["resolved"]["bver://sites/site/s1"]["pointer"], "bver://sites/site/s1~1");
  }

  // Same pinned inputs: done at once from the cache, the capability not run.
  Result<json> hit = Start("check", {{"site", "bver://sites/site/s1"}});
  ASSERT_TRUE(hit.ok()) << hit.status().ToString();
  EXPECT_EQ((*hit)["state"], "succeeded");
  EXPECT_EQ((*hit)["cache_hit"], true);
  EXPECT_EQ((*hit)["result"], first["result"]);
  EXPECT_EQ((*hit)["cache_key"], first["cache_key"]);
  EXPECT_EQ(check_calls_, 1);
  std::vector<json> ev = ControlEvents((*hit)["job_id"]);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0]["event_type"], "job.succeeded");
  EXPECT_EQ(ev[0]["payload"]["cache_hit"], true);
  // The status read back says so too.
  Result<json> st = engine_->JobStatus((*hit)["job_id"], 0);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*st)["cache_hit"], true);

  // Pinned explicitly to the same version: the same key.
  Result<std::string> pinned = engine_->CacheKeyForTest("check", {{"site", "bver://sites/site/s1~1"}});
  ASSERT_TRUE(pinned.ok());
  EXPECT_EQ(*pinned, first["cache_key"]);

  // --no-cache runs it.
  json forced = Run("check", {{"site", "bver://sites/site/s1"}}, true);
  EXPECT_EQ(forced["state"], "succeeded");
  EXPECT_EQ(forced["cache_hit"], false);
  EXPECT_EQ(check_calls_, 2);

  // The site changes: a miss.
  store::WriteContext ctx;
  ctx.actor = "test";
  ASSERT_TRUE(store_->Patch(P("bver://sites/site/s1"), store::PatchFormat::kMergePatch, {{"note", "x"}}, ctx).ok());
  json after = Run("check", {{"site", "bver://sites/site/s1"}});
  EXPECT_EQ(after["cache_hit"], false);
  EXPECT_NE(after["cache_key"], first["cache_key"]);
  EXPECT_EQ(check_calls_, 3);

  // A new asset at the site (a related reference): a miss too, and the
  // check sees the asset.
  ASSERT_TRUE(store_->Create("assets/asset", "", {{"name", "b1"}, {"site", "bver://sites/site/s1"}}, ctx, "b1").ok());
  json related = Run("check", {{"site", "bver://sites/site/s1"}});
  EXPECT_EQ(related["cache_hit"], false);
  EXPECT_EQ(check_calls_, 4);
  {
    std::lock_guard<std::mutex> l(mu_);
    ASSERT_EQ(last_check_["related"]["bver://sites/site/s1"].size(), 1u);
    EXPECT_EQ(last_check_["related"]["bver://sites/site/s1"][0]["pointer"], "bver://assets/asset/b1~1");
  }
  // And now a hit again.
  Result<json> hit2 = Start("check", {{"site", "bver://sites/site/s1"}});
  ASSERT_TRUE(hit2.ok());
  EXPECT_EQ((*hit2)["cache_hit"], true);
  EXPECT_EQ(check_calls_, 4);

  // A capability that is not deterministic is never cached.
  EXPECT_EQ(Run("noop", json::object())["cache_hit"], false);
  EXPECT_EQ(Run("noop", json::object())["cache_hit"], false);
  (void)site;
}

TEST_P(EngineTest, DefaultsArePartOfTheKey) {
  StartEngine();
  Site("s1");
  Result<std::string> a = engine_->CacheKeyForTest("gen", {{"site", "bver://sites/site/s1"}});
  Result<std::string> b = engine_->CacheKeyForTest("gen", {{"site", "bver://sites/site/s1"}, {"tag", "a"}});
  Result<std::string> c = engine_->CacheKeyForTest("gen", {{"site", "bver://sites/site/s1"}, {"tag", "b"}});
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_NE(*a, *c);
}

TEST_P(EngineTest, GeneratorCommitsItsChangesetOnceWithProvenance) {
  StartEngine();
  Site("s1");
  json done = Run("gen", {{"site", "bver://sites/site/s1"}});
  ASSERT_EQ(done["state"], "succeeded") << done.dump();
  EXPECT_EQ(done["attempts"], 1);
  Result<store::Reference> asset = store_->Get(P("bver://assets/asset/s1-a"));
  ASSERT_TRUE(asset.ok()) << asset.status().ToString();
  ASSERT_TRUE(asset->provenance);
  EXPECT_EQ((*asset->provenance)["job"], done["job_id"]);
  EXPECT_EQ((*asset->provenance)["capability"], "test.gen@1.0.0");
  EXPECT_EQ((*asset->provenance)["input_digest"], done["cache_key"]);
  Result<std::vector<store::VersionInfo>> h = store_->History(P("bver://assets/asset/s1-a"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size(), 1u);
  // The lease on the site is released: another holder can take it.
  EXPECT_TRUE(store_->AcquireLease(P("bver://sites/site/s1"), "someone", 1000).ok());
  EXPECT_EQ(EventTypes(done["job_id"]), (std::vector<std::string>{"job.queued", "job.started", "job.succeeded"}));
  // The cached result of a deterministic generator: a hit writes nothing.
  ASSERT_TRUE(store_->ReleaseLease(P("bver://sites/site/s1"), "someone").ok());
}

TEST_P(EngineTest, BadInputGetsAClearError) {
  StartEngine();
  Site("s1");
  Result<json> r = Start("nope", json::object());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  r = Start("gen", {{"site", 3}});
  ASSERT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  ASSERT_FALSE(r.status().violations().empty());
  EXPECT_THAT(r.status().violations()[0].path, HasSubstr("input.site"));
  r = Start("gen", json::object());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = Start("gen", {{"site", "bver://sites/site/absent"}});
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("input.site"));
  Result<json> st = engine_->JobStatus("0190aaaa-0000-7000-8000-000000000000", 0);
  EXPECT_EQ(st.status().code(), StatusCode::kNotFound);
  // A capability id works as well as a job name.
  json byCap = Run("test.noop", json::object());
  EXPECT_EQ(byCap["state"], "succeeded");
  EXPECT_EQ(byCap["job"], "noop");
}

// Job A holds the site's lease while it runs; job B wants the same site.
TEST_P(EngineTest, CompetingForALeasedPointerUnderEachPolicy) {
  StartEngine();
  Site("s1");
  for (std::string policy_job : {"gen", "gen_retry", "gen_restart"}) {
    SCOPED_TRACE(policy_job);
    std::string tag_a = policy_job + "-a", tag_b = policy_job + "-b";
    Result<json> a = Start("gen", {{"site", "bver://sites/site/s1"}, {"tag", tag_a}, {"sleep_ms", 600}});
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    UntilRunning((*a)["job_id"]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // A has its lease
    Result<json> b = Start(policy_job, {{"site", "bver://sites/site/s1"}, {"tag", tag_b}});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    json end_b = Await((*b)["job_id"]);
    json end_a = Await((*a)["job_id"]);
    EXPECT_EQ(end_a["state"], "succeeded");
    if (policy_job == "gen") {
      EXPECT_EQ(end_b["state"], "failed") << end_b.dump();
      EXPECT_EQ(end_b["error"]["code"], "aborted");
      EXPECT_THAT(end_b["error"]["message"].get<std::string>(), HasSubstr("conflict"));
      EXPECT_THAT(end_b["error"]["message"].get<std::string>(), HasSubstr("job:" + (*a)["job_id"].get<std::string>()));
      EXPECT_FALSE(store_->Get(P("bver://assets/asset/s1-" + tag_b)).ok());
    } else {
      EXPECT_EQ(end_b["state"], "succeeded") << end_b.dump();
      EXPECT_GE(end_b["attempts"].get<int>(), 2);
      EXPECT_TRUE(store_->Get(P("bver://assets/asset/s1-" + tag_b)).ok());
      std::vector<std::string> types = EventTypes((*b)["job_id"]);
      EXPECT_NE(std::find(types.begin(), types.end(), "job.retrying"), types.end());
    }
  }
}

// An input changes while a job runs: restart_on_write runs it again on the
// new version; fail ends it with the conflict.
TEST_P(EngineTest, InputWrittenWhileRunning) {
  StartEngine();
  Site("s1");
  store::WriteContext ctx;
  ctx.actor = "test";
  for (std::string job : {"check", "check_fail"}) {
    SCOPED_TRACE(job);
    int calls_before = check_calls_;
    Result<json> r = Start(job, {{"site", "bver://sites/site/s1"}, {"sleep_ms", 400}}, true);
    ASSERT_TRUE(r.ok());
    UntilRunning((*r)["job_id"]);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(store_->Patch(P("bver://sites/site/s1"), store::PatchFormat::kMergePatch, {{"note", job}}, ctx).ok());
    json end = Await((*r)["job_id"]);
    if (job == "check") {
      EXPECT_EQ(end["state"], "succeeded") << end.dump();
      EXPECT_EQ(check_calls_ - calls_before, 2);
      Result<std::string> key_now = engine_->CacheKeyForTest("check", {{"site", "bver://sites/site/s1"}, {"sleep_ms", 400}});
      ASSERT_TRUE(key_now.ok());
      EXPECT_EQ(end["cache_key"], *key_now);
    } else {
      EXPECT_EQ(end["state"], "failed") << end.dump();
      EXPECT_THAT(end["error"]["message"].get<std::string>(), HasSubstr("changed"));
      EXPECT_EQ(check_calls_ - calls_before, 1);
    }
  }
}

TEST_P(EngineTest, RetriesWithBackoffUpToTheMaximum) {
  StartEngine();
  json ok = Run("flaky", {{"fail_times", 2}});
  EXPECT_EQ(ok["state"], "succeeded") << ok.dump();
  EXPECT_EQ(ok["attempts"], 3);
  std::vector<std::string> types = EventTypes(ok["job_id"]);
  EXPECT_EQ(std::count(types.begin(), types.end(), "job.retrying"), 2);
  EXPECT_EQ(std::count(types.begin(), types.end(), "job.started"), 3);
  flaky_calls_ = 0;
  json bad = Run("flaky", {{"fail_times", 100}});
  EXPECT_EQ(bad["state"], "failed") << bad.dump();
  EXPECT_EQ(bad["attempts"], 4);  // max_retries 3
  EXPECT_EQ(bad["error"]["code"], "unavailable");
  EXPECT_THAT(bad["error"]["message"].get<std::string>(), HasSubstr("gave up after 4"));
}

TEST_P(EngineTest, TrustRunsKOfN) {
  StartEngine();
  json agreed = Run("trusted", json::object());
  EXPECT_EQ(agreed["state"], "succeeded") << agreed.dump();
  EXPECT_EQ(agreed["result"]["metrics"]["v"], 7);
  EXPECT_EQ(trusted_calls_, 2);  // the second run already made 2 of 3
  trusted_calls_ = 0;
  json split = Run("trusted", {{"disagree", true}});
  EXPECT_EQ(split["state"], "failed") << split.dump();
  EXPECT_EQ(split["error"]["code"], "failed_precondition");
  EXPECT_THAT(split["error"]["message"].get<std::string>(), HasSubstr("2 of 3 needed"));
  EXPECT_EQ(trusted_calls_, 3);  // three different answers
}

TEST_P(EngineTest, TimeoutEndsTheJobTimedOut) {
  StartEngine();
  auto t0 = std::chrono::steady_clock::now();
  json end = Run("hang", json::object());
  EXPECT_EQ(end["state"], "timed_out") << end.dump();
  EXPECT_EQ(end["error"]["code"], "deadline_exceeded");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
  EXPECT_EQ(EventTypes(end["job_id"]).back(), "job.timed_out");
}

TEST_P(EngineTest, CancelQueuedAndRunning) {
  // No workers yet: the job stays queued and is cancelled at once.
  engine_ = std::make_unique<Engine>(*store_, *host_, options_);
  Site("s1");
  Result<json> q = Start("noop", json::object());
  ASSERT_TRUE(q.ok());
  EXPECT_EQ((*q)["state"], "queued");
  Result<json> c = engine_->CancelJob((*q)["job_id"], "test", "");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)["state"], "cancelled");
  EXPECT_EQ(EventTypes((*q)["job_id"]), (std::vector<std::string>{"job.queued", "job.cancelled"}));
  // Cancelling again answers the same.
  EXPECT_EQ((*engine_->CancelJob((*q)["job_id"], "test", ""))["state"], "cancelled");
  EXPECT_EQ(engine_->CancelJob("0190aaaa-0000-7000-8000-000000000000", "t", "").status().code(),
            StatusCode::kNotFound);

  engine_->Start();
  Result<json> r = Start("gen", {{"site", "bver://sites/site/s1"}, {"sleep_ms", 20000}});
  ASSERT_TRUE(r.ok());
  UntilRunning((*r)["job_id"]);
  ASSERT_TRUE(engine_->CancelJob((*r)["job_id"], "test", "").ok());
  json end = Await((*r)["job_id"]);
  EXPECT_EQ(end["state"], "cancelled") << end.dump();
  EXPECT_FALSE(store_->Get(P("bver://assets/asset/s1-a")).ok());
  // The engine keeps serving.
  EXPECT_EQ(Run("noop", json::object())["state"], "succeeded");
}

TEST_P(EngineTest, MisbehavingPluginsFailClearlyAndNothingIsWritten) {
  StartEngine();
  struct Case {
    std::string job, code, message;
  };
  for (const Case& c : std::vector<Case>{{"crash", "internal", "SIGSEGV"},
                                         {"garbage", "data_loss", "non-JSON"},
                                         {"bad_output", "invalid_argument", "contract"},
                                         {"outside", "permission_denied", "other/thing"},
                                         {"memory", "resource_exhausted", "memory"}}) {
    SCOPED_TRACE(c.job);
    json end = Run(c.job, json::object());
    EXPECT_EQ(end["state"], "failed") << end.dump();
    EXPECT_EQ(end["error"]["code"], c.code) << end.dump();
    EXPECT_THAT(end["error"]["message"].get<std::string>(), HasSubstr(c.message));
    EXPECT_EQ(EventTypes(end["job_id"]).back(), "job.failed");
  }
  Result<store::ListPage> things = store_->List({"other/thing", "", {}, "", 10, true});
  ASSERT_TRUE(things.ok());
  EXPECT_TRUE(things->items.empty());
  EXPECT_EQ(Run("noop", json::object())["state"], "succeeded");
}

TEST_P(EngineTest, LabelsPickTheWorker) {
  StartEngine();  // offers no labels
  Result<json> r = Start("labelled", json::object());
  ASSERT_TRUE(r.ok());
  Result<json> st = engine_->JobStatus((*r)["job_id"], 0.3);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*st)["state"], "queued");
  EngineOptions gpu = options_;
  gpu.worker_labels = {{"gpu", "yes"}};
  gpu.worker_name = "gpu";
  Engine other(*store_, *host_, gpu);
  other.Start();
  json end = Await((*r)["job_id"]);
  EXPECT_EQ(end["state"], "succeeded");
  other.Stop();
}

// A worker claims a job and dies (it never heartbeats): once its lease has
// expired another worker runs the job again, and the changeset is committed
// exactly once.
TEST_P(EngineTest, DeadWorkersJobIsTakenOverAndCommittedOnce) {
  engine_ = std::make_unique<Engine>(*store_, *host_, options_);
  Site("s1");
  Result<json> r = Start("gen", {{"site", "bver://sites/site/s1"}});
  ASSERT_TRUE(r.ok());
  std::int64_t now = store_->Now();
  Result<std::optional<store::JobRow>> ghost = store_->backend().ClaimJob("ghost", "{}", now, now + 300000);
  ASSERT_TRUE(ghost.ok() && *ghost);
  // Its reference lease too, as a live worker would hold it.
  ASSERT_TRUE(store_->AcquireLease(P("bver://sites/site/s1"), "job:" + (*r)["job_id"].get<std::string>(), 300).ok());
  engine_->Start();
  json end = Await((*r)["job_id"]);
  EXPECT_EQ(end["state"], "succeeded") << end.dump();
  EXPECT_EQ(end["attempts"], 2);
  EXPECT_EQ(gen_calls_, 1);
  Result<std::vector<store::VersionInfo>> h = store_->History(P("bver://assets/asset/s1-a"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size(), 1u);
  // The ghost comes back and tries to renew: it no longer holds the job.
  Result<bool> renew = store_->backend().RenewJobLease((*r)["job_id"], "ghost", store_->Now() + 1000000);
  ASSERT_TRUE(renew.ok());
  EXPECT_FALSE(*renew);
}

// Stop gives running jobs a grace period, then abandons them: nothing is
// written, the job stays running until its lease lapses, and another worker
// runs it again.
TEST_P(EngineTest, StopAbandonsRunningJobsToAnotherWorker) {
  options_.stop_grace_ms = 100;
  options_.job_lease_ms = 600;
  StartEngine();
  Site("s1");
  Result<json> r = Start("gen", {{"site", "bver://sites/site/s1"}, {"sleep_first_ms", 30000}});
  ASSERT_TRUE(r.ok());
  UntilRunning((*r)["job_id"]);
  auto t0 = std::chrono::steady_clock::now();
  engine_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  Result<json> st = engine_->JobStatus((*r)["job_id"], 0);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*st)["state"], "running");
  EXPECT_FALSE(store_->Get(P("bver://assets/asset/s1-a")).ok());
  EngineOptions second = options_;
  second.worker_name = "second";
  Engine other(*store_, *host_, second);
  other.Start();
  Result<json> end = other.JobStatus((*r)["job_id"], 30);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ((*end)["state"], "succeeded") << end->dump();
  EXPECT_EQ((*end)["attempts"], 2);
  EXPECT_EQ(gen_calls_, 2);
  Result<std::vector<store::VersionInfo>> h = store_->History(P("bver://assets/asset/s1-a"));
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->size(), 1u);
  other.Stop();
}

// Many jobs queued at once: workers claim the next one in the transaction
// that ends the previous (SQLite); each still runs once, with its events
// in order.
TEST_P(EngineTest, ManyJobsAtOnceEachRunOnceWithEventsInOrder) {
  StartEngine();
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    Result<json> r = Start("flaky", {{"fail_times", 0}});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ids.push_back((*r)["job_id"]);
  }
  for (const std::string& id : ids) {
    json end = Await(id);
    EXPECT_EQ(end["state"], "succeeded") << end.dump();
    EXPECT_EQ(end["attempts"], 1);
    EXPECT_EQ(EventTypes(id), (std::vector<std::string>{"job.queued", "job.started", "job.succeeded"}));
  }
  EXPECT_EQ(flaky_calls_, 60);
}

TEST_P(EngineTest, ListsJobs) {
  StartEngine();
  json a = Run("noop", json::object());
  json b = Run("noop", json::object());
  Result<std::vector<json>> all = engine_->List("", "", 100);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0]["job_id"], a["job_id"]);
  EXPECT_EQ((*all)[1]["job_id"], b["job_id"]);
  Result<std::vector<json>> queued = engine_->List("queued", "", 100);
  ASSERT_TRUE(queued.ok());
  EXPECT_TRUE(queued->empty());
}

INSTANTIATE_TEST_SUITE_P(Backends, EngineTest, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<BackendCase>& i) { return i.param.name; });

}  // namespace
}  // namespace bver::jobs
