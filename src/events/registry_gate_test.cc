// The payload schema registry and the ingestion gate over the real store:
// SQLite and a throwaway PostgreSQL (tests/support/pg_cluster.h).
#include <algorithm>
#include <filesystem>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "src/core/uuid.h"
#include "src/domain/compiler.h"
#include "src/events/gate.h"
#include "src/events/registry.h"
#include "src/store/postgres/postgres_backend.h"
#include "src/store/sqlite/sqlite_backend.h"
#include "src/store/store.h"
#include "tests/support/pg_cluster.h"
#include "tests/support/store_backends.h"

namespace bver::events {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

using bver::testing::BackendCase;

std::vector<BackendCase> Backends() { return bver::testing::StoreBackends(4); }

json OrderV1() {
  return {{"$schema", "https://json-schema.org/draft/2020-12/schema"},
          {"type", "object"},
          {"required", {"order_id", "amount"}},
          {"properties", {{"order_id", {{"type", "string"}}}, {"amount", {{"type", "number"}, {"minimum", 0}}}}}};
}

json Event(const std::string& id, json payload, const std::string& schema = "orders.created@1.0.0") {
  return {{"event_id", id},
          {"event_type", "orders.created"},
          {"payload_schema", schema},
          {"payload", std::move(payload)},
          {"correlation_id", "corr-1"},
          {"partition_key", "order-7"}};
}

std::vector<std::string> Rules(const std::vector<Violation>& v) {
  std::vector<std::string> out;
  for (const Violation& x : v) out.push_back(x.path + " " + x.rule);
  return out;
}

class EventsStoreTest : public ::testing::TestWithParam<BackendCase> {
 protected:
  void SetUp() override {
    dir_ = bver::testing::FreshTestDir("bver_events");
    Result<bver::testing::TestStore> opened =
        bver::testing::OpenTestStore(GetParam(), dir_, BVER_SOURCE_DIR "/tests/jobs/bver.yaml");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    platform_ = opened->platform;
    store_ = std::move(opened->store);
    registry_ = std::make_unique<PayloadRegistry>(store_->backend());
    gate_ = std::make_unique<Gate>(*store_, *registry_);
  }
  void TearDown() override {
    gate_.reset();
    registry_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }
  std::vector<store::Event> Log() {
    Result<std::vector<store::Event>> e = store_->ReadEvents(0, 1000);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return e.ok() ? *e : std::vector<store::Event>{};
  }
  Receipt One(const json& event) {
    Result<std::vector<Receipt>> r = gate_->IngestEvents({event}, {"test", "c"});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r.ok() ? r->size() : 0u, 1u);
    return r.ok() && !r->empty() ? r->front() : Receipt{};
  }

  fs::path dir_;
  std::shared_ptr<domain::Platform> platform_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<PayloadRegistry> registry_;
  std::unique_ptr<Gate> gate_;
};

TEST_P(EventsStoreTest, RegistersListsAndShowsVersions) {
  Result<PayloadSchema> v1 = registry_->Register("orders.created", "1.0.0", OrderV1());
  ASSERT_TRUE(v1.ok()) << v1.status().ToString();
  EXPECT_EQ(v1->mode, CompatMode::kBackward);
  // An optional property with a default-free type on a closed...: here the
  // object is open, so add an unconstrained one and relax the minimum.
  json v2 = OrderV1();
  v2["properties"]["amount"]["minimum"] = -10;
  v2["properties"]["note"] = {{"description", "free text"}};
  ASSERT_TRUE(registry_->Register("orders.created", "1.10.0", v2).ok());
  ASSERT_TRUE(registry_->Register("orders.shipped", "0.1.0", true, CompatMode::kNone).ok());

  Result<std::vector<PayloadSchema>> all = registry_->List();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::vector<std::string> refs;
  for (const PayloadSchema& s : *all) refs.push_back(s.Ref());
  EXPECT_THAT(refs, ::testing::ElementsAre("orders.created@1.0.0", "orders.created@1.10.0", "orders.shipped@0.1.0"));
  Result<PayloadSchema> latest = registry_->Get("orders.created");
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(latest->Ref(), "orders.created@1.10.0");
  EXPECT_EQ(latest->schema, v2);
  Result<PayloadSchema> first = registry_->Get("orders.created", "1.0.0");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->schema, OrderV1());
  EXPECT_EQ(registry_->Get("orders.created", "2.0.0").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(registry_->Get("nothing").status().code(), StatusCode::kNotFound);

  // The same schema again answers the registration; another one is refused.
  EXPECT_TRUE(registry_->Register("orders.created", "1.0.0", OrderV1()).ok());
  EXPECT_EQ(registry_->Register("orders.created", "1.0.0", v2).status().code(), StatusCode::kAlreadyExists);
  // Versions only go up.
  EXPECT_EQ(registry_->Register("orders.created", "1.2.0", v2).status().code(), StatusCode::kFailedPrecondition);
}

