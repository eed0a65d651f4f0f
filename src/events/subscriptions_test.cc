// Durable consumers over the real store: SQLite and a throwaway PostgreSQL
// (tests/support/pg_cluster.h).
#include "src/events/subscriptions.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/store/store.h"
#include "tests/support/store_backends.h"

namespace bver::events {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using bver::testing::BackendCase;

TEST(EventFilterTest, MatchesEachField) {
  json site = {{"channel", "traffic"}, {"event_type", "ref.created"}, {"object_pointer", "bver://sites/site/n1~1"}};
  json job = {{"channel", "control"}, {"event_type", "job.succeeded"}, {"subject", "bver://jobs/0193"}};
  EventFilter all;
  EXPECT_TRUE(all.Matches(site));
  EXPECT_TRUE(all.Matches(job));
  EventFilter ch{{"control"}, {}, ""};
  EXPECT_FALSE(ch.Matches(site));
  EXPECT_TRUE(ch.Matches(job));
  EventFilter prefix_type{{}, {"ref.*"}, ""};
  EXPECT_TRUE(prefix_type.Matches(site));
  EXPECT_FALSE(prefix_type.Matches(job));
  EventFilter exact_type{{}, {"ref.patched", "job.succeeded"}, ""};
  EXPECT_FALSE(exact_type.Matches(site));
  EXPECT_TRUE(exact_type.Matches(job));
  EventFilter ptr{{}, {}, "bver://sites/site/"};
  EXPECT_TRUE(ptr.Matches(site));
  EXPECT_FALSE(ptr.Matches(job));
  EventFilter subject{{}, {}, "bver://jobs/"};
  EXPECT_TRUE(subject.Matches(job));
  EventFilter both{{"traffic"}, {"ref.created"}, "bver://sites/site/n2"};
  EXPECT_FALSE(both.Matches(site));
}

TEST(EventFilterTest, FromJsonRefusesMalformedFilters) {
  EXPECT_TRUE(EventFilter::FromJson(json()).ok());
  Result<EventFilter> f = EventFilter::FromJson({{"channels", "traffic"}, {"event_types", {"ref.*"}}});
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->channels, std::vector<std::string>{"traffic"});
  for (const json& bad : {json::array(), json{{"chanels", {"x"}}}, json{{"channels", 3}}, json{{"event_types", {""}}},
                          json{{"pointer_prefix", 1}}}) {
    Result<EventFilter> r = EventFilter::FromJson(bad);
    ASSERT_FALSE(r.ok()) << bad.dump();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_FALSE(r.status().violations().empty()) << bad.dump();
  }
}

class ConsumerTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    dir_ = bver::testing::FreshTestDir("bver_consumers");
    Open();
  }
  void TearDown() override {
    subs_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  void Open() {
    subs_.reset();
    store_.reset();
    Result<bver::testing::TestStore> opened =
        bver::testing::OpenTestStore(GetParam(), dir_, BVER_SOURCE_DIR "/tests/jobs/bver.yaml");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened->store);
    Subscriptions::Options o;
    o.poll_interval = std::chrono::milliseconds(50);
    subs_ = std::make_unique<Subscriptions>(store_->backend(), store_->backend(), o);
  }
  // A site and an asset per call: two traffic events.
  void Write(const std::string& name) {
    store::WriteContext ctx{"test", "corr-" + name, "", {}, "", "", nullptr};
    Result<store::Reference> s = store_->Create("sites/site", "", {{"name", name}}, ctx, name);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Result<store::Reference> a =
        store_->Create("assets/asset", "", {{"name", name}, {"site", "bver://sites/site/" + name}}, ctx, "a-" + name);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
  }
  json Create(json spec) {
    Result<json> c = subs_->CreateConsumer(spec);
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : json();
  }
  json Fetch(const std::string& name, std::size_t max = 100, std::int64_t wait_ms = 0) {
    Result<json> f = subs_->Fetch(name, max, wait_ms);
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? (*f)["events"] : json::array();
  }
  static std::vector<std::uint64_t> Offsets(const json& deliveries) {
    std::vector<std::uint64_t> out;
    for (const json& d : deliveries) out.push_back(d["offset"].get<std::uint64_t>());
    return out;
  }
  std::string Record(const std::string& name) {
    Result<std::optional<store::RecordRow>> r = store_->backend().GetRecord("consumer", name);
    return r.ok() && *r ? (*r)->value : "";
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Subscriptions> subs_;
};

