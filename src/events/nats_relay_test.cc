// The NATS JetStream relay against a real nats-server (tests/support/
// nats_server.h) over the real store on SQLite and a throwaway PostgreSQL:
// order, subjects and Nats-Msg-Id read back with a JetStream consumer; a
// broker stopped and restarted while events keep coming; a relay recreated;
// a cursor moved back (the dedupe window drops the resends); a bad URL.
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include "src/events/nats_relay.h"
#include "tests/support/nats_server.h"
#include "tests/support/store_backends.h"

namespace bver::events {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;
using bver::testing::BackendCase;
using Clock = std::chrono::steady_clock;

std::vector<BackendCase> Backends() { return bver::testing::StoreBackends(4); }

template <typename Pred>
bool WaitFor(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return pred();
}

// One message of the stream as a consumer sees it.
struct StreamMsg {
  std::string subject;
  std::string msg_id;
  std::string offset;
  json envelope;
};

// A plain cnats client of the test's server: stream counts and an ordered
// JetStream consumer that reads the whole stream back.
class Client {
 public:
  explicit Client(const std::string& url) {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, url.c_str());
    natsOptions_SetTimeout(o, 2000);
    if (natsConnection_Connect(&nc_, o) == NATS_OK) natsConnection_JetStream(&js_, nc_, nullptr);
    natsOptions_Destroy(o);
  }
  ~Client() {
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) natsConnection_Destroy(nc_);
  }
  bool ok() const { return js_ != nullptr; }
  jsCtx* js() { return js_; }

  // Messages in the stream; -1 when it cannot be read (no stream yet).
  long long Count(const std::string& stream = "BVER") {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, js_, stream.c_str(), nullptr, nullptr) != NATS_OK) return -1;
    long long n = static_cast<long long>(si->State.Msgs);
    jsStreamInfo_Destroy(si);
    return n;
  }

  // Every message of the stream in stream order (ordered consumer from the
  // first message), `expected` of them or what came within 10 s.
  std::vector<StreamMsg> ReadAll(std::size_t expected, const std::string& filter = "bver.events.>") {
    std::vector<StreamMsg> out;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "BVER";
    so.Ordered = true;
    natsSubscription* sub = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = js_SubscribeSync(&sub, js_, filter.c_str(), nullptr, &so, &code);
    EXPECT_EQ(s, NATS_OK) << natsStatus_GetText(s) << " js error " << code;
    if (s != NATS_OK) return out;
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (out.size() < expected && Clock::now() < deadline) {
      natsMsg* m = nullptr;
      if (natsSubscription_NextMsg(&m, sub, 500) != NATS_OK) continue;
      StreamMsg x;
      x.subject = natsMsg_GetSubject(m);
      const char* v = nullptr;
      if (natsMsgHeader_Get(m, "Nats-Msg-Id", &v) == NATS_OK) x.msg_id = v;
      if (natsMsgHeader_Get(m, "Bver-Offset", &v) == NATS_OK) x.offset = v;
      x.envelope = json::parse(std::string(natsMsg_GetData(m), static_cast<std::size_t>(natsMsg_GetDataLength(m))),
                               nullptr, false);
      out.push_back(std::move(x));
      natsMsg_Destroy(m);
    }
    // Nothing more than expected arrives either.
    natsMsg* extra = nullptr;
    if (natsSubscription_NextMsg(&extra, sub, 300) == NATS_OK) {
      ADD_FAILURE() << "more messages than the " << expected << " expected: " << natsMsg_GetSubject(extra);
      natsMsg_Destroy(extra);
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return out;
  }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

class NatsRelayTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    dir_ = bver::testing::FreshTestDir("bver_nats");
    Result<bver::testing::TestStore> opened =
        bver::testing::OpenTestStore(GetParam(), dir_, BVER_SOURCE_DIR "/tests/jobs/bver.yaml");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    platform_ = opened->platform;
    store_ = std::move(opened->store);
    std::string error;
    nats_ = bver::testing::StartNatsServer(dir_ / "nats", 0, &error);
    ASSERT_GT(nats_.pid, 0) << error;
  }
  void TearDown() override {
    relay_.reset();
    store_.reset();
    bver::testing::StopNatsServer(nats_, SIGKILL);
    fs::remove_all(dir_);
  }

  NatsRelayOptions Options() {
    NatsRelayOptions o;
    o.url = nats_.url();
    o.batch_size = 16;  // several batches per test
    o.backoff_initial = std::chrono::milliseconds(50);
    o.backoff_max = std::chrono::milliseconds(400);
    o.ack_timeout = std::chrono::seconds(2);
    return o;
  }
  std::unique_ptr<NatsRelay> MakeRelay(NatsRelayOptions o) {
    Result<std::unique_ptr<NatsRelay>> r = NatsRelay::Create(*store_, std::move(o));
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(*r) : nullptr;
  }

  // Appends n events over the three channels; the last offset.
  std::uint64_t Append(int n) {
    static const char* kChannels[] = {"traffic", "control", "audit"};
    store::WriteContext ctx;
    ctx.actor = "test";
    std::uint64_t last = 0;
    for (int i = 0; i < n; ++i) {
      int k = appended_++;
      Result<std::uint64_t> off = store_->AppendEvent(kChannels[k % 3], "test.tick", "tick-" + std::to_string(k),
                                                      json{{"i", k}}, ctx);
      EXPECT_TRUE(off.ok()) << off.status().ToString();
      if (off.ok()) last = *off;
    }
    return last;
  }
  std::vector<store::Event> Log() {
    Result<std::vector<store::Event>> e = store_->ReadEvents(0, 10000);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? *e : std::vector<store::Event>{};
  }
  bool WaitCursor(NatsRelay& r, std::uint64_t offset) {
    bool ok = WaitFor([&] { return r.Status().cursor >= offset; });
    EXPECT_TRUE(ok) << "cursor " << r.Status().cursor << " never reached " << offset
                    << "; last error: " << r.Status().last_error;
    return ok;
  }
  std::uint64_t StoredCursor() {
    Result<std::uint64_t> c = NatsRelay::ReadCursor(store_->backend(), "BVER");
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : 0;
  }
  // The stream holds exactly the log, once each, in offset order.
  void ExpectStreamIsLog() {
    std::vector<store::Event> log = Log();
    Client c(nats_.url());
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c.Count(), static_cast<long long>(log.size()));
    std::vector<StreamMsg> got = c.ReadAll(log.size());
    ASSERT_EQ(got.size(), log.size());
    for (std::size_t i = 0; i < log.size(); ++i) {
      const json& env = *log[i].envelope;
      SCOPED_TRACE("offset " + std::to_string(log[i].offset));
      EXPECT_EQ(got[i].msg_id, env["event_id"].get<std::string>());
      EXPECT_EQ(got[i].subject, "bver.events." + env["channel"].get<std::string>());
      EXPECT_EQ(got[i].offset, std::to_string(log[i].offset));
      EXPECT_EQ(got[i].envelope, env);
    }
  }

  fs::path dir_;
  std::shared_ptr<domain::Platform> platform_;
  std::unique_ptr<store::Store> store_;
  bver::testing::NatsServer nats_;
  std::unique_ptr<NatsRelay> relay_;
  int appended_ = 0;
};

