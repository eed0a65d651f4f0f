// grid.check's rules: each fires on a case built to break it, with the
// right pointer and severity, and not on the clean case; MATPOWER's own
// cases give no error, within the caps.
#include "packs/electrical/src/check.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "packs/electrical/src/model.h"
#include "packs/electrical/tests/case_json.h"

namespace grid {
namespace {

Case Load(const std::string& name) {
  return grid::testing::ReadCaseJson(grid::testing::TestdataDir() + "/matpower/" + name + ".json");
}

// case14 with the pointers an import gives it.
struct Imported {
  Case c;
  ElementPointers p;
};

// MATPOWER's case14 gives no base voltages: 138 kV everywhere here, so the
// voltage-level rules have something to check.
Imported Case14() {
  Imported i;
  i.c = Load("case14");
  for (Bus& b : i.c.bus) b.base_kv = 138;
  ImportCreates(i.c, "n", NetworkBody(i.c, "n", nlohmann::json::object()), &i.p);
  return i;
}

int Count(const CheckReport& r, const std::string& rule, const std::string& pointer = "",
          const std::string& severity = "") {
  int n = 0;
  for (const Finding& f : r.findings) {
    if (f.rule == rule && (pointer.empty() || f.pointer == pointer) && (severity.empty() || f.severity == severity)) ++n;
  }
  return n;
}

std::string Dump(const CheckReport& r) {
  std::string s;
  for (const Finding& f : r.findings) s += f.severity + " " + f.rule + " " + f.pointer + ": " + f.message + "\n";
  return s;
}

TEST(CheckTest, TheCleanCaseHasNoErrorOrWarningButRatings) {
  Imported i = Case14();
  CheckReport r = CheckNetwork(i.c, i.p);
  EXPECT_TRUE(r.passed) << Dump(r);
  EXPECT_EQ(r.summary.errors, 0) << Dump(r);
  // case14 has no branch ratings at all: 20 warnings of one rule.
  EXPECT_EQ(Count(r, "branch.rating"), 20) << Dump(r);
  EXPECT_EQ(r.summary.warnings, 20) << Dump(r);
  EXPECT_EQ(r.summary.islands, 1);
  // Without any base voltage (MATPOWER's own case14): one finding, not 14.
  Case bare = Load("case14");
  CheckReport b = CheckNetwork(bare, i.p);
  EXPECT_EQ(Count(b, "bus.base_kv"), 1) << Dump(b);
}

TEST(CheckTest, EachRuleFiresAtItsElement) {
  struct Row {
    const char* rule;
    const char* severity;
    void (*breaks)(Case&);
    std::string pointer;
  };
  const std::vector<Row> rows = {
      {"generator.q_limits", "error", [](Case& c) { c.gen[1].qmin = 100; c.gen[1].qmax = 10; },
       "bver://grid/generator/n-gen-2-1@q_min_mvar"},
      {"generator.p_limits", "error", [](Case& c) { c.gen[1].pmin = 100; c.gen[1].pmax = 10; },
       "bver://grid/generator/n-gen-2-1@p_min_mw"},
      {"generator.voltage_setpoint", "warning", [](Case& c) { c.gen[1].vg = 1.5; },
       "bver://grid/generator/n-gen-2-1@vset_pu"},
      {"generator.mbase", "warning", [](Case& c) { c.gen[1].mbase = 0; }, "bver://grid/generator/n-gen-2-1@mbase_mva"},
      {"bus.voltage_limits", "error", [](Case& c) { c.bus[3].vmin = 1.2; }, "bver://grid/bus/n-bus-4@vmin_pu"},
      {"bus.base_kv", "warning", [](Case& c) { c.bus[3].base_kv = 0; }, "bver://grid/bus/n-bus-4@base_kv"},
      {"branch.negative_resistance", "warning", [](Case& c) { c.branch[0].r = -0.01; },
       "bver://grid/branch/n-br-1-2-1@r_pu"},
      {"branch.impedance", "error", [](Case& c) { c.branch[0].r = c.branch[0].x = 0; },
       "bver://grid/branch/n-br-1-2-1@x_pu"},
      {"branch.impedance_implausible", "warning", [](Case& c) { c.branch[0].x = 50; },
       "bver://grid/branch/n-br-1-2-1@x_pu"},
      {"branch.tap", "warning", [](Case& c) { c.branch[7].tap = 97.8; }, "bver://grid/branch/n-br-4-7-1@tap_ratio"},
      {"branch.line_voltage_levels", "error", [](Case& c) { c.branch[0].kind = "line"; c.bus[1].base_kv = 33; },
       "bver://grid/branch/n-br-1-2-1"},
      {"branch.winding_voltage", "error",
       [](Case& c) { c.branch[7].kind = "transformer"; c.bus[3].base_kv = 132; c.bus[6].base_kv = 33; c.branch[7].from_kv = 33; },
       "bver://grid/branch/n-br-4-7-1@from_kv"},
      {"topology.no_reference", "error", [](Case& c) { c.bus[0].type = kPV; }, "bver://grid/bus/n-bus-1"},
      {"topology.several_references", "warning", [](Case& c) { c.bus[1].type = kRef; }, "bver://grid/bus/n-bus-2"},
      {"topology.isolated_bus", "warning",
       [](Case& c) { for (Branch& b : c.branch) if (b.to == 14) b.status = 0; },
       "bver://grid/bus/n-bus-14"},
      {"generator.at_isolated_bus", "error", [](Case& c) { c.bus[7].type = kIsolated; },
       "bver://grid/generator/n-gen-8-1"},
      {"element.unknown_bus", "error", [](Case& c) { c.branch[0].to = 99; }, "bver://grid/branch/n-br-1-2-1"},
      {"bus.duplicate_number", "error", [](Case& c) { c.bus[13].number = 13; }, "bver://grid/bus/n-bus-14"},
  };
  for (const Row& row : rows) {
    Imported i = Case14();
    ASSERT_EQ(Count(CheckNetwork(i.c, i.p), row.rule), 0) << row.rule << " fires on the clean case";
    row.breaks(i.c);
    CheckReport r = CheckNetwork(i.c, i.p);
    EXPECT_GE(Count(r, row.rule, row.pointer, row.severity), 1) << row.rule << " at " << row.pointer << "\n" << Dump(r);
    if (std::string(row.severity) == "error") {
      EXPECT_FALSE(r.passed) << row.rule;
    }
  }
}

TEST(CheckTest, IslandsWithoutGenerationAndTheirEquipment) {
  Imported i = Case14();
  // Bus 14 cut off (branches 9-14 and 13-14 out): a de-energized island
  // with its load.
  for (Branch& b : i.c.branch) {
    if (b.to == 14) b.status = 0;
  }
  i.c.loads.push_back({14, "1", 14.9, 5.0, 1});
  i.p.load.clear();  // the import's loads are not in the case's list
  i.p.load.push_back("bver://grid/load/n-load-14-1");
  CheckReport r = CheckNetwork(i.c, i.p);
  EXPECT_EQ(r.summary.islands, 2) << Dump(r);
  EXPECT_EQ(r.summary.energized_islands, 1);
  EXPECT_EQ(Count(r, "topology.isolated_bus", "bver://grid/bus/n-bus-14"), 1) << Dump(r);
  EXPECT_EQ(Count(r, "equipment.isolated", "bver://grid/load/n-load-14-1"), 1) << Dump(r);
  EXPECT_EQ(Count(r, "topology.islands"), 1);
  EXPECT_TRUE(r.passed);  // warnings only
}

TEST(CheckTest, CapsPerRuleEndInOneSummaryFinding) {
  Imported i = Case14();
  CheckOptions o;
  o.max_findings_per_rule = 5;
  CheckReport r = CheckNetwork(i.c, i.p, o);
  EXPECT_EQ(Count(r, "branch.rating"), 6) << Dump(r);  // 5, then "15 more"
  bool summary = false;
  for (const Finding& f : r.findings) summary |= f.message.find("15 more finding(s)") != std::string::npos;
  EXPECT_TRUE(summary) << Dump(r);
  EXPECT_EQ(r.summary.warnings, 20);  // the counts are of all findings
}

TEST(CheckTest, NeverCrashesOnBrokenCases) {
  CheckReport empty = CheckNetwork(Case(), ElementPointers());
  EXPECT_FALSE(empty.passed);
  Case c = Load("case14");
  c.branch[2].r = std::nan("");
  c.gen[0].bus = 77;
  c.dclines.push_back(DcLine{});
  c.dclines.back().from = 1;
  c.dclines.back().to = 500;
  CheckReport r = CheckNetwork(c, ElementPointers());  // no pointers: labels
  EXPECT_FALSE(r.passed);
  EXPECT_GE(Count(r, "element.unknown_bus"), 2) << Dump(r);
  EXPECT_GE(Count(r, "branch.impedance"), 1) << Dump(r);
  for (const Finding& f : r.findings) EXPECT_FALSE(f.pointer.empty()) << f.rule;
}

class CheckMatpowerTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CheckMatpowerTest, NoErrorOnMatpowersOwnCases) {
  const Case c = Load(GetParam());
  auto t0 = std::chrono::steady_clock::now();
  CheckReport r = CheckNetwork(c, ElementPointers());
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::string errors;
  for (const Finding& f : r.findings) {
    if (f.severity == "error" && errors.size() < 3000) errors += f.rule + " " + f.pointer + ": " + f.message + "\n";
  }
  EXPECT_EQ(r.summary.errors, 0) << errors;
  EXPECT_LE(r.findings.size(), 20u * 51u);  // every rule capped
  RecordProperty("ms", std::to_string(ms));
}

INSTANTIATE_TEST_SUITE_P(Matpower, CheckMatpowerTest,
                         ::testing::Values("case14", "case30", "case57", "case89pegase", "case118", "case300",
                                           "case1354pegase", "case2383wp", "case_ACTIVSg2000", "case9241pegase",
                                           "case_ACTIVSg10k"));

}  // namespace
}  // namespace grid