TEST_P(ConsumerTest, DeliversWhatPassesTheFilterInOrderUntilAcked) {
  Write("n1");
  Write("n2");
  json c = Create({{"name", "sites"}, {"from", 1}, {"filter", {{"pointer_prefix", "bver://sites/site/"}}}});
  EXPECT_TRUE(c["created"].get<bool>());
  json got = Fetch("sites");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["offset"], 1);
  EXPECT_EQ(got[0]["delivery"], 1);
  EXPECT_EQ(got[0]["event"]["object_pointer"], "bver://sites/site/n1~1");
  EXPECT_EQ(got[1]["event"]["object_pointer"], "bver://sites/site/n2~1");
  EXPECT_TRUE(Fetch("sites").empty()) << "pending events are not handed out again before their ack timeout";
  Result<json> acked = subs_->Ack("sites", {Offsets(got)[0], Offsets(got)[1], 99});
  ASSERT_TRUE(acked.ok()) << acked.status().ToString();
  EXPECT_EQ((*acked)["acked"].size(), 2u);
  EXPECT_EQ((*acked)["unknown"], json::array({99}));
  EXPECT_EQ((*acked)["consumer"]["pending"], 0);
  EXPECT_EQ((*acked)["consumer"]["ack_floor"], 4) << "the asset events do not pass the filter and count as handled";
  Write("n3");
  json more = Fetch("sites");
  ASSERT_EQ(more.size(), 1u);
  EXPECT_EQ(more[0]["event"]["object_pointer"], "bver://sites/site/n3~1");
}

TEST_P(ConsumerTest, AConsumerThatDiesBeforeAckGetsTheEventAgain) {
  Create({{"name", "indexer"}, {"ack_timeout_ms", 1500}});
  Write("n1");
  json first = Fetch("indexer");
  auto fetched_at = std::chrono::steady_clock::now();
  ASSERT_EQ(first.size(), 2u);
  // The subscriber dies here: no ack. A new process (a new object on a
  // reopened store) fetches: nothing before the timeout, the same events after.
  Open();
  json early = Fetch("indexer");
  if (std::chrono::steady_clock::now() - fetched_at < std::chrono::milliseconds(1400)) {
    EXPECT_TRUE(early.empty()) << "handed out again before the ack timeout";
  }
  json again = early;  // a machine slow enough to reopen after the timeout already got them
  if (again.empty()) {
    std::this_thread::sleep_until(fetched_at + std::chrono::milliseconds(1600));
    again = Fetch("indexer");
  }
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(Offsets(again), Offsets(first));
  EXPECT_EQ(again[0]["delivery"], 2);
  EXPECT_EQ(again[0]["event"]["event_id"], first[0]["event"]["event_id"]);
  ASSERT_TRUE(subs_->Ack("indexer", Offsets(again)).ok());
  Result<json> c = subs_->GetConsumer("indexer");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)["redelivered"], 2);
  EXPECT_EQ((*c)["acked"], 2);
  EXPECT_EQ((*c)["lag"], 0);
}

TEST_P(ConsumerTest, ANewConsumerStartsAtTheEndUnlessToldWhere) {
  Write("old");
  Create({{"name", "fresh"}});
  Create({{"name", "replay"}, {"from", 1}});
  Write("new");
  EXPECT_EQ(Offsets(Fetch("fresh")), (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(Offsets(Fetch("replay")), (std::vector<std::uint64_t>{1, 2, 3, 4}));
}

TEST_P(ConsumerTest, SeekReplaysFromAnyOffset) {
  Write("n1");
  Write("n2");
  Create({{"name", "r"}, {"from", 1}});
  json all = Fetch("r");
  ASSERT_EQ(all.size(), 4u);
  ASSERT_TRUE(subs_->Ack("r", Offsets(all)).ok());
  Result<json> s = subs_->Seek("r", 2);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)["next_offset"], 2);
  EXPECT_EQ(Offsets(Fetch("r")), (std::vector<std::uint64_t>{2, 3, 4}));
}