TEST(NatsRelaySubject, ChannelIsOneSafeToken) {
  EXPECT_EQ(RelaySubject("bver.events", "traffic"), "bver.events.traffic");
  EXPECT_EQ(RelaySubject("p", "a.b*>c d"), "p.a_b__c_d");
  EXPECT_EQ(RelaySubject("p", ""), "p._");
  EXPECT_EQ(RelayCursorKey("BVER"), "nats:BVER");
}

TEST_P(NatsRelayTest, RelaysEveryEventInOffsetOrderWithSubjectPerChannelAndMsgId) {
  Append(30);  // before the relay starts
  relay_ = MakeRelay(Options());
  ASSERT_NE(relay_, nullptr);
  relay_->Start();
  std::uint64_t last = Append(20);  // while it runs
  ASSERT_EQ(last, 50u);
  ASSERT_TRUE(WaitCursor(*relay_, last));
  NatsRelayStatus st = relay_->Status();
  EXPECT_TRUE(st.connected);
  EXPECT_TRUE(st.last_error.empty()) << st.last_error;
  EXPECT_EQ(st.published, 50u);
  EXPECT_EQ(st.duplicates, 0u);
  EXPECT_EQ(StoredCursor(), 50u);
  Result<std::optional<store::RecordRow>> rec = store_->backend().GetRecord("relay", "nats:BVER");
  ASSERT_TRUE(rec.ok() && rec->has_value());
  EXPECT_EQ(json::parse((*rec)->value), json({{"offset", 50}}));
  ExpectStreamIsLog();
  // A consumer of one channel sees only that channel's events.
  Client c(nats_.url());
  std::vector<StreamMsg> control = c.ReadAll(17, "bver.events.control");
  ASSERT_EQ(control.size(), 17u);  // events 1, 4, ..., 49 of 50 (k % 3 == 1)
  for (const StreamMsg& m : control) EXPECT_EQ(m.envelope["channel"], "control");
}

