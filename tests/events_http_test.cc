// The payload schema registry through the real CLI (bver schemas ...) and
// the ingestion gate through the real `bver up` (POST /v1/ingest, the
// quarantine routes), over plain-socket HTTP (docs/events.md).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <sstream>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::HasSubstr;

const json kOrderV1 = {{"type", "object"},
                       {"required", {"order_id", "amount"}},
                       {"additionalProperties", false},
                       {"properties", {{"order_id", {{"type", "string"}}}, {"amount", {{"type", "number"}}}}}};

class EventsHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("bver_events_http_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    fs::copy_file(BVER_SOURCE_DIR "/examples/substation/bver.yaml", dir_ / "bver.yaml");
  }
  void TearDown() override {
    if (server_.pid > 0) bver::testing::StopServer(server_, SIGTERM);
    fs::remove_all(dir_);
  }
  bver::testing::CommandResult Bver(std::vector<std::string> args) {
    args.insert(args.begin(), {"-C", dir_.string()});
    return bver::testing::RunCommand(BVER_EXE, args, dir_);
  }
  std::string Write(const std::string& name, const json& j) {
    std::ofstream(dir_ / name) << j.dump();
    return (dir_ / name).string();
  }

  fs::path dir_;
  bver::testing::ServerProcess server_;
};

json Event(const std::string& id, json payload) {
  return {{"event_id", id},
          {"event_type", "orders.created"},
          {"payload_schema", "orders.created@1.0.0"},
          {"payload", std::move(payload)}};
}