TEST_P(ConsumerTest, MaxAckPendingHoldsASlowConsumerBackWithoutSkipping) {
  Write("n1");
  Write("n2");
  Create({{"name", "slow"}, {"from", 1}, {"max_ack_pending", 3}});
  json got = Fetch("slow", 10);
  EXPECT_EQ(Offsets(got), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_TRUE(Fetch("slow", 10).empty());
  ASSERT_TRUE(subs_->Ack("slow", {1}).ok());
  EXPECT_EQ(Offsets(Fetch("slow", 10)), (std::vector<std::uint64_t>{4}));
}

TEST_P(ConsumerTest, ConcurrentFetchersNeverShareADelivery) {
  for (int i = 0; i < 20; ++i) Write("s" + std::to_string(i));
  Create({{"name", "shared"}, {"from", 1}});
  std::mutex mu;
  std::multiset<std::uint64_t> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        Result<json> f = subs_->Fetch("shared", 3, 0);
        if (!f.ok()) continue;
        std::lock_guard<std::mutex> lock(mu);
        for (const json& d : (*f)["events"]) seen.insert(d["offset"].get<std::uint64_t>());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(seen.size(), 40u);
  EXPECT_EQ(std::set<std::uint64_t>(seen.begin(), seen.end()).size(), 40u) << "a delivery was handed out twice";
}

TEST_P(ConsumerTest, FetchWaitsForTheNextCommit) {
  Create({{"name", "w"}});
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    Write("late");
  });
  auto start = std::chrono::steady_clock::now();
  json got = Fetch("w", 10, 10000);
  auto took = std::chrono::steady_clock::now() - start;
  writer.join();
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got[0]["event"]["object_pointer"], "bver://sites/site/late~1");
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_TRUE(Fetch("w", 10, 100).size() <= 1u);
}

TEST_P(ConsumerTest, BadInputIsRefusedAndChangesNothing) {
  Create({{"name", "keep"}, {"from", 1}, {"filter", {{"channels", {"traffic"}}}}});
  std::string before = Record("keep");
  struct Case {
    json spec;
    StatusCode code;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {json{{"name", "Bad Name"}}, StatusCode::kInvalidArgument, "must match"},
           {json{{"filter", json::object()}}, StatusCode::kInvalidArgument, "name is required"},
           {json{{"name", "x"}, {"filter", {{"chanels", {"traffic"}}}}}, StatusCode::kInvalidArgument, "chanels"},
           {json{{"name", "x"}, {"from", 0}}, StatusCode::kInvalidArgument, "from"},
           {json{{"name", "x"}, {"ack_timeout_ms", 5}}, StatusCode::kInvalidArgument, "ack_timeout_ms"},
           {json{{"name", "x"}, {"colour", 1}}, StatusCode::kInvalidArgument, "colour"},
           {json{{"name", "keep"}, {"filter", {{"channels", {"control"}}}}}, StatusCode::kAlreadyExists, "exists"},
       }) {
    Result<json> r = subs_->CreateConsumer(c.spec);
    ASSERT_FALSE(r.ok()) << c.spec.dump();
    EXPECT_EQ(r.status().code(), c.code) << c.spec.dump();
    EXPECT_THAT(r.status().message(), HasSubstr(c.says)) << c.spec.dump();
  }
  EXPECT_EQ(Record("x"), "");
  EXPECT_EQ(subs_->Fetch("nobody", 1, 0).status().code(), StatusCode::kNotFound);
  EXPECT_THAT(subs_->Fetch("nobody", 1, 0).status().message(), HasSubstr("create it"));
  EXPECT_EQ(subs_->Fetch("keep", 0, 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(subs_->Fetch("keep", 1, -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(subs_->Ack("keep", {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(subs_->Seek("keep", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(subs_->DeleteConsumer("nobody").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Record("keep"), before);
  // The same spec again is not an error: it answers the consumer.
  Result<json> same = subs_->CreateConsumer({{"name", "keep"}, {"filter", {{"channels", {"traffic"}}}}});
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_FALSE((*same)["created"].get<bool>());
  Result<json> list = subs_->ListConsumers();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ((*list)["consumers"].size(), 1u);
  ASSERT_TRUE(subs_->DeleteConsumer("keep").ok());
  EXPECT_EQ(Record("keep"), "");
}

TEST_P(ConsumerTest, ReadFiltersFromAnOffset) {
  Write("n1");
  Write("n2");
  Result<json> r = subs_->Read(2, EventFilter{{}, {}, "bver://assets/"}, 10);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ((*r)["events"].size(), 2u);
  EXPECT_EQ((*r)["events"][0]["offset"], 2);
  EXPECT_EQ((*r)["events"][1]["offset"], 4);
  EXPECT_EQ((*r)["next_offset"], 5);
}

INSTANTIATE_TEST_SUITE_P(Backends, ConsumerTest, ::testing::ValuesIn(bver::testing::StoreBackends(4)),
                         [](const ::testing::TestParamInfo<BackendCase>& i) { return i.param.name; });

}  // namespace
}  // namespace bver::events