TEST_P(EventsStoreTest, RefusesIncompatibleVersionsWithEveryBreak) {
  ASSERT_TRUE(registry_->Register("orders.created", "1.0.0", OrderV1(), CompatMode::kFull).ok());
  json v2 = OrderV1();
  v2["required"].push_back("currency");
  v2["properties"]["currency"] = {{"type", "string"}, {"enum", {"EUR", "USD"}}};
  v2["properties"]["amount"]["type"] = "integer";

  Result<CompatReport> report = registry_->Check("orders.created", v2);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_FALSE(report->compatible());
  EXPECT_EQ(report->mode, CompatMode::kFull);  // the id's mode
  EXPECT_EQ(report->previous, "orders.created@1.0.0");
  EXPECT_THAT(Rules(report->breaks), ::testing::ElementsAre("currency backward.required", "amount backward.type",
                                                            "currency backward.property.added"));
  json j = report->ToJson();
  EXPECT_EQ(j["compatible"], false);
  EXPECT_EQ(j["breaks"].size(), 3u);

  Result<PayloadSchema> refused = registry_->Register("orders.created", "2.0.0", v2);
  ASSERT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(refused.status().violations(), report->breaks);
  EXPECT_EQ(registry_->Get("orders.created", "2.0.0").status().code(), StatusCode::kNotFound);
  // Mode none registers it anyway, and becomes the id's mode.
  ASSERT_TRUE(registry_->Register("orders.created", "2.0.0", v2, CompatMode::kNone).ok());
  EXPECT_EQ(registry_->Get("orders.created")->mode, CompatMode::kNone);
}

