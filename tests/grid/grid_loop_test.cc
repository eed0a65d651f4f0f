// The study loop of the grid example end to end through the real binary
// (issue 13): check, short circuit, N-1 (whole, and in parts merged back),
// evaluate (from studies, and two networks compared), resolve and the
// substation generator through the CLI; bad input for every job (a clear
// error, nothing written); and the loop running by itself in `bver up`
// when a network is imported or changed, over REST.
#include <chrono>
#include <cmath>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/grid/grid_support.h"
#include "tests/support/http_client.h"

namespace {

using namespace grid_e2e;
using ::testing::HasSubstr;

const char* kNet = "bver://grid/network/n30";

json Job(const Project& p, const std::string& job, const json& input, int code = 0) {
  return p.BverJson({"job", "start", job, "--input", input.dump(), "--wait"}, code);
}

json Ref(const Project& p, const std::string& pointer) { return p.BverJson({"ref", "get", pointer}); }

Project ImportedCase30(const std::string& name) {
  Project p = NewProject(name);
  json imp = Job(p, "import", {{"file", kShared + "/matpower/m/case30.m"}, {"network", "n30"}});
  EXPECT_EQ(imp["state"], "succeeded") << imp.dump();
  return p;
}

TEST(GridLoop, CheckShortCircuitAndContingencyThroughTheCli) {
  Project p = ImportedCase30("studies");

  // check: MATPOWER's case30 has no modelling error.
  json check = Job(p, "check", {{"network", kNet}});
  ASSERT_EQ(check["state"], "succeeded") << check.dump();
  EXPECT_EQ(check["result"]["passed"], true) << check["result"].dump(1);
  // A generator with Qmin > Qmax: an error finding at that generator.
  const std::string gen = "bver://grid/generator/n30-gen-1-1";
  ASSERT_EQ(p.Bver({"ref", "patch", gen, "--merge", R"({"q_min_mvar":50,"q_max_mvar":10})"}).code, 0);
  json bad_check = Job(p, "check", {{"network", kNet}});
  ASSERT_EQ(bad_check["state"], "succeeded") << bad_check.dump();
  EXPECT_EQ(bad_check["result"]["passed"], false);
  bool found = false;
  for (const json& f : bad_check["result"]["findings"]) {
    if (f["severity"] == "error" && f["pointer"].get<std::string>().rfind(gen, 0) == 0) found = true;
  }
  EXPECT_TRUE(found) << bad_check["result"]["findings"].dump(1);
  ASSERT_EQ(p.Bver({"ref", "patch", gen, "--merge", R"({"q_min_mvar":-20,"q_max_mvar":150})"}).code, 0);

  // Short circuit: every bus has Ik'' > 0, consistent with its Zkk.
  json sc = Job(p, "shortcircuit", {{"network", kNet}});
  ASSERT_EQ(sc["state"], "succeeded") << sc.dump();
  json sc_study = Ref(p, sc["result"]["study"]);
  EXPECT_EQ(sc_study["kind"], "shortcircuit");
  ASSERT_EQ(sc_study["body"]["buses"].size(), 30u);
  for (const json& b : sc_study["body"]["buses"]) {
    const double ik = b["ik_ka"], z = b["zkk_pu"], kv = b["base_kv"];
    EXPECT_NEAR(ik, 1.1 * 100 / (std::sqrt(3.0) * kv * z), 1e-9 * ik) << b.dump();
  }
  EXPECT_GT(sc["result"]["max_ik"]["ka"].get<double>(), 0);

  // N-1, whole: every in-service branch (41) and generator (6).
  json whole = Job(p, "contingency", {{"network", kNet}});
  ASSERT_EQ(whole["state"], "succeeded") << whole.dump();
  EXPECT_EQ(whole["result"]["outages"], 41 + 6) << whole["result"].dump();
  json whole_study = Ref(p, whole["result"]["study"]);
  EXPECT_EQ(whole_study["kind"], "contingency");
  int islanding = 0;
  for (const json& o : whole_study["body"]["outages"]) {
    EXPECT_THAT(o["element"].get<std::string>(), ::testing::StartsWith("bver://grid/"));
    islanding += o["islanding"].get<bool>();
    for (const json& v : o["violations"]) {
      EXPECT_TRUE(v["kind"] == "voltage" || v["kind"] == "thermal") << v.dump();
      EXPECT_THAT(v["pointer"].get<std::string>(), ::testing::StartsWith("bver://grid/"));
    }
  }
  EXPECT_EQ(whole["result"]["islanding"], islanding);
  EXPECT_GT(islanding, 0);  // case30 has radial buses (e.g. bus 11, 13)

  // In three parts, then merged from the part jobs' results: the same
  // outages as the whole run.
  json parts = json::array();
  for (int i = 0; i < 3; ++i) {
    json part = Job(p, "contingency", {{"network", kNet}, {"part", {{"index", i}, {"count", 3}}}, {"threads", 1}});
    ASSERT_EQ(part["state"], "succeeded") << part.dump();
    parts.push_back(part["result"]);
  }
  json merged = Job(p, "contingency", {{"network", kNet}, {"parts", parts}});
  ASSERT_EQ(merged["state"], "succeeded") << merged.dump();
  json merged_study = Ref(p, merged["result"]["study"]);
  EXPECT_EQ(merged_study["body"]["outages"], whole_study["body"]["outages"]);
  EXPECT_EQ(merged_study["body"]["summary"], whole_study["body"]["summary"]);
  EXPECT_EQ(merged_study["body"]["network"], whole_study["body"]["network"]);

  // Evaluate from the studies: the metrics and the combined report.
  json pf = Job(p, "powerflow", {{"network", kNet}});
  ASSERT_EQ(pf["state"], "succeeded") << pf.dump();
  json ev = Job(p, "evaluate", {{"network", kNet},
                                {"studies", {pf["result"]["study"], merged["result"]["study"], sc["result"]["study"]}}});
  ASSERT_EQ(ev["state"], "succeeded") << ev.dump();
  const json& m = ev["result"]["metrics"];
  EXPECT_NEAR(m["losses_mw"].get<double>(), pf["result"]["results"]["losses_mw"].get<double>(), 1e-9);
  EXPECT_EQ(m["n1_outages"], 47);
  EXPECT_EQ(m["max_ik_ka"], sc["result"]["max_ik"]["ka"]);
  const std::string report = ev["result"]["report"];
  bver::testing::CommandResult html = p.Bver({"artifact", "get", report});
  ASSERT_EQ(html.code, 0) << html.err;
  EXPECT_THAT(html.out, HasSubstr("<svg"));
  EXPECT_THAT(html.out, HasSubstr("N-1"));
  ExpectRendersNotBlank(html.out, p.dir);
}

TEST(GridLoop, EvaluateComparesTwoNetworksResolveAndSubstation) {
  Project p = ImportedCase30("compare");
  json alt = Job(p, "import", {{"file", kShared + "/matpower/m/case30.m"}, {"network", "n30b"}});
  ASSERT_EQ(alt["state"], "succeeded") << alt.dump();
  // The alternative: a second circuit beside 1-2 (its impedance halved).
  ASSERT_EQ(p.Bver({"ref", "patch", "bver://grid/branch/n30b-br-1-2-1", "--merge", R"({"r_pu":0.0096,"x_pu":0.02875})"}).code, 0);
  json ev = Job(p, "evaluate", {{"network", kNet}, {"alternative", "bver://grid/network/n30b"}});
  ASSERT_EQ(ev["state"], "succeeded") << ev.dump();
  const json& cmp = ev["result"]["comparison"];
  ASSERT_TRUE(cmp.contains("losses_mw")) << cmp.dump(1);
  EXPECT_LT(cmp["losses_mw"]["delta"].get<double>(), 0) << cmp.dump(1);  // a stronger line loses less
  EXPECT_EQ(ev["result"]["alternatives"].size(), 2u);

  // Resolve: names as engineers say them.
  json r = Job(p, "resolve", {{"network", kNet}, {"queries", {"bus 4", "line 4-6", "nothing like this"}}});
  ASSERT_EQ(r["state"], "succeeded") << r.dump();
  const json& pointers = r["result"]["pointers"];
  EXPECT_THAT(pointers.dump(), HasSubstr("bver://grid/bus/n30-bus-4"));
  EXPECT_THAT(pointers.dump(), HasSubstr("bver://grid/branch/n30-br-4-6-1"));
  ASSERT_EQ(r["result"]["matches"].size(), 3u) << r["result"].dump(1);
  EXPECT_EQ(r["result"]["matches"][2].value("pointer", ""), "");

  // A substation from nameplates, connected to bus 4, then checked and solved.
  json sub = {{"network", kNet},
              {"substation", "north"},
              {"voltage_levels_kv", {135, 33}},
              {"transformers", {{{"name", "T1"}, {"hv_kv", 135}, {"lv_kv", 33}, {"rated_mva", 60},
                                 {"z_percent", 12.5}, {"x_r", 30}}}},
              {"lines", {{{"name", "L1"}, {"from_kv", 135}, {"to_bus", "bver://grid/bus/n30-bus-4"},
                          {"length_km", 20}, {"r_ohm_per_km", 0.1}, {"x_ohm_per_km", 0.4}, {"c_nf_per_km", 9},
                          {"rating_mva", 120}}}},
              {"loads", {{{"name", "LD1"}, {"level_kv", 33}, {"p_mw", 20}, {"q_mvar", 5}}}}};
  const int buses = p.Count("bus");
  json gen = Job(p, "substation", sub);
  ASSERT_EQ(gen["state"], "succeeded") << gen.dump();
  EXPECT_EQ(p.Count("bus"), buses + 2);
  json again = Job(p, "substation", sub);  // a rerun creates nothing new
  ASSERT_EQ(again["state"], "succeeded") << again.dump();
  EXPECT_EQ(p.Count("bus"), buses + 2);
  json pf = Job(p, "powerflow", {{"network", kNet}});
  ASSERT_EQ(pf["state"], "succeeded") << pf.dump();
  EXPECT_EQ(pf["result"]["converged"], true) << pf.dump();
  json resolved = Job(p, "resolve", {{"network", kNet}, {"query", "T1"}});
  EXPECT_THAT(resolved["result"]["pointers"].dump(), HasSubstr("bver://grid/branch/")) << resolved.dump();
}

TEST(GridLoop, BadInputForEveryJobWritesNothing) {
  Project p = ImportedCase30("bad");
  const int studies = p.Count("study"), buses = p.Count("bus"), branches = p.Count("branch");
  const char* unknown = "bver://grid/network/nope";
  const json extra = {{"resolve", {{"query", "bus 1"}}},
                      {"substation", {{"substation", "x"}, {"voltage_levels_kv", {33}}}}};
  for (const char* job : {"check", "shortcircuit", "contingency", "evaluate", "resolve", "substation"}) {
    json input = extra.value(job, json::object());
    // An unknown network: refused before the job runs, naming the field.
    input["network"] = unknown;
    bver::testing::CommandResult r = p.Bver({"job", "start", job, "--input", input.dump(), "--json"});
    EXPECT_NE(r.code, 0) << job << r.out << r.err;
    EXPECT_THAT(r.out + r.err, HasSubstr("input.network")) << job;
    // A field outside the schema.
    input["network"] = kNet;
    input["bogus"] = 1;
    bver::testing::CommandResult s = p.Bver({"job", "start", job, "--input", input.dump(), "--json"});
    EXPECT_NE(s.code, 0) << job << s.out << s.err;
    EXPECT_THAT(s.out + s.err, HasSubstr("bogus")) << job;
  }
  // Bad values the plugin catches: a part that does not exist, parts of
  // different N-1s, studies of another network, a line to a bus that is not
  // in the network, a transformer with no impedance.
  json part = Job(p, "contingency", {{"network", kNet}, {"part", {{"index", 5}, {"count", 2}}}}, 1);
  EXPECT_EQ(part["error"]["code"], "invalid_argument") << part.dump();
  EXPECT_THAT(part["error"]["message"].get<std::string>(), HasSubstr("part 5 of 2"));
  json one = Job(p, "contingency", {{"network", kNet}, {"part", {{"index", 0}, {"count", 2}}}});
  json merge = Job(p, "contingency", {{"network", kNet}, {"parts", {one["result"]["study"]}}}, 1);
  EXPECT_EQ(merge["error"]["code"], "invalid_argument") << merge.dump();
  EXPECT_THAT(merge["error"]["message"].get<std::string>(), HasSubstr("missing part(s) 1"));
  json sc = Job(p, "shortcircuit", {{"network", kNet}});
  json wrong_kind = Job(p, "contingency", {{"network", kNet}, {"parts", {sc["result"]["study"]}}}, 1);
  EXPECT_THAT(wrong_kind["error"]["message"].get<std::string>(), HasSubstr("not a contingency"));
  json sub = Job(p, "substation",
                 {{"network", kNet}, {"substation", "s"}, {"voltage_levels_kv", {33}},
                  {"lines", {{{"name", "L"}, {"from_kv", 33}, {"to_bus", "bver://grid/bus/elsewhere-bus-1"},
                              {"length_km", 1}, {"r_ohm_per_km", 0.1}, {"x_ohm_per_km", 0.3}}}}},
                 1);
  EXPECT_EQ(sub["state"], "failed") << sub.dump();
  EXPECT_THAT(sub["error"]["message"].get<std::string>(), HasSubstr("elsewhere-bus-1"));
  json tx = Job(p, "substation",
                {{"network", kNet}, {"substation", "s"}, {"voltage_levels_kv", {132, 33}},
                 {"transformers", {{{"name", "T"}, {"hv_kv", 132}, {"lv_kv", 33}, {"rated_mva", 0}, {"z_percent", 10},
                                    {"x_r", 20}}}}},
                1);
  EXPECT_EQ(tx["state"], "failed") << tx.dump();
  EXPECT_THAT(tx["error"]["message"].get<std::string>(), HasSubstr("rated_mva"));
  // Only the two good jobs' studies were written; no element was.
  EXPECT_EQ(p.Count("study"), studies + 2);
  EXPECT_EQ(p.Count("bus"), buses);
  EXPECT_EQ(p.Count("branch"), branches);
}

// The loop by itself: `bver up` runs the triggers; an import over REST
// starts study_network, which ends by marking the network studied; a change
// to the network starts it again, and the mark does not.
TEST(GridLoop, RunsByItselfWhenANetworkIsImportedOrChanged) {
  Project p = NewProject("auto");
  ServerGuard g;
  g.s = bver::testing::StartBverUp(BVER_EXE, p.dir, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(g.s.port, 0) << bver::testing::ReadFileForTest(g.s.stderr_path);
  auto studied = [&](int version_at_least) {
    for (int i = 0; i < 600; ++i) {
      bver::testing::HttpReply r = bver::testing::HttpRequestOnce(g.s.port, "GET", "/v1/refs/grid/network/n14");
      if (r.status == 200) {
        json j = r.Json();
        const std::string mark = j["body"].contains("studied") ? j["body"]["studied"].value("network", "") : "";
        const std::size_t tilde = mark.rfind('~');
        if (tilde != std::string::npos && std::stoi(mark.substr(tilde + 1)) >= version_at_least) return j;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    return json();
  };
  bver::testing::HttpReply imp = bver::testing::HttpRequestOnce(
      g.s.port, "POST", "/v1/jobs/import?wait=60",
      json{{"file", kShared + "/matpower/m/case30.m"}, {"network", "n14"}}.dump());  // case30 has base voltages
  ASSERT_TRUE(imp.status == 200 || imp.status == 202) << imp.body;
  json net = studied(1);
  ASSERT_FALSE(net.is_null()) << "the loop did not mark n14 studied; "
                              << bver::testing::ReadFileForTest(g.s.stderr_path).substr(0, 4000);
  const json& s = net["body"]["studied"];
  EXPECT_EQ(s["network"], "bver://grid/network/n14~1");
  EXPECT_EQ(s["passed"], true);
  EXPECT_EQ(s["metrics"]["n1_outages"], 41 + 6) << s.dump(1);
  EXPECT_GT(s["metrics"].value("max_ik_ka", 0.0), 0) << s.dump(1);
  EXPECT_EQ(s["studies"].size(), 3u);
  bver::testing::HttpReply html = bver::testing::HttpRequestOnce(
      g.s.port, "GET", "/v1/artifacts/" + s["report"].get<std::string>() + "?type=text/html");
  ASSERT_EQ(html.status, 200);
  EXPECT_THAT(html.body, HasSubstr("<svg"));
  bver::testing::HttpReply run =
      bver::testing::HttpRequestOnce(g.s.port, "GET", "/v1/orchestrators/study_network/runs/" + s["run"].get<std::string>());
  ASSERT_EQ(run.status, 200) << run.body.substr(0, 500);
  EXPECT_EQ(run.Json()["state"], "succeeded");

  // A change to the network (a new version): the loop again, on it.
  const int version = net.value("version", 0);
  bver::testing::HttpReply patch = bver::testing::HttpRequestOnce(
      g.s.port, "PATCH", "/v1/refs/grid/network/n14", R"({"description":"after the relay upgrade"})",
      {{"Content-Type", "application/merge-patch+json"}});
  ASSERT_EQ(patch.status, 200) << patch.body;
  json again = studied(version + 1);
  ASSERT_FALSE(again.is_null()) << "no loop after the change: "
                                << bver::testing::HttpRequestOnce(g.s.port, "GET", "/v1/triggers/fires").body.substr(0, 4000)
                                << bver::testing::HttpRequestOnce(g.s.port, "GET", "/v1/refs/grid/network/n14").body.substr(0, 1000);
  // The marks did not start the loop themselves: two runs in all, settled.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  bver::testing::HttpReply runs =
      bver::testing::HttpRequestOnce(g.s.port, "GET", "/v1/orchestrators/runs?orchestrator=study_network");
  ASSERT_EQ(runs.status, 200) << runs.body.substr(0, 500);
  json list = runs.Json();
  const json& items = list["runs"];
  EXPECT_EQ(items.size(), 2u) << runs.body.substr(0, 2000);
}

}  // namespace