TEST_F(EventsHttpTest, SchemasCliThenIngestOverRest) {
  // The registry through the CLI.
  std::string v1 = Write("v1.json", kOrderV1);
  bver::testing::CommandResult r =
      Bver({"schemas", "register", v1, "--id", "orders.created", "--version", "1.0.0", "--mode", "full", "--json"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out)["ref"], "orders.created@1.0.0");

  json v2 = kOrderV1;
  v2["properties"].erase("amount");
  v2["required"] = {"order_id"};
  std::string v2_file = Write("v2.json", v2);
  r = Bver({"schemas", "check", v2_file, "--id", "orders.created", "--json"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  json report = json::parse(r.out);
  EXPECT_EQ(report["compatible"], false);
  EXPECT_EQ(report["previous"], "orders.created@1.0.0");
  ASSERT_FALSE(report["breaks"].empty());
  EXPECT_EQ(report["breaks"][0]["path"], "amount");
  r = Bver({"schemas", "register", v2_file, "--id", "orders.created", "--version", "2.0.0"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("amount"));
  r = Bver({"schemas", "check", v1, "--id", "orders.created"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("compatible with orders.created@1.0.0"));
  r = Bver({"schemas", "register", v1, "--id", "orders.created", "--version", "1.0.1", "--mode", "sideways"});
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  r = Bver({"schemas", "list", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  json listed = json::parse(r.out)["schemas"];  // the shape GET /v1/schemas answers
  ASSERT_EQ(listed.size(), 1u) << r.out;        // the refused 2.0.0 is not there
  EXPECT_EQ(listed[0]["ref"], "orders.created@1.0.0");
  r = Bver({"schemas", "show", "orders.created", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["schema"], kOrderV1);
  r = Bver({"schemas", "show", "orders.created@9.0.0"});
  EXPECT_EQ(r.code, 1);

  // The gate through bver up.
  server_ = bver::testing::StartBverUp(BVER_EXE, dir_, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(server_.port, 0) << bver::testing::ReadFileForTest(server_.stderr_path);
  const std::string good_id = "0190f3a4-1c2b-7d3e-8f40-123456789abc";
  const std::string bad_id = "0190f3a4-1c2b-7d3e-8f40-123456789abd";
  json batch = {{"events", {Event(good_id, {{"order_id", "o1"}, {"amount", 5}}), Event(bad_id, {{"order_id", 7}})}}};
  bver::testing::HttpReply h = bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/ingest", batch.dump());
  ASSERT_EQ(h.status, 200) << h.body;
  json receipts = json::parse(h.body)["receipts"];
  ASSERT_EQ(receipts.size(), 2u);
  EXPECT_EQ(receipts[0]["status"], "ADMIT");
  EXPECT_EQ(receipts[0]["event_id"], good_id);
  std::uint64_t offset = receipts[0]["offset"];
  EXPECT_EQ(receipts[1]["status"], "QUARANTINE");
  EXPECT_EQ(receipts[1]["quarantine_id"], bad_id);
  EXPECT_GE(receipts[1]["reasons"].size(), 2u);  // order_id's type, amount required

  h = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/events?from=" + std::to_string(offset) + "&limit=5");
  ASSERT_EQ(h.status, 200) << h.body;
  json events = json::parse(h.body)["events"];
  ASSERT_EQ(events.size(), 1u) << h.body;  // the quarantined one was not appended
  EXPECT_EQ(events[0]["event_id"], good_id);
  EXPECT_EQ(events[0]["payload_schema"], "orders.created@1.0.0");

  // Sent again: a duplicate with the original offset.
  h = bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/ingest",
                                     json{{"events", {batch["events"][0]}}}.dump());
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(json::parse(h.body)["receipts"][0]["status"], "DUPLICATE");
  EXPECT_EQ(json::parse(h.body)["receipts"][0]["offset"], offset);

  h = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/ingest/quarantine");
  ASSERT_EQ(h.status, 200) << h.body;
  ASSERT_EQ(json::parse(h.body)["events"].size(), 1u);
  EXPECT_EQ(json::parse(h.body)["events"][0]["event"]["event_id"], bad_id);

  json fixed = Event(bad_id, {{"order_id", "o2"}, {"amount", 1}});
  h = bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/ingest/quarantine/" + bad_id + "/readmit",
                                     fixed.dump());
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(json::parse(h.body)["status"], "ADMIT");
  EXPECT_EQ(json::parse(h.body)["offset"], offset + 1);
  h = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/ingest/quarantine");
  EXPECT_TRUE(json::parse(h.body)["events"].empty()) << h.body;
  h = bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/ingest/quarantine/" + bad_id + "/readmit");
  EXPECT_EQ(h.status, 404) << h.body;

  // A body that is not {"events": [...]}: a problem, nothing ingested.
  h = bver::testing::HttpRequestOnce(server_.port, "POST", "/v1/ingest", json{{"event", json::array()}}.dump());
  EXPECT_EQ(h.status, 400) << h.body;

  // The registry through the server: its REST routes, and the same CLI
  // commands with --server (aliases of schemas.*) answering as they did locally.
  const std::string url = "http://127.0.0.1:" + std::to_string(server_.port);
  h = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/schemas/orders.created?version=1.0.0");
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_EQ(h.Json()["schema"], kOrderV1);
  json shipped = {{"type", "object"}, {"properties", {{"order_id", {{"type", "string"}}}}}};
  h = bver::testing::HttpRequestOnce(server_.port, "PUT", "/v1/schemas/orders.shipped/1.0.0?mode=backward",
                                     shipped.dump());
  ASSERT_EQ(h.status, 201) << h.body;
  EXPECT_EQ(h.Json()["ref"], "orders.shipped@1.0.0");
  EXPECT_EQ(h.Header("location"), "/v1/schemas/orders.shipped?version=1.0.0");
  h = bver::testing::HttpRequestOnce(server_.port, "PUT", "/v1/schemas/Not%20an%20id/1.0.0", shipped.dump());
  EXPECT_EQ(h.status, 400) << h.body;
  r = Bver({"schemas", "check", v2_file, "--id", "orders.created", "--server", url, "--json"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  json remote_report = json::parse(r.out, nullptr, false);
  EXPECT_EQ(remote_report["compatible"], false) << r.out;
  EXPECT_EQ(remote_report["breaks"], report["breaks"]) << "the same report from the server as in-process";
  r = Bver({"schemas", "register", v2_file, "--id", "orders.created", "--version", "2.0.0", "--server", url, "--json"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out, nullptr, false)["code"], "failed_precondition") << r.out;
  r = Bver({"schemas", "list", "--server", url, "--json"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out)["schemas"].size(), 2u) << r.out;

  // events.read with filters and a wait, over REST and as `bver events tail --server`.
  h = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/events?event_types=orders.*&limit=1000");
  ASSERT_EQ(h.status, 200) << h.body;
  json orders = h.Json()["events"];
  ASSERT_EQ(orders.size(), 2u) << h.body;  // the admitted one and the readmitted one
  EXPECT_EQ(orders[0]["event_id"], good_id);
  EXPECT_EQ(orders[1]["event_id"], bad_id);
  EXPECT_GE(h.Json()["log_end"].get<std::uint64_t>(), offset + 1);
  h = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/events?event_types=no.such.type");
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_TRUE(h.Json()["events"].empty());
  EXPECT_EQ(h.Json()["next_offset"].get<std::uint64_t>(), h.Json()["log_end"].get<std::uint64_t>() + 1)
      << "a filtered read that found nothing still moves past what it scanned";
  auto started = std::chrono::steady_clock::now();
  h = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/events?from=0&wait_ms=300");
  ASSERT_EQ(h.status, 200) << h.body;
  EXPECT_TRUE(h.Json()["events"].empty()) << h.body;
  EXPECT_GE(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(250)) << "it waited for new events";
  h = bver::testing::HttpRequestOnce(server_.port, "GET", "/v1/events?wait_ms=70000");
  EXPECT_EQ(h.status, 400) << h.body;
  r = Bver({"events", "tail", "--type", "orders.created", "--server", url, "--json"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  std::vector<std::string> tailed;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) tailed.push_back(json::parse(line)["event_id"]);
  EXPECT_EQ(tailed, (std::vector<std::string>{good_id, bad_id}));
}

}  // namespace
