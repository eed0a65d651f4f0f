// The grid example end to end through the real binary (issue 11): the
// electrical pack installed with `bver plugins install`, MATPOWER and PSS/E
// files imported by the CLI (from a path and from a stored artifact), the
// power flow run through the CLI and REST and checked against MATPOWER's
// own solution, the action cache (hit when nothing changed, miss after one
// impedance changed), the export, the study's report served as HTML, and
// bad input at every entry point (a clear error, nothing written).
#include <signal.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "packs/electrical/src/matpower.h"
#include "packs/electrical/tests/case_compare.h"
#include "tests/support/http_client.h"
#include "tests/support/run_command.h"
#include "tests/support/server_process.h"
#include "tests/grid/grid_support.h"

namespace {

using namespace grid_e2e;
using ::testing::HasSubstr;

// The study's voltages against a MATPOWER solution file (bus, vm, va_deg
// arrays, or psse's bus rows): |dVm| <= 1e-6 p.u., |dVa| <= 1e-4 degrees.
void ExpectMatchesMatpower(const json& study, const std::string& solution_path) {
  json sol = ReadJson(solution_path);
  std::map<int, std::pair<double, double>> want;
  if (sol.contains("vm")) {
    for (std::size_t i = 0; i < sol["bus"].size(); ++i) {
      want[sol["bus"][i].get<int>()] = {sol["vm"][i].get<double>(), sol["va_deg"][i].get<double>()};
    }
  } else {
    for (const json& r : sol["bus"]) want[r[0].get<int>()] = {r[1].get<double>(), r[2].get<double>()};
  }
  ASSERT_EQ(study["buses"].size(), want.size());
  double worst_vm = 0, worst_va = 0;
  for (const json& b : study["buses"]) {
    auto it = want.find(b["number"].get<int>());
    ASSERT_NE(it, want.end()) << b.dump();
    worst_vm = std::max(worst_vm, std::fabs(b["vm_pu"].get<double>() - it->second.first));
    worst_va = std::max(worst_va, std::fabs(b["va_deg"].get<double>() - it->second.second));
  }
  EXPECT_LE(worst_vm, 1e-6);
  EXPECT_LE(worst_va, 1e-4);
}


TEST(GridEndToEnd, ImportPowerFlowCacheExportThroughCliAndRest) {
  Project p = NewProject("case118");
  const std::string m = kShared + "/matpower/m/case118.m";

  // Import from a path.
  json imp = p.BverJson({"job", "start", "import", "--input", json{{"file", m}}.dump(), "--wait"});
  ASSERT_EQ(imp["state"], "succeeded") << imp.dump();
  EXPECT_EQ(imp["result"]["network"], "bver://grid/network/case118") << imp.dump();
  EXPECT_EQ(imp["result"]["counts"]["buses"], 118);
  EXPECT_EQ(imp["result"]["counts"]["branches"], 186);
  EXPECT_EQ(imp["result"]["counts"]["generators"], 54);
  EXPECT_EQ(imp["result"]["changeset"]["creates"], 1 + 118 + 186 + 54 + 99 + 14) << imp["result"].dump();
  EXPECT_EQ(p.Count("bus"), 118);
  json branch = p.BverJson({"ref", "get", "bver://grid/branch/case118-br-8-5-1"});
  EXPECT_EQ(branch["kind"], "transformer") << branch.dump();
  EXPECT_EQ(branch["body"]["from_bus"], "bver://grid/bus/case118-bus-8");

  // The power flow through the CLI, against MATPOWER.
  json pf = p.BverJson({"job", "start", "powerflow", "--input", R"({"network":"bver://grid/network/case118"})", "--wait"});
  ASSERT_EQ(pf["state"], "succeeded") << pf.dump();
  EXPECT_EQ(pf["cache_hit"], false);
  EXPECT_EQ(pf["result"]["converged"], true);
  EXPECT_EQ(pf["result"]["iterations"], 3);
  const std::string study_ptr = pf["result"]["study"];
  json study = p.BverJson({"ref", "get", study_ptr});
  EXPECT_EQ(study["kind"], "powerflow");
  EXPECT_THAT(study["body"]["network"].get<std::string>(), HasSubstr("bver://grid/network/case118~1"));
  EXPECT_EQ(study["body"]["elements"], 118 + 186 + 54 + 99 + 14);
  ExpectMatchesMatpower(study["body"], kShared + "/matpower/solutions/case118.json");
  // Every result value by pointer.
  json vm = p.BverJson({"resolve", study_ptr + "@buses[75].vm_pu"});
  EXPECT_NEAR(vm.is_number() ? vm.get<double>() : vm.value("value", 0.0), 0.943, 5e-4) << vm.dump();

  // Same network: a cache hit naming the same study.
  json again = p.BverJson({"job", "start", "powerflow", "--input", R"({"network":"bver://grid/network/case118"})", "--wait"});
  EXPECT_EQ(again["cache_hit"], true) << again.dump();
  EXPECT_EQ(again["result"]["study"], study_ptr);

  // One impedance changed: a miss, and a new study on the new version.
  ASSERT_EQ(p.Bver({"ref", "patch", "bver://grid/branch/case118-br-8-5-1", "--merge", R"({"x_pu":0.0300})"}).code, 0);
  json miss = p.BverJson({"job", "start", "powerflow", "--input", R"({"network":"bver://grid/network/case118"})", "--wait"});
  EXPECT_EQ(miss["cache_hit"], false) << miss.dump();
  EXPECT_NE(miss["result"]["study"], study_ptr);

  // Q limits on: MATPOWER's solution with enforce_q_lims = 1 (on the
  // original impedance).
  ASSERT_EQ(p.Bver({"ref", "patch", "bver://grid/branch/case118-br-8-5-1", "--merge", R"({"x_pu":0.0267})"}).code, 0);
  json q = p.BverJson({"job", "start", "powerflow", "--input",
                       R"({"network":"bver://grid/network/case118","enforce_q_limits":true})", "--wait"});
  ASSERT_EQ(q["state"], "succeeded") << q.dump();
  json qstudy = p.BverJson({"ref", "get", q["result"]["study"].get<std::string>()});
  ExpectMatchesMatpower(qstudy["body"], kShared + "/matpower/solutions/case118_qlim.json");

  // Export: the stored network written back as MATPOWER, the same numbers.
  fs::path out = p.dir / "exported.m";
  json ex = p.BverJson(
      {"job", "start", "export", "--input", json{{"network", "bver://grid/network/case118"}, {"file", out.string()}}.dump(), "--wait"});
  ASSERT_EQ(ex["state"], "succeeded") << ex.dump();
  grid::Case original, exported;
  grid::ParseError err;
  ASSERT_TRUE(grid::ReadMatpower(bver::testing::ReadFileForTest(m), &original, &err)) << err.message;
  ASSERT_TRUE(grid::ReadMatpower(bver::testing::ReadFileForTest(out), &exported, &err)) << err.message;
  EXPECT_EQ(grid::testing::FirstDifference(exported, original), "");

  // REST: the power flow as a job, the study, and its report as HTML.
  ServerGuard g;
  g.s = bver::testing::StartBverUp(BVER_EXE, p.dir, {"--listen", "127.0.0.1:0"});
  ASSERT_GT(g.s.port, 0) << bver::testing::ReadFileForTest(g.s.stderr_path);
  bver::testing::HttpReply rest = bver::testing::HttpRequestOnce(
      g.s.port, "POST", "/v1/jobs/powerflow?no_cache=true&wait=60", R"({"network":"bver://grid/network/case118"})");
  ASSERT_TRUE(rest.status == 200 || rest.status == 202) << rest.body;
  json rj = rest.Json();
  ASSERT_EQ(rj["state"], "succeeded") << rest.body;
  const std::string rest_study = rj["result"]["study"];
  bver::testing::HttpReply got =
      bver::testing::HttpRequestOnce(g.s.port, "GET", "/v1/refs/grid/study/" + StudyId(rest_study));
  ASSERT_EQ(got.status, 200) << got.body;
  ExpectMatchesMatpower(got.Json()["body"], kShared + "/matpower/solutions/case118.json");
  const std::string report = got.Json()["body"]["report"];
  bver::testing::HttpReply html =
      bver::testing::HttpRequestOnce(g.s.port, "GET", "/v1/artifacts/" + report + "?type=text/html");
  ASSERT_EQ(html.status, 200) << html.body.substr(0, 300);
  EXPECT_THAT(html.Header("content-type"), HasSubstr("text/html"));
  EXPECT_THAT(html.Header("content-security-policy"), HasSubstr("sandbox"));
  EXPECT_THAT(html.body, HasSubstr("<svg"));
  EXPECT_THAT(html.body, HasSubstr("Voltage profile"));
  ExpectRendersNotBlank(html.body, p.dir);
  // Bad input over REST: a problem document, and the server keeps serving.
  bver::testing::HttpReply bad =
      bver::testing::HttpRequestOnce(g.s.port, "POST", "/v1/jobs/powerflow", R"({"network":"bver://grid/network/nope"})");
  EXPECT_EQ(bad.status, 404) << bad.body;
  bver::testing::HttpReply bad_start = bver::testing::HttpRequestOnce(
      g.s.port, "POST", "/v1/jobs/powerflow", R"({"network":"bver://grid/network/case118","start":"warm"})");
  EXPECT_EQ(bad_start.status, 400) << bad_start.body;
  EXPECT_THAT(bad_start.body, HasSubstr("start"));
  bver::testing::HttpReply still = bver::testing::HttpRequestOnce(g.s.port, "GET", "/v1/refs/grid/network/case118");
  EXPECT_EQ(still.status, 200);
}

TEST(GridEndToEnd, PsseFromAnArtifactAndBadFilesWriteNothing) {
  Project p = NewProject("psse");
  // A PSS/E RAW file uploaded as an artifact; the format is guessed.
  json put = p.BverJson({"artifact", "put", kShared + "/psse/t_case9_save2psse.raw"});
  const std::string digest = put.value("digest", "");
  ASSERT_EQ(digest.rfind("sha256:", 0), 0u) << put.dump();
  json imp = p.BverJson({"job", "start", "import", "--input", json{{"file", digest}, {"network", "nine"}}.dump(), "--wait"});
  ASSERT_EQ(imp["state"], "succeeded") << imp.dump();
  json net = p.BverJson({"ref", "get", "bver://grid/network/nine"});
  EXPECT_EQ(net["body"]["source"]["format"], "psse");
  EXPECT_EQ(net["body"]["source"]["artifact"], digest);
  json pf = p.BverJson({"job", "start", "powerflow", "--input", R"({"network":"bver://grid/network/nine"})", "--wait"});
  ASSERT_EQ(pf["state"], "succeeded") << pf.dump();
  json study = p.BverJson({"ref", "get", pf["result"]["study"].get<std::string>()});
  ExpectMatchesMatpower(study["body"], kShared + "/psse/t_case9_save2psse.with_dcline.solution.json");

  const int networks = p.Count("network"), buses = p.Count("bus");
  // A malformed MATPOWER file: the error names line and column; nothing written.
  fs::path broken = p.dir / "broken.m";
  {
    std::string text = bver::testing::ReadFileForTest(kShared + "/matpower/m/case14.m");
    std::size_t at = text.find("0.01938");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, 7, "0.0x938");
    std::ofstream(broken) << text;
  }
  json bad = p.BverJson({"job", "start", "import", "--input", json{{"file", broken.string()}}.dump(), "--wait"}, 1);
  EXPECT_EQ(bad["state"], "failed") << bad.dump();
  EXPECT_EQ(bad["error"]["code"], "invalid_argument") << bad.dump();
  EXPECT_THAT(bad["error"]["message"].get<std::string>(), HasSubstr("broken.m:"));
  EXPECT_THAT(bad["error"]["message"].get<std::string>(), ::testing::ContainsRegex(R"(broken\.m:[0-9]+:[0-9]+: )"));
  // A file that does not exist, an artifact that is not stored, an unknown
  // format, input outside the schema.
  json missing = p.BverJson({"job", "start", "import", "--input", R"({"file":"/nonexistent/x.m"})", "--wait"}, 1);
  EXPECT_EQ(missing["error"]["code"], "not_found") << missing.dump();
  json no_artifact = p.BverJson(
      {"job", "start", "import", "--input",
       R"({"file":"sha256:0000000000000000000000000000000000000000000000000000000000000000"})", "--wait"}, 1);
  EXPECT_EQ(no_artifact["error"]["code"], "not_found") << no_artifact.dump();
  bver::testing::CommandResult bad_format =
      p.Bver({"job", "start", "import", "--input", R"({"file":"x.m","format":"cim"})", "--json"});
  EXPECT_EQ(bad_format.code, 1) << bad_format.out << bad_format.err;
  EXPECT_THAT(bad_format.out + bad_format.err, HasSubstr("format"));
  // Importing the same network id again: refused, nothing changed.
  json twice = p.BverJson(
      {"job", "start", "import", "--input", json{{"file", digest}, {"network", "nine"}}.dump(), "--wait"}, 1);
  EXPECT_EQ(twice["state"], "failed") << twice.dump();
  EXPECT_THAT(twice["error"]["message"].get<std::string>(), HasSubstr("nine"));
  EXPECT_EQ(p.Count("network"), networks);
  EXPECT_EQ(p.Count("bus"), buses);
}

// Export's bad input: an unknown network is a 404-style error naming the
// field; a file it cannot write fails the job; nothing is stored either way.
// Non-convergence through the job: a study that says so, with the bus.
TEST(GridEndToEnd, ExportBadInputAndADivergingNetwork) {
  Project p = NewProject("diverge");
  json imp = p.BverJson(
      {"job", "start", "import", "--input", json{{"file", kShared + "/matpower/m/case14.m"}, {"network", "n14"}}.dump(), "--wait"});
  ASSERT_EQ(imp["state"], "succeeded") << imp.dump();
  bver::testing::CommandResult unknown =
      p.Bver({"job", "start", "export", "--input", R"({"network":"bver://grid/network/nope"})", "--json"});
  EXPECT_EQ(unknown.code, 1) << unknown.out << unknown.err;
  EXPECT_THAT(unknown.out + unknown.err, HasSubstr("input field input.network"));
  json unwritable = p.BverJson({"job", "start", "export", "--input",
                                R"({"network":"bver://grid/network/n14","file":"/nonexistent-dir/x.m"})", "--wait"},
                               1);
  EXPECT_EQ(unwritable["state"], "failed") << unwritable.dump();
  EXPECT_THAT(unwritable["error"]["message"].get<std::string>(), HasSubstr("/nonexistent-dir/x.m"));

  // Bus 14's load made 100 times larger: Newton diverges; the job still
  // succeeds with a study that says so and names the worst bus.
  ASSERT_EQ(p.Bver({"ref", "patch", "bver://grid/load/n14-load-14-1", "--merge", R"({"p_mw":1490,"q_mvar":500})"}).code, 0);
  json pf = p.BverJson({"job", "start", "powerflow", "--input", R"({"network":"bver://grid/network/n14"})", "--wait"});
  ASSERT_EQ(pf["state"], "succeeded") << pf.dump();
  EXPECT_EQ(pf["result"]["converged"], false) << pf.dump();
  json study = p.BverJson({"ref", "get", pf["result"]["study"].get<std::string>()});
  EXPECT_EQ(study["body"]["converged"], false);
  EXPECT_THAT(study["body"].value("message", ""), HasSubstr("did not converge"));
  EXPECT_THAT(study["body"]["evidence"]["worst_bus"]["bus"].get<std::string>(), HasSubstr("bver://grid/bus/n14-bus-"));
  EXPECT_EQ(study["body"]["buses"].size(), 0u);  // no values that are not a solution
}

// The 10,000-bus synthetic WECC case through the job: imported, solved, and
// every bus against MATPOWER's solution.
TEST(GridEndToEndLarge, TenThousandBusesImportAndPowerFlow) {
  Project p = NewProject("wecc");
  json imp = p.BverJson({"job", "start", "import", "--input",
                         json{{"file", kShared + "/matpower/m/case_ACTIVSg10k.m"}, {"network", "wecc"}}.dump(), "--wait"});
  ASSERT_EQ(imp["state"], "succeeded") << imp.dump().substr(0, 2000);
  EXPECT_EQ(imp["result"]["counts"]["buses"], 10000);
  json pf = p.BverJson({"job", "start", "powerflow", "--input", R"({"network":"bver://grid/network/wecc"})", "--wait"});
  ASSERT_EQ(pf["state"], "succeeded") << pf.dump().substr(0, 2000);
  json study = p.BverJson({"ref", "get", pf["result"]["study"].get<std::string>()});
  ExpectMatchesMatpower(study["body"], kShared + "/matpower/solutions/case_ACTIVSg10k.json");
}

}  // namespace