TEST_P(NatsRelayTest, SyncPublishRelaysTheSame) {
  Append(40);
  NatsRelayOptions o = Options();
  o.async_publish = false;
  relay_ = MakeRelay(o);
  relay_->Start();
  ASSERT_TRUE(WaitCursor(*relay_, 40));
  EXPECT_EQ(relay_->Status().published, 40u);
  ExpectStreamIsLog();
}

TEST_P(NatsRelayTest, NatsStoppedAndRestartedLosesNothingAndDuplicatesNothing) {
  relay_ = MakeRelay(Options());
  relay_->Start();
  ASSERT_TRUE(WaitCursor(*relay_, Append(20)));
  bver::testing::StopNatsServer(nats_);  // SIGTERM
  // Events keep coming while the broker is down; the relay notices, keeps
  // its cursor and says why.
  std::uint64_t last = Append(30);
  ASSERT_TRUE(WaitFor([&] { return !relay_->Status().last_error.empty(); }, std::chrono::seconds(10)));
  NatsRelayStatus down = relay_->Status();
  EXPECT_FALSE(down.connected);
  EXPECT_EQ(down.cursor, 20u);
  EXPECT_EQ(StoredCursor(), 20u);
  EXPECT_GT(down.failures, 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // a few backoff rounds
  last = Append(10);
  std::string error;
  ASSERT_TRUE(bver::testing::RestartNatsServer(nats_, &error)) << error;
  last = std::max(last, Append(5));
  ASSERT_TRUE(WaitCursor(*relay_, last));
  EXPECT_TRUE(relay_->Status().connected);
  EXPECT_TRUE(relay_->Status().last_error.empty());
  EXPECT_EQ(last, 65u);
  ExpectStreamIsLog();
}

TEST_P(NatsRelayTest, RecreatedRelayResumesFromItsCursor) {
  relay_ = MakeRelay(Options());
  relay_->Start();
  ASSERT_TRUE(WaitCursor(*relay_, Append(10)));
  relay_.reset();
  std::uint64_t last = Append(10);
  EXPECT_EQ(StoredCursor(), 10u);
  relay_ = MakeRelay(Options());
  relay_->Start();
  ASSERT_TRUE(WaitCursor(*relay_, last));
  // Only the new events were sent: nothing before the cursor went again.
  EXPECT_EQ(relay_->Status().published, 10u);
  EXPECT_EQ(relay_->Status().duplicates, 0u);
  ExpectStreamIsLog();
}

TEST_P(NatsRelayTest, CursorMovedBackResendsAndJetStreamDropsTheDuplicates) {
  relay_ = MakeRelay(Options());
  relay_->Start();
  ASSERT_TRUE(WaitCursor(*relay_, Append(25)));
  relay_.reset();
  // A crash after the publishes but before the cursor write looks like this.
  ASSERT_TRUE(store_->backend()
                  .WriteTxn([](store::Txn& t) {
                    store::RecordRow row;
                    row.kind = "relay";
                    row.key = "nats:BVER";
                    row.value = R"({"offset":5})";
                    return t.PutRecord(row);
                  })
                  .ok());
  ASSERT_EQ(StoredCursor(), 5u);
  relay_ = MakeRelay(Options());
  relay_->Start();
  ASSERT_TRUE(WaitFor([&] { return relay_->Status().duplicates >= 20; }))
      << relay_->Status().duplicates << " " << relay_->Status().last_error;
  ASSERT_TRUE(WaitCursor(*relay_, 25));
  EXPECT_EQ(relay_->Status().published, 0u);
  EXPECT_EQ(relay_->Status().duplicates, 20u);
  Client c(nats_.url());
  EXPECT_EQ(c.Count(), 25);
  ExpectStreamIsLog();
}

TEST_P(NatsRelayTest, BadUrlIsAClearStatusAndStopIsPrompt) {
  Append(3);
  NatsRelayOptions o = Options();
  o.url = "nats://127.0.0.1:" + std::to_string(bver::testing::FreeLoopbackPort());
  relay_ = MakeRelay(o);
  relay_->Start();
  ASSERT_TRUE(WaitFor([&] { return relay_->Status().failures >= 2; }, std::chrono::seconds(10)));
  NatsRelayStatus st = relay_->Status();
  EXPECT_TRUE(st.running);
  EXPECT_FALSE(st.connected);
  EXPECT_EQ(st.cursor, 0u);
  EXPECT_THAT(st.last_error, HasSubstr("cannot connect to " + o.url));
  EXPECT_EQ(StoredCursor(), 0u);
  auto t0 = Clock::now();
  relay_->Stop();
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(3));
  EXPECT_FALSE(relay_->Status().running);

  // Options that cannot work are refused at once, naming the option.
  for (auto [field, mutate] : std::vector<std::pair<std::string, std::function<void(NatsRelayOptions&)>>>{
           {"url", [](NatsRelayOptions& x) { x.url = ""; }},
           {"stream", [](NatsRelayOptions& x) { x.stream = "a.b"; }},
           {"subject prefix", [](NatsRelayOptions& x) { x.subject_prefix = "bver.>"; }},
           {"batch size", [](NatsRelayOptions& x) { x.batch_size = 0; }},
           {"duplicate window", [](NatsRelayOptions& x) { x.duplicate_window = std::chrono::milliseconds(0); }}}) {
    NatsRelayOptions bad = Options();
    mutate(bad);
    Result<std::unique_ptr<NatsRelay>> r = NatsRelay::Create(*store_, bad);
    ASSERT_FALSE(r.ok()) << field;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr(field));
  }
}

TEST_P(NatsRelayTest, IncompatibleExistingStreamIsReportedAndLeftAlone) {
  Client c(nats_.url());
  ASSERT_TRUE(c.ok());
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  cfg.Name = "BVER";
  const char* subjects[] = {"other.>"};
  cfg.Subjects = subjects;
  cfg.SubjectsLen = 1;
  jsStreamInfo* si = nullptr;
  ASSERT_EQ(js_AddStream(&si, c.js(), &cfg, nullptr, nullptr), NATS_OK);
  jsStreamInfo_Destroy(si);
  Append(3);
  relay_ = MakeRelay(Options());
  relay_->Start();
  ASSERT_TRUE(WaitFor([&] { return !relay_->Status().last_error.empty(); }, std::chrono::seconds(10)));
  EXPECT_THAT(relay_->Status().last_error, HasSubstr("do not capture bver.events.>"));
  EXPECT_EQ(relay_->Status().cursor, 0u);
  EXPECT_EQ(c.Count(), 0);
  EXPECT_EQ(StoredCursor(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Backends, NatsRelayTest, ::testing::ValuesIn(Backends()),
                         [](const ::testing::TestParamInfo<BackendCase>& i) { return i.param.name; });

}  // namespace
}  // namespace bver::events
