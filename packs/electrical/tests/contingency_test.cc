// N-1 against independent recomputations: the islanding flags against a
// brute-force connectivity count, and every non-islanding outage against a
// separate power flow (from the case's own start) of the network with that
// element switched off.
#include "packs/electrical/src/contingency.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <queue>
#include <string>
#include <thread>
#include <vector>

#include "packs/electrical/tests/case_json.h"

namespace grid {
namespace {

constexpr double kDeg = 3.14159265358979323846 / 180;

Case Load(const std::string& name) {
  return grid::testing::ReadCaseJson(grid::testing::TestdataDir() + "/matpower/" + name + ".json");
}

// Connected components of the non-isolated buses over in-service branches,
// with branch `skip` left out: a BFS, nothing shared with Bridges().
int Components(const Case& c, int skip) {
  std::map<int, int> index;
  for (std::size_t b = 0; b < c.bus.size(); ++b) index[c.bus[b].number] = static_cast<int>(b);
  std::vector<std::vector<int>> adj(c.bus.size());
  for (std::size_t l = 0; l < c.branch.size(); ++l) {
    const Branch& br = c.branch[l];
    if (br.status == 0 || static_cast<int>(l) == skip) continue;
    int f = index[br.from], t = index[br.to];
    if (c.bus[f].type == kIsolated || c.bus[t].type == kIsolated) continue;
    adj[f].push_back(t);
    adj[t].push_back(f);
  }
  std::vector<char> seen(c.bus.size(), 0);
  int components = 0;
  for (std::size_t s = 0; s < c.bus.size(); ++s) {
    if (seen[s] || c.bus[s].type == kIsolated) continue;
    ++components;
    std::queue<int> q;
    q.push(static_cast<int>(s));
    seen[s] = 1;
    while (!q.empty()) {
      int u = q.front();
      q.pop();
      for (int v : adj[u]) {
        if (!seen[v]) {
          seen[v] = 1;
          q.push(v);
        }
      }
    }
  }
  return components;
}

Bus MakeBus(int number, int type) {
  Bus b;
  b.number = number;
  b.type = type;
  return b;
}

Branch MakeBranch(int from, int to, double r, double x) {
  Branch br;
  br.from = from;
  br.to = to;
  br.r = r;
  br.x = x;
  return br;
}

class ContingencyCaseTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ContingencyCaseTest, IslandingIsExactlyTheBridges) {
  const Case c = Load(GetParam());
  const std::vector<char> bridges = Bridges(c);
  const int whole = Components(c, -1);
  int count = 0;
  for (std::size_t l = 0; l < c.branch.size(); ++l) {
    if (c.branch[l].status == 0) continue;
    const bool splits = Components(c, static_cast<int>(l)) > whole;
    EXPECT_EQ(bridges[l] != 0, splits) << "branch " << l + 1 << " " << c.branch[l].from << "-" << c.branch[l].to;
    count += splits;
  }
  RecordProperty("bridges", count);
}

TEST_P(ContingencyCaseTest, EveryOutageAgreesWithASeparatePowerFlow) {
  const Case c = Load(GetParam());
  ContingencyOptions o;
  o.keep_solutions = true;
  ContingencyResult r;
  std::string error;
  ASSERT_TRUE(RunContingencies(c, o, &r, &error)) << error;
  ASSERT_TRUE(r.base.converged);
  std::size_t in_service = 0;
  for (const Branch& br : c.branch) in_service += br.status != 0;
  for (const Gen& g : c.gen) in_service += g.status > 0;
  ASSERT_EQ(r.outages.size(), in_service);
  EXPECT_EQ(r.total_outages, static_cast<int>(in_service));

  const std::vector<char> bridges = Bridges(c);
  int compared = 0;
  for (const OutageResult& out : r.outages) {
    Case alt = c;
    if (out.type == OutageResult::kBranch) {
      EXPECT_EQ(out.islanding, bridges[static_cast<std::size_t>(out.index)] != 0);
      alt.branch[static_cast<std::size_t>(out.index)].status = 0;
    } else {
      EXPECT_FALSE(out.islanding);
      alt.gen[static_cast<std::size_t>(out.index)].status = 0;
    }
    if (out.islanding) continue;
    PowerFlowResult separate;
    ASSERT_TRUE(SolvePowerFlow(alt, PowerFlowOptions(), &separate, &error)) << error;
    const std::string what = std::string(out.type == OutageResult::kBranch ? "branch " : "gen ") +
                             std::to_string(out.index + 1);
    ASSERT_EQ(out.converged, separate.converged) << what << ": " << out.message << " / " << separate.message;
    if (!out.converged) continue;
    ++compared;
    // Angles relative to the reference bus: when the outage takes the
    // reference bus's only generator, a PV bus becomes the reference and
    // keeps its starting angle, which differs between the two starts.
    ASSERT_FALSE(separate.ref_buses.empty()) << what;
    const std::size_t ref = static_cast<std::size_t>(separate.ref_buses[0]);
    for (std::size_t b = 0; b < c.bus.size(); ++b) {
      ASSERT_NEAR(out.vm[b], separate.vm[b], 1e-6) << what << " bus " << c.bus[b].number;
      ASSERT_NEAR((out.va_deg[b] - out.va_deg[ref]) * kDeg, (separate.va_deg[b] - separate.va_deg[ref]) * kDeg, 1e-6)
          << what << " bus " << c.bus[b].number;
    }
    // The violations are those of the separate solution.
    const std::vector<Violation> expected =
        Violations(alt, separate, out.type == OutageResult::kBranch ? out.index : -1);
    ASSERT_EQ(out.violations.size(), expected.size()) << what;
    for (std::size_t k = 0; k < expected.size(); ++k) {
      EXPECT_EQ(out.violations[k].kind, expected[k].kind) << what;
      EXPECT_EQ(out.violations[k].index, expected[k].index) << what;
      EXPECT_NEAR(out.violations[k].value, expected[k].value, 1e-4) << what;
    }
  }
  EXPECT_GT(compared, static_cast<int>(r.outages.size()) / 2);
}

TEST_P(ContingencyCaseTest, PartsConcatenateToTheSingleRun) {
  const Case c = Load(GetParam());
  ContingencyOptions whole;
  ContingencyResult single;
  std::string error;
  ASSERT_TRUE(RunContingencies(c, whole, &single, &error)) << error;
  std::vector<OutageResult> merged;
  for (int part = 0; part < 3; ++part) {
    ContingencyOptions o;
    o.part_index = part;
    o.part_count = 3;
    o.threads = 2;
    ContingencyResult r;
    ASSERT_TRUE(RunContingencies(c, o, &r, &error)) << error;
    EXPECT_EQ(r.first_outage, static_cast<int>(merged.size()));
    EXPECT_EQ(r.total_outages, single.total_outages);
    merged.insert(merged.end(), r.outages.begin(), r.outages.end());
  }
  ASSERT_EQ(merged.size(), single.outages.size());
  for (std::size_t k = 0; k < merged.size(); ++k) {
    EXPECT_EQ(merged[k].type, single.outages[k].type);
    EXPECT_EQ(merged[k].index, single.outages[k].index);
    EXPECT_EQ(merged[k].converged, single.outages[k].converged);
    EXPECT_EQ(merged[k].islanding, single.outages[k].islanding);
    ASSERT_EQ(merged[k].violations.size(), single.outages[k].violations.size()) << k;
    for (std::size_t v = 0; v < merged[k].violations.size(); ++v) {
      // Bit for bit: the same solve, whatever the thread or the part.
      EXPECT_EQ(merged[k].violations[v].value, single.outages[k].violations[v].value);
    }
  }
}

// Two studies at once in one process (two jobs on one worker's pool): each
// has its own solver, and the answers are those of the runs one at a time.
TEST_P(ContingencyCaseTest, TwoStudiesAtOnceAgreeWithOneAtATime) {
  const Case c = Load(GetParam());
  ContingencyResult alone[2], together[2];
  std::string error;
  for (int part = 0; part < 2; ++part) {
    ContingencyOptions o;
    o.part_index = part;
    o.part_count = 2;
    ASSERT_TRUE(RunContingencies(c, o, &alone[part], &error)) << error;
  }
  for (int round = 0; round < 5; ++round) {
    bool ok[2] = {false, false};
    std::string errors[2];
    std::vector<std::thread> jobs;
    for (int part = 0; part < 2; ++part) {
      jobs.emplace_back([&, part] {
        const Case own = c;  // each job loads its own copy
        ContingencyOptions o;
        o.part_index = part;
        o.part_count = 2;
        o.threads = 2;
        ok[part] = RunContingencies(own, o, &together[part], &errors[part]);
      });
    }
    for (std::thread& t : jobs) t.join();
    for (int part = 0; part < 2; ++part) {
      ASSERT_TRUE(ok[part]) << errors[part];
      ASSERT_EQ(together[part].outages.size(), alone[part].outages.size());
      for (std::size_t k = 0; k < alone[part].outages.size(); ++k) {
        EXPECT_EQ(together[part].outages[k].converged, alone[part].outages[k].converged) << k;
        EXPECT_EQ(together[part].outages[k].min_vm, alone[part].outages[k].min_vm) << k;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Matpower, ContingencyCaseTest,
                         ::testing::Values("case14", "case30", "case57", "case89pegase", "case118", "case300"));

TEST(ContingencyTest, RadialFeederBranchesAllIsland) {
  // 1 (slack) - 2 - 3 with a load at 3: both branches are bridges; losing
  // 2-3 de-energizes bus 3 and its 20 MW.
  Case c;
  c.bus = {MakeBus(1, kRef), MakeBus(2, kPQ), MakeBus(3, kPQ)};
  c.bus[2].pd = 20;
  c.bus[0].base_kv = c.bus[1].base_kv = c.bus[2].base_kv = 20;
  c.gen.push_back(Gen{});
  c.gen[0].bus = 1;
  c.branch.push_back(MakeBranch(1, 2, 0.01, 0.05));
  c.branch.push_back(MakeBranch(2, 3, 0.01, 0.05));
  ContingencyOptions o;
  o.generators = false;
  ContingencyResult r;
  std::string error;
  ASSERT_TRUE(RunContingencies(c, o, &r, &error)) << error;
  ASSERT_EQ(r.outages.size(), 2u);
  EXPECT_TRUE(r.outages[0].islanding);
  EXPECT_TRUE(r.outages[1].islanding);
  EXPECT_TRUE(r.outages[1].converged);
  EXPECT_EQ(r.outages[1].deenergized_buses, 1);
  EXPECT_DOUBLE_EQ(r.outages[1].lost_load_mw, 20);
  EXPECT_EQ(r.outages[0].deenergized_buses, 2);
}

TEST(ContingencyTest, ParallelCircuitsAreNotBridges) {
  Case c;
  c.bus = {MakeBus(1, kRef), MakeBus(2, kPQ)};
  c.bus[1].pd = 50;
  c.gen.push_back(Gen{});
  c.gen[0].bus = 1;
  Branch a = MakeBranch(1, 2, 0.01, 0.1);
  a.rate_a = 40;  // one circuit alone carries 50 MW: a thermal violation
  c.branch = {a, a};
  const std::vector<char> b = Bridges(c);
  EXPECT_FALSE(b[0]);
  EXPECT_FALSE(b[1]);
  ContingencyOptions o;
  ContingencyResult r;
  std::string error;
  ASSERT_TRUE(RunContingencies(c, o, &r, &error)) << error;
  EXPECT_TRUE(r.base_violations.empty());
  ASSERT_EQ(r.outages.size(), 3u);  // two branches, one generator
  ASSERT_TRUE(r.outages[0].converged);
  ASSERT_EQ(r.outages[0].violations.size(), 1u);
  EXPECT_EQ(r.outages[0].violations[0].kind, Violation::kThermal);
  EXPECT_EQ(r.outages[0].violations[0].index, 1);
  EXPECT_GT(r.outages[0].violations[0].value, 50);
  // The only generator out: nothing is left to solve, not a crash.
  EXPECT_EQ(r.outages[2].type, OutageResult::kGenerator);
  EXPECT_FALSE(r.outages[2].converged);
  EXPECT_FALSE(r.outages[2].message.empty());
}

TEST(ContingencyTest, BadOptionsAndBadCasesAreErrors) {
  Case c = Load("case14");
  ContingencyOptions o;
  ContingencyResult r;
  std::string error;
  o.part_index = 3;
  o.part_count = 3;
  EXPECT_FALSE(RunContingencies(c, o, &r, &error));
  EXPECT_NE(error.find("part 3 of 3"), std::string::npos) << error;
  o = ContingencyOptions();
  o.pf.dc = true;
  EXPECT_FALSE(RunContingencies(c, o, &r, &error));
  o = ContingencyOptions();
  o.pf.max_iterations = 1;  // the base case cannot converge in one iteration
  EXPECT_FALSE(RunContingencies(c, o, &r, &error));
  EXPECT_NE(error.find("base case"), std::string::npos) << error;
  c.branch[0].from = 999;
  EXPECT_FALSE(RunContingencies(c, ContingencyOptions(), &r, &error));
  EXPECT_NE(error.find("999"), std::string::npos) << error;
}

TEST(LargeContingencyTest, Case2383wpPartOfTheList) {
  // A tenth of the N-1 of a 2,383-bus network, on two threads, checked for
  // shape: every outage solved or flagged. The full list is the benchmark's.
  const Case c = Load("case2383wp");
  ContingencyOptions o;
  o.part_count = 10;
  o.threads = 2;
  ContingencyResult r;
  std::string error;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(RunContingencies(c, o, &r, &error)) << error;
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_GT(r.outages.size(), 300u);
  int converged = 0;
  for (const OutageResult& out : r.outages) converged += out.converged;
  EXPECT_GT(converged, static_cast<int>(r.outages.size()) * 9 / 10);
  RecordProperty("ms", std::to_string(ms));
}

}  // namespace
}  // namespace grid