TEST_P(EventsStoreTest, RefusesMalformedInput) {
  Result<PayloadSchema> bad = registry_->Register("orders.created", "1.0.0", {{"type", 7}});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(bad.status().violations().empty());
  EXPECT_EQ(registry_->Register("Orders", "1.0.0", OrderV1()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->Register("orders", "1.0", OrderV1()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->Register("orders", "01.0.0", OrderV1()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->ValidatorFor("orders@1.0.0").status().code(), StatusCode::kNotFound);
}

TEST_P(EventsStoreTest, AdmitsAValidEventWithItsOffsetAndEnvelope) {
  ASSERT_TRUE(registry_->Register("orders.created", "1.0.0", OrderV1()).ok());
  std::size_t before = Log().size();
  std::string id = core::NewUuidV7();
  Receipt r = One(Event(id, {{"order_id", "o7"}, {"amount", 12.5}}));
  ASSERT_EQ(r.outcome, Receipt::Outcome::kAdmit) << r.ToJson().dump();
  EXPECT_EQ(r.event_id, id);
  std::vector<store::Event> log = Log();
  ASSERT_EQ(log.size(), before + 1);
  EXPECT_EQ(log.back().offset, r.offset);
  const json& env = *log.back().envelope;
  EXPECT_EQ(env["event_id"], id);
  EXPECT_EQ(env["channel"], "traffic");
  EXPECT_EQ(env["event_type"], "orders.created");
  EXPECT_EQ(env["payload_schema"], "orders.created@1.0.0");
  EXPECT_EQ(env["payload"]["amount"], 12.5);
  EXPECT_EQ(env["correlation_id"], "corr-1");
  EXPECT_EQ(env["partition_key"], "order-7");
  EXPECT_EQ(env["offset"], r.offset);
  // Absent text fields are strings, as in the store's own events (events.read's schema).
  EXPECT_EQ(env["object_pointer"], "");
  EXPECT_EQ(env["causation_id"], "");
  EXPECT_TRUE(env["change_type"].is_null());
  EXPECT_EQ(r.ToJson()["status"], "ADMIT");

  // Its own channel when it names one.
  json other = Event(core::NewUuidV7(), {{"order_id", "o8"}, {"amount", 1}});
  other["channel"] = "partners";
  Receipt r2 = One(other);
  ASSERT_EQ(r2.outcome, Receipt::Outcome::kAdmit);
  EXPECT_EQ((*Log().back().envelope)["channel"], "partners");
  EXPECT_EQ(r2.offset, r.offset + 1);
}

TEST_P(EventsStoreTest, DuplicatesAnswerTheOriginalOffsetAndAppendNothing) {
  ASSERT_TRUE(registry_->Register("orders.created", "1.0.0", OrderV1()).ok());
  std::string id = core::NewUuidV7();
  json e = Event(id, {{"order_id", "o7"}, {"amount", 3}});
  Receipt first = One(e);
  ASSERT_EQ(first.outcome, Receipt::Outcome::kAdmit);
  std::size_t after_first = Log().size();
  // Upper case is the same UUID.
  json again = e;
  std::string upper = id;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  again["event_id"] = upper;
  Result<std::vector<Receipt>> r = gate_->IngestEvents({e, again}, {"test", "c"});
  ASSERT_TRUE(r.ok());
  for (const Receipt& d : *r) {
    EXPECT_EQ(d.outcome, Receipt::Outcome::kDuplicate);
    EXPECT_EQ(d.offset, first.offset);
    EXPECT_EQ(d.ToJson()["status"], "DUPLICATE");
  }
  EXPECT_EQ(Log().size(), after_first);
  // A retry of the same event_id with a payload its schema refuses is still
  // the admitted original's duplicate: nothing quarantined, nothing replaced.
  json changed = Event(id, {{"order_id", 7}});
  Receipt d = One(changed);
  EXPECT_EQ(d.outcome, Receipt::Outcome::kDuplicate);
  EXPECT_EQ(d.offset, first.offset);
  Result<nlohmann::json> q = gate_->ListQuarantine("", 10);
  ASSERT_TRUE(q.ok()) << q.status().ToString();
  EXPECT_TRUE((*q)["events"].empty()) << q->dump();
  EXPECT_EQ(Log().size(), after_first);
}

TEST_P(EventsStoreTest, QuarantinesBadEnvelopesUnknownSchemasAndInvalidPayloads) {
  ASSERT_TRUE(registry_->Register("orders.created", "1.0.0", OrderV1()).ok());
  std::size_t before = Log().size();
  json bad_envelope = {{"event_id", "not-a-uuid"}, {"payload", json::object()}, {"offset", 3}, {"colour", "red"}};
  json unknown = Event(core::NewUuidV7(), {{"order_id", "o1"}, {"amount", 1}}, "orders.paid@1.0.0");
  json invalid = Event(core::NewUuidV7(), {{"amount", -1}});
  Result<std::vector<Receipt>> r = gate_->IngestEvents({bad_envelope, unknown, invalid, json(42)}, {"test", "c"});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 4u);
  for (const Receipt& q : *r) EXPECT_EQ(q.outcome, Receipt::Outcome::kQuarantine);
  EXPECT_THAT(Rules((*r)[0].reasons),
              ::testing::UnorderedElementsAre("event_id envelope.event_id", "event_type envelope.required",
                                              "payload_schema envelope.required", "offset envelope.offset",
                                              "colour envelope.unknown"));
  EXPECT_THAT(Rules((*r)[1].reasons), ::testing::ElementsAre("payload_schema payload_schema.unknown"));
  EXPECT_THAT(Rules((*r)[2].reasons),
              ::testing::UnorderedElementsAre("payload payload.required", "payload.amount payload.minimum"));
  EXPECT_THAT(Rules((*r)[3].reasons), ::testing::ElementsAre(" envelope.type"));
  EXPECT_EQ(Log().size(), before);  // nothing admitted
  // The receipts carry the reasons; the quarantine keeps every event.
  json j = (*r)[1].ToJson();
  EXPECT_EQ(j["status"], "QUARANTINE");
  EXPECT_EQ(j["quarantine_id"], unknown["event_id"]);
  EXPECT_THAT(j["reasons"][0]["message"].get<std::string>(), HasSubstr("orders.paid@1.0.0"));
  Result<json> list = gate_->ListQuarantine("", 100);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ((*list)["events"].size(), 4u);
  ASSERT_TRUE(gate_->ListQuarantine("", 3).ok());
  EXPECT_FALSE((*gate_->ListQuarantine("", 3))["next_cursor"].is_null());
}

TEST_P(EventsStoreTest, ReadmitsOnceTheSchemaIsRegisteredOrTheEventFixed) {
  std::string id = core::NewUuidV7();
  json e = Event(id, {{"order_id", "o1"}, {"amount", 5}});
  Receipt q = One(e);
  ASSERT_EQ(q.outcome, Receipt::Outcome::kQuarantine);
  // Still unknown: quarantined again, attempts counted.
  Result<Receipt> again = gate_->ReadmitEvent(q.quarantine_id, nullptr, {"test", "c"});
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->outcome, Receipt::Outcome::kQuarantine);
  EXPECT_EQ((*gate_->ListQuarantine("", 10))["events"][0]["attempts"], 2);

  ASSERT_TRUE(registry_->Register("orders.created", "1.0.0", OrderV1()).ok());
  std::size_t before = Log().size();
  Result<Receipt> admitted = gate_->ReadmitEvent(q.quarantine_id, nullptr, {"test", "c"});
  ASSERT_TRUE(admitted.ok()) << admitted.status().ToString();
  EXPECT_EQ(admitted->outcome, Receipt::Outcome::kAdmit);
  EXPECT_EQ(Log().size(), before + 1);
  EXPECT_EQ((*Log().back().envelope)["event_id"], id);
  EXPECT_TRUE((*gate_->ListQuarantine("", 10))["events"].empty());
  EXPECT_EQ(gate_->ReadmitEvent(q.quarantine_id, nullptr, {"test", "c"}).status().code(), StatusCode::kNotFound);
  // Sent again later: a duplicate of the re-admitted event.
  EXPECT_EQ(One(e).outcome, Receipt::Outcome::kDuplicate);

  // A corrected event in place of an invalid one.
  json bad = Event(core::NewUuidV7(), {{"order_id", "o2"}});
  Receipt q2 = One(bad);
  ASSERT_EQ(q2.outcome, Receipt::Outcome::kQuarantine);
  json fixed = bad;
  fixed["payload"]["amount"] = 1;
  Result<Receipt> ok = gate_->ReadmitEvent(q2.quarantine_id, &fixed, {"test", "c"});
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->outcome, Receipt::Outcome::kAdmit);
  EXPECT_EQ((*Log().back().envelope)["payload"]["amount"], 1);
  EXPECT_TRUE((*gate_->ListQuarantine("", 10))["events"].empty());
}

TEST_P(EventsStoreTest, JsonInterfaceAndBatchLimit) {
  ASSERT_TRUE(registry_->Register("orders.created", "1.0.0", OrderV1()).ok());
  Result<json> r = gate_->Ingest(json::array({Event(core::NewUuidV7(), {{"order_id", "a"}, {"amount", 1}})}), {"t", ""});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)["receipts"][0]["status"], "ADMIT");
  EXPECT_EQ(gate_->Ingest(json::object(), {"t", ""}).status().code(), StatusCode::kInvalidArgument);
  std::vector<json> many(kMaxIngestBatch + 1, json::object());
  EXPECT_EQ(gate_->IngestEvents(many, {"t", ""}).status().code(), StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Backends, EventsStoreTest, ::testing::ValuesIn(Backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace bver::events
