// The power flow against MATPOWER's own runpf results (../shared/testdata:
// matpower/solutions, psse/*.solution.json), and on edge cases checked by an
// independent recomputation of the power balance of the result.
//
// The 2,000-10,000-bus cases are the suite "Large/LargePowerFlowTest" (label
// them with --gtest_filter=Large/*).
#include "packs/electrical/src/powerflow.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "packs/electrical/tests/case_json.h"

namespace grid {
namespace {

using Complex = std::complex<double>;

constexpr double kDeg = 3.14159265358979323846 / 180;

std::string MatpowerDir() { return grid::testing::TestdataDir() + "/matpower"; }
std::string PsseDir() { return grid::testing::TestdataDir() + "/psse"; }

Case ReadMatpowerCase(const std::string& name) {
  return grid::testing::ReadCaseJson(MatpowerDir() + "/" + name + ".json");
}

// The "dcline" rows of a psse/*.dcline.json, in MATPOWER's idx_dcline order.
std::vector<DcLine> ReadDcLines(const std::string& path) {
  std::vector<DcLine> out;
  const nlohmann::json j = grid::testing::ReadJsonFile(path);
  for (const auto& r : j.at("dcline")) {
    DcLine d;
    d.from = r[0].get<int>();
    d.to = r[1].get<int>();
    d.status = static_cast<int>(r[2].get<double>());
    d.pf = r[3];
    d.pt = r[4];
    d.qf = r[5];
    d.qt = r[6];
    d.vf = r[7];
    d.vt = r[8];
    d.pmin = r[9];
    d.pmax = r[10];
    d.qminf = r[11];
    d.qmaxf = r[12];
    d.qmint = r[13];
    d.qmaxt = r[14];
    d.loss0 = r[15];
    d.loss1 = r[16];
    out.push_back(d);
  }
  return out;
}

bool AllFinite(const std::vector<double>& v) {
  return std::all_of(v.begin(), v.end(), [](double x) { return std::isfinite(x); });
}

bool ResultIsFinite(const PowerFlowResult& r) {
  return AllFinite(r.vm) && AllFinite(r.va_deg) && AllFinite(r.pg) && AllFinite(r.qg) &&
         AllFinite(r.p_from) && AllFinite(r.q_from) && AllFinite(r.p_to) && AllFinite(r.q_to);
}

// The series current of branch l (from the ideal transformer's secondary to
// the to bus), p.u., from the result's voltages.
Complex SeriesCurrent(const Branch& br, Complex vf, Complex vt) {
  Complex tap = std::polar(br.tap != 0 ? br.tap : 1.0, br.shift * kDeg);
  return (vf / tap - vt) / Complex(br.r, br.x);
}

// The power balance of a result, recomputed from the case with a plain
// pi-model per branch (no Ybus): the largest |P| or |Q| mismatch (p.u.) over
// the energized buses (Vm > 0). Also checks the result's branch flows
// against the same model (largest difference, MVA, into *flow_error).
double RecomputedMismatch(const Case& c, const PowerFlowResult& r, double* flow_error = nullptr) {
  std::map<int, std::size_t> index;
  for (std::size_t b = 0; b < c.bus.size(); ++b) index[c.bus[b].number] = b;
  std::vector<Complex> v(c.bus.size()), s(c.bus.size());
  for (std::size_t b = 0; b < c.bus.size(); ++b) {
    v[b] = std::polar(r.vm[b], r.va_deg[b] * kDeg);
    const Bus& bus = c.bus[b];
    // Injections minus loads minus shunts.
    s[b] = -Complex(bus.pd, bus.qd) / c.base_mva -
           std::norm(v[b]) * std::conj(Complex(bus.gs, bus.bs)) / c.base_mva;
  }
  for (std::size_t g = 0; g < c.gen.size(); ++g) {
    if (c.gen[g].status > 0) s[index[c.gen[g].bus]] += Complex(r.pg[g], r.qg[g]) / c.base_mva;
  }
  for (std::size_t d = 0; d < c.dclines.size(); ++d) {
    const DcLine& dl = c.dclines[d];
    if (dl.status <= 0) continue;
    s[index[dl.from]] += Complex(-dl.pf, r.dcline_qf[d]) / c.base_mva;
    s[index[dl.to]] += Complex(dl.pf - (dl.loss0 + dl.loss1 * dl.pf), r.dcline_qt[d]) / c.base_mva;
  }
  double worst_flow = 0;
  for (std::size_t l = 0; l < c.branch.size(); ++l) {
    const Branch& br = c.branch[l];
    std::size_t f = index[br.from], t = index[br.to];
    if (br.status == 0 || r.vm[f] == 0 || r.vm[t] == 0) continue;
    Complex tap = std::polar(br.tap != 0 ? br.tap : 1.0, br.shift * kDeg);
    Complex is = SeriesCurrent(br, v[f], v[t]);
    Complex charging = Complex(0, br.b / 2);
    Complex i_from = (is + charging * v[f] / tap) / std::conj(tap);  // at the from bus
    Complex i_to = -is + charging * v[t];
    Complex sf = v[f] * std::conj(i_from), st = v[t] * std::conj(i_to);
    s[f] -= sf;
    s[t] -= st;
    worst_flow =
        std::max({worst_flow, std::abs(sf * c.base_mva - Complex(r.p_from[l], r.q_from[l])),
                  std::abs(st * c.base_mva - Complex(r.p_to[l], r.q_to[l]))});
  }
  if (flow_error != nullptr) *flow_error = worst_flow;
  double worst = 0;
  for (std::size_t b = 0; b < c.bus.size(); ++b) {
    if (r.vm[b] == 0) continue;
    worst = std::max({worst, std::fabs(s[b].real()), std::fabs(s[b].imag())});
  }
  return worst;
}

PowerFlowResult MustSolve(const Case& c, const PowerFlowOptions& o = {}) {
  PowerFlowResult r;
  std::string error;
  EXPECT_TRUE(SolvePowerFlow(c, o, &r, &error)) << error;
  return r;
}

// ---------------------------------------------------------------------------
// Against MATPOWER.

struct Comparison {
  double dvm = 0, dva = 0, dqg = 0, dpg = 0;
};

// Bus voltages, gen P/Q against a MATPOWER solution (case order).
Comparison Compare(const Case& c, const PowerFlowResult& r, const grid::testing::Solution& s) {
  Comparison d;
  EXPECT_EQ(s.bus.size(), c.bus.size());
  for (std::size_t b = 0; b < c.bus.size() && b < s.bus.size(); ++b) {
    EXPECT_EQ(s.bus[b], c.bus[b].number);
    d.dvm = std::max(d.dvm, std::fabs(r.vm[b] - s.vm[b]));
    d.dva = std::max(d.dva, std::fabs(r.va_deg[b] - s.va_deg[b]));
  }
  if (!s.qg_mvar.empty()) {
    EXPECT_EQ(s.qg_mvar.size(), c.gen.size());
    for (std::size_t g = 0; g < c.gen.size() && g < s.qg_mvar.size(); ++g) {
      d.dqg = std::max(d.dqg, std::fabs(r.qg[g] - s.qg_mvar[g]));
      d.dpg = std::max(d.dpg, std::fabs(r.pg[g] - s.pg_mw[g]));
    }
  }
  return d;
}

void ExpectClose(const Comparison& d, const std::string& what) {
  EXPECT_LE(d.dvm, 1e-6) << what;
  EXPECT_LE(d.dva, 1e-4) << what;
  EXPECT_LE(d.dqg, 1e-4) << what;
  EXPECT_LE(d.dpg, 1e-4) << what;
}

// The gens MATPOWER holds at a limit: in service, Q within 1e-6 MVAr of a limit.
std::set<int> AtLimit(const Case& c, const std::vector<double>& qg) {
  std::set<int> out;
  for (std::size_t g = 0; g < c.gen.size(); ++g) {
    if (c.gen[g].status <= 0) continue;
    if (std::fabs(qg[g] - c.gen[g].qmax) < 1e-6 || std::fabs(qg[g] - c.gen[g].qmin) < 1e-6) {
      out.insert(static_cast<int>(g));
    }
  }
  return out;
}

struct CaseParam {
  std::string name;
  bool qlim;
};

std::string ParamName(const ::testing::TestParamInfo<CaseParam>& info) {
  return info.param.name + (info.param.qlim ? "_qlim" : "");
}

// Buses where two or more in-service generators all have a zero Q range:
// there MATPOWER 8's MP-Core path shares Q differently from pfsoln (see
// PowerFlowOptions::mp_core_q_split).
std::set<int> ZeroRangeSharedBuses(const Case& c) {
  std::map<int, std::vector<const Gen*>> at;
  for (const Gen& g : c.gen) {
    if (g.status > 0) at[g.bus].push_back(&g);
  }
  std::set<int> out;
  for (const auto& [bus, gens] : at) {
    bool zero =
        std::all_of(gens.begin(), gens.end(), [](const Gen* g) { return g->qmax == g->qmin; });
    if (gens.size() > 1 && zero) out.insert(bus);
  }
  return out;
}

// Solves p's case with MATPOWER's options and checks the result against its
// solution file; returns the result.
PowerFlowResult SolveAndCompare(const CaseParam& p, const Case& c, bool mp_core_q_split,
                                bool expect_balance) {
  const auto s = grid::testing::ReadSolution(MatpowerDir() + "/solutions/" + p.name +
                                             (p.qlim ? "_qlim" : "") + ".json");
  PowerFlowOptions o;
  o.enforce_q_limits = p.qlim;
  o.mp_core_q_split = mp_core_q_split;
  auto t0 = std::chrono::steady_clock::now();
  PowerFlowResult r = MustSolve(c, o);
  double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  const std::string what =
      p.name + (p.qlim ? " (Q limits)" : "") + (mp_core_q_split ? " [MP-Core Q split]" : "");
  EXPECT_EQ(r.converged, s.converged) << what << ": " << r.message;
  if (!r.converged) return r;
  EXPECT_TRUE(r.message.empty()) << r.message;
  Comparison d = Compare(c, r, s);
  ExpectClose(d, what);
  std::printf(
      "[ PF       ] %-44s max|dVm| %.1e  max|dVa| %.1e deg  max|dQg| %.1e  "
      "iterations %d (MATPOWER %d)  limited %zu  %.2f ms\n",
      what.c_str(), d.dvm, d.dva, d.dqg, r.iterations, s.iterations, r.limited_gens.size(), ms);
  EXPECT_EQ(r.iterations, s.iterations) << what;
  if (p.qlim) {
    std::set<int> ours(r.limited_gens.begin(), r.limited_gens.end());
    EXPECT_EQ(ours, AtLimit(c, s.qg_mvar)) << what;
    for (int g : r.limited_gens) {
      const Gen& gen = c.gen[static_cast<std::size_t>(g)];
      const double q = r.qg[static_cast<std::size_t>(g)];
      EXPECT_TRUE(q == gen.qmax || q == gen.qmin) << what << " gen " << g;
    }
  } else {
    EXPECT_TRUE(r.limited_gens.empty());
  }
  if (expect_balance) {
    double flow_error = 0;
    EXPECT_LT(RecomputedMismatch(c, r, &flow_error), 1e-8) << what;
    EXPECT_LT(flow_error, 1e-6) << what;
  }
  // One norm before each iteration and one at the end, per Q-limit round.
  if (!p.qlim) {
    EXPECT_EQ(r.mismatch.size(), static_cast<std::size_t>(r.iterations) + 1);
  }
  EXPECT_GE(r.mismatch.size(), static_cast<std::size_t>(r.iterations) + 1);
  EXPECT_LT(r.max_mismatch, 1e-8);
  EXPECT_EQ(r.worst_bus, -1);
  EXPECT_TRUE(r.deenergized_buses.empty());
  return r;
}

// MATPOWER's solution files come from MATPOWER 8.1's default MP-Core path.
// Where its Q sharing equals pfsoln's (every case but case_ACTIVSg10k) the
// default solve must match them; everywhere the MP-Core mode must.
void CheckAgainstMatpower(const CaseParam& p) {
  const Case c = ReadMatpowerCase(p.name);
  const std::set<int> zero_range = ZeroRangeSharedBuses(c);
  if (zero_range.empty()) {
    SolveAndCompare(p, c, /*mp_core_q_split=*/false, /*expect_balance=*/true);
    return;
  }
  SolveAndCompare(p, c, /*mp_core_q_split=*/true, /*expect_balance=*/false);
  // The default (pfsoln) result: it balances every bus, and without Q limits
  // it has MATPOWER's voltages and Qg except at the generators of those
  // buses (and the case's first generator, which MP-Core's least squares
  // drags along). With Q limits the different Qg change which generators
  // hit their limits, so it is a different (balanced) solution.
  PowerFlowOptions o;
  o.enforce_q_limits = p.qlim;
  PowerFlowResult r = MustSolve(c, o);
  ASSERT_TRUE(r.converged) << r.message;
  double flow_error = 0;
  EXPECT_LT(RecomputedMismatch(c, r, &flow_error), 1e-8);
  EXPECT_LT(flow_error, 1e-6);
  for (int g : r.limited_gens) {
    const Gen& gen = c.gen[static_cast<std::size_t>(g)];
    EXPECT_TRUE(r.qg[static_cast<std::size_t>(g)] == gen.qmax ||
                r.qg[static_cast<std::size_t>(g)] == gen.qmin);
  }
  const auto s = grid::testing::ReadSolution(MatpowerDir() + "/solutions/" + p.name +
                                             (p.qlim ? "_qlim" : "") + ".json");
  Comparison d = Compare(c, r, s);
  int first_on = -1;
  for (std::size_t g = 0; g < c.gen.size() && first_on < 0; ++g) {
    if (c.gen[g].status > 0) first_on = static_cast<int>(g);
  }
  double dqg_elsewhere = 0;
  int differ = 0;
  for (std::size_t g = 0; g < c.gen.size(); ++g) {
    const double dq = std::fabs(r.qg[g] - s.qg_mvar[g]);
    if (zero_range.count(c.gen[g].bus) != 0 || static_cast<int>(g) == first_on) {
      differ += dq > 1e-4;
    } else {
      dqg_elsewhere = std::max(dqg_elsewhere, dq);
    }
  }
  std::printf(
      "[ PF       ] %-44s max|dVm| %.1e  max|dVa| %.1e deg  max|dQg| %.1e elsewhere, "
      "%d gens differ at the %zu zero-range buses  iterations %d  limited %zu\n",
      (p.name + (p.qlim ? " (Q limits)" : "") + " [pfsoln Q split]").c_str(), d.dvm, d.dva,
      dqg_elsewhere, differ, zero_range.size(), r.iterations, r.limited_gens.size());
  if (!p.qlim) {
    EXPECT_LE(d.dvm, 1e-6);
    EXPECT_LE(d.dva, 1e-4);
    EXPECT_LE(dqg_elsewhere, 1e-4);
    EXPECT_LE(d.dpg, 1e-4);
  }
}

class PowerFlowMatpowerTest : public ::testing::TestWithParam<CaseParam> {};
class LargePowerFlowTest : public ::testing::TestWithParam<CaseParam> {};

TEST_P(PowerFlowMatpowerTest, MatchesMatpower) { CheckAgainstMatpower(GetParam()); }
TEST_P(LargePowerFlowTest, MatchesMatpower) { CheckAgainstMatpower(GetParam()); }

std::vector<CaseParam> Params(const std::vector<std::string>& names) {
  std::vector<CaseParam> out;
  for (const std::string& n : names) {
    out.push_back({n, false});
    out.push_back({n, true});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Matpower, PowerFlowMatpowerTest,
                         ::testing::ValuesIn(Params({"case14", "case30", "case57", "case118",
                                                     "case300", "case1354pegase"})),
                         ParamName);
INSTANTIATE_TEST_SUITE_P(Large, LargePowerFlowTest,
                         ::testing::ValuesIn(Params({"case2383wp", "case_ACTIVSg2000",
                                                     "case9241pegase", "case_ACTIVSg10k"})),
                         ParamName);

// No MATPOWER solution is stored for case89pegase: the result must balance.
TEST(PowerFlowMatpower, Case89PegaseBalances) {
  const Case c = ReadMatpowerCase("case89pegase");
  for (bool qlim : {false, true}) {
    PowerFlowOptions o;
    o.enforce_q_limits = qlim;
    PowerFlowResult r = MustSolve(c, o);
    ASSERT_TRUE(r.converged) << r.message;
    double flow_error = 0;
    EXPECT_LT(RecomputedMismatch(c, r, &flow_error), 1e-8);
    EXPECT_LT(flow_error, 1e-6);
    std::printf("[ PF       ] case89pegase%s: iterations %d, limited %zu\n",
                qlim ? " (Q limits)" : "", r.iterations, r.limited_gens.size());
  }
}

TEST(PowerFlowMatpower, FlatStartReachesTheSameSolution) {
  const Case c = ReadMatpowerCase("case118");
  const auto s = grid::testing::ReadSolution(MatpowerDir() + "/solutions/case118.json");
  PowerFlowOptions o;
  o.flat_start = true;
  PowerFlowResult r = MustSolve(c, o);
  ASSERT_TRUE(r.converged) << r.message;
  ExpectClose(Compare(c, r, s), "case118 flat start");
  std::printf("[ PF       ] case118 flat start: %d iterations\n", r.iterations);
}

// ---------------------------------------------------------------------------
// PSS/E conversions (psse2mpc), with and without their DC lines.

void CheckPsse(const std::string& name, bool with_dclines) {
  Case c = grid::testing::ReadCaseJson(PsseDir() + "/" + name + ".json");
  if (with_dclines) c.dclines = ReadDcLines(PsseDir() + "/" + name + ".dcline.json");
  const auto s = grid::testing::ReadSolution(
      PsseDir() + "/" + name + (with_dclines ? ".with_dcline" : "") + ".solution.json");
  ASSERT_TRUE(s.converged);
  PowerFlowResult r = MustSolve(c);
  ASSERT_TRUE(r.converged) << r.message;
  Comparison d = Compare(c, r, s);
  const std::string what = name + (with_dclines ? " with DC lines" : "");
  ExpectClose(d, what);
  std::printf(
      "[ PF       ] %-26s max|dVm| %.1e  max|dVa| %.1e deg  max|dQg| %.1e  "
      "iterations %d (MATPOWER %d)\n",
      what.c_str(), d.dvm, d.dva, d.dqg, r.iterations, s.iterations);
  EXPECT_EQ(r.iterations, s.iterations);
  EXPECT_LT(RecomputedMismatch(c, r), 1e-8);
}

TEST(PowerFlowPsse, Case2) { CheckPsse("t_psse_case2", false); }
TEST(PowerFlowPsse, Case9) { CheckPsse("t_case9_save2psse", false); }
TEST(PowerFlowPsse, Case9WithDcLines) { CheckPsse("t_case9_save2psse", true); }
TEST(PowerFlowPsse, Case3WithDcLinesAndFourReferenceBuses) {
  CheckPsse("t_psse_case3", true);
  Case c = grid::testing::ReadCaseJson(PsseDir() + "/t_psse_case3.json");
  c.dclines = ReadDcLines(PsseDir() + "/t_psse_case3.dcline.json");
  PowerFlowResult r = MustSolve(c);
  EXPECT_EQ(r.ref_buses.size(), 4u);
  // The DC lines' terminals hold their voltages within their Q limits.
  for (std::size_t d = 0; d < c.dclines.size(); ++d) {
    EXPECT_NE(r.dcline_qf[d], 0);
    EXPECT_NE(r.dcline_qt[d], 0);
  }
}

// MATPOWER does not converge on t_psse_case3 without its DC lines (nor with
// 20-100 iterations): an answer, not an error, and no NaN.
TEST(PowerFlowPsse, Case3WithoutDcLinesDoesNotConverge) {
  const Case c = grid::testing::ReadCaseJson(PsseDir() + "/t_psse_case3.json");
  const auto s = grid::testing::ReadSolution(PsseDir() + "/t_psse_case3.solution.json");
  ASSERT_FALSE(s.converged);
  PowerFlowResult r = MustSolve(c);
  EXPECT_FALSE(r.converged);
  EXPECT_FALSE(r.message.empty());
  EXPECT_NE(r.message.find("did not converge"), std::string::npos) << r.message;
  EXPECT_GE(r.worst_bus, 0);
  EXPECT_GT(r.max_mismatch, 1e-8);
  EXPECT_TRUE(ResultIsFinite(r));
  std::printf(
      "[ PF       ] t_psse_case3 without DC lines: %s (MATPOWER: not converged, %d iterations)\n",
      r.message.c_str(), s.iterations);
}

// ---------------------------------------------------------------------------
// Edge cases on case14.

int BranchIndex(const Case& c, int from, int to) {
  for (std::size_t l = 0; l < c.branch.size(); ++l) {
    if (c.branch[l].from == from && c.branch[l].to == to) return static_cast<int>(l);
  }
  ADD_FAILURE() << "no branch " << from << "-" << to;
  return 0;
}

TEST(PowerFlowEdges, OverloadedCaseDivergesCleanly) {
  Case c = ReadMatpowerCase("case14");
  for (Bus& b : c.bus) {
    b.pd *= 10;
    b.qd *= 10;
  }
  PowerFlowResult r = MustSolve(c);
  EXPECT_FALSE(r.converged);
  EXPECT_NE(r.message.find("did not converge"), std::string::npos) << r.message;
  ASSERT_GE(r.worst_bus, 0);
  EXPECT_NE(r.message.find("at bus " +
                           std::to_string(c.bus[static_cast<std::size_t>(r.worst_bus)].number)),
            std::string::npos)
      << r.message;
  EXPECT_GT(r.max_mismatch, 1e-8);
  EXPECT_TRUE(ResultIsFinite(r));
  std::printf("[ PF       ] case14 x10 load: %s\n", r.message.c_str());
}

TEST(PowerFlowEdges, BranchOutOfService) {
  Case c = ReadMatpowerCase("case14");
  const std::size_t l = static_cast<std::size_t>(BranchIndex(c, 2, 4));
  c.branch[l].status = 0;
  PowerFlowResult r = MustSolve(c);
  ASSERT_TRUE(r.converged) << r.message;
  double flow_error = 0;
  EXPECT_LT(RecomputedMismatch(c, r, &flow_error), 1e-8);
  EXPECT_LT(flow_error, 1e-6);
  EXPECT_EQ(r.p_from[l], 0);
  EXPECT_EQ(r.q_from[l], 0);
  EXPECT_EQ(r.p_to[l], 0);
  EXPECT_EQ(r.q_to[l], 0);
}

TEST(PowerFlowEdges, PhaseShifter) {
  Case c = ReadMatpowerCase("case14");
  const std::size_t l = static_cast<std::size_t>(BranchIndex(c, 4, 7));
  ASSERT_NE(c.branch[l].tap, 0);  // a transformer
  c.branch[l].shift = 10;
  PowerFlowResult base = MustSolve(ReadMatpowerCase("case14"));
  PowerFlowResult r = MustSolve(c);
  ASSERT_TRUE(r.converged) << r.message;
  double flow_error = 0;
  EXPECT_LT(RecomputedMismatch(c, r, &flow_error), 1e-8);
  EXPECT_LT(flow_error, 1e-6);
  // The shift moves power through the transformer; every branch's loss is
  // its series r |I|^2, never negative.
  EXPECT_GT(std::fabs(r.p_from[l] - base.p_from[l]), 10);
  std::map<int, std::size_t> index;
  for (std::size_t b = 0; b < c.bus.size(); ++b) index[c.bus[b].number] = b;
  for (std::size_t k = 0; k < c.branch.size(); ++k) {
    const Branch& br = c.branch[k];
    std::size_t f = index[br.from], t = index[br.to];
    Complex is = SeriesCurrent(br, std::polar(r.vm[f], r.va_deg[f] * kDeg),
                               std::polar(r.vm[t], r.va_deg[t] * kDeg));
    double loss = br.r * std::norm(is) * c.base_mva;
    EXPECT_NEAR(r.p_from[k] + r.p_to[k], loss, 1e-9) << "branch " << k;
    EXPECT_GE(r.p_from[k] + r.p_to[k], -1e-12) << "branch " << k;
  }
}

TEST(PowerFlowEdges, IslandWithoutGenerationIsDeenergized) {
  Case c = ReadMatpowerCase("case14");
  c.branch[static_cast<std::size_t>(BranchIndex(c, 9, 14))].status = 0;
  c.branch[static_cast<std::size_t>(BranchIndex(c, 13, 14))].status = 0;
  PowerFlowResult r = MustSolve(c);
  ASSERT_TRUE(r.converged) << r.message;
  EXPECT_EQ(r.deenergized_buses, std::vector<int>{13});
  EXPECT_EQ(r.vm[13], 0);
  EXPECT_EQ(r.va_deg[13], 0);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings[0].find("14"), std::string::npos) << r.warnings[0];
  EXPECT_LT(RecomputedMismatch(c, r), 1e-8);
}

TEST(PowerFlowEdges, IslandWithGeneratorsButNoReferenceIsRefused) {
  Case c = ReadMatpowerCase("case14");
  c.branch[static_cast<std::size_t>(BranchIndex(c, 5, 6))].status = 0;
  c.branch[static_cast<std::size_t>(BranchIndex(c, 10, 11))].status = 0;
  c.branch[static_cast<std::size_t>(BranchIndex(c, 13, 14))].status = 0;
  PowerFlowResult r = MustSolve(c);
  EXPECT_FALSE(r.converged);
  EXPECT_NE(r.message.find("island of 4 buses (6, 11, 12, 13) has no reference bus"),
            std::string::npos)
      << r.message;
  EXPECT_TRUE(ResultIsFinite(r));
  EXPECT_TRUE(std::all_of(r.vm.begin(), r.vm.end(), [](double v) { return v == 0; }));
}

TEST(PowerFlowEdges, IsolatedBusIsSkipped) {
  Case c = ReadMatpowerCase("case14");
  c.bus[13].type = kIsolated;  // bus 14; its branches go with it, as ext2int
  PowerFlowResult r = MustSolve(c);
  ASSERT_TRUE(r.converged) << r.message;
  EXPECT_EQ(r.vm[13], 0);
  EXPECT_TRUE(r.deenergized_buses.empty());
  EXPECT_EQ(r.p_from[static_cast<std::size_t>(BranchIndex(c, 9, 14))], 0);
  EXPECT_LT(RecomputedMismatch(c, r), 1e-8);
}

TEST(PowerFlowEdges, DcPowerFlow) {
  const Case c = ReadMatpowerCase("case14");
  PowerFlowResult ac = MustSolve(c);
  PowerFlowOptions o;
  o.dc = true;
  PowerFlowResult dc = MustSolve(c, o);
  ASSERT_TRUE(dc.converged) << dc.message;
  EXPECT_EQ(dc.iterations, 1);
  double worst = 0;
  for (std::size_t b = 0; b < c.bus.size(); ++b) {
    EXPECT_EQ(dc.vm[b], 1);
    worst = std::max(worst, std::fabs(dc.va_deg[b] - ac.va_deg[b]));
  }
  EXPECT_LT(worst, 3.0);
  double injections = 0;
  for (std::size_t g = 0; g < c.gen.size(); ++g) injections += dc.pg[g];
  for (const Bus& b : c.bus) injections -= b.pd + b.gs;
  EXPECT_NEAR(injections, 0, 1e-9);
  for (std::size_t l = 0; l < c.branch.size(); ++l) {
    EXPECT_EQ(dc.p_from[l], -dc.p_to[l]);
    EXPECT_EQ(dc.q_from[l], 0);
  }
  EXPECT_LT(dc.max_mismatch, 1e-10);
  std::printf("[ PF       ] case14 DC: max |Va(DC) - Va(AC)| %.2f deg, slack %.2f MW (AC %.2f)\n",
              worst, dc.pg[0], ac.pg[0]);
}

TEST(PowerFlowEdges, SolverIsReusableAndThreadSafe) {
  PowerFlowSolver solver;
  std::string error;
  ASSERT_TRUE(solver.Prepare(ReadMatpowerCase("case118"), &error)) << error;
  const auto s = grid::testing::ReadSolution(MatpowerDir() + "/solutions/case118_qlim.json");
  PowerFlowOptions o;
  o.enforce_q_limits = true;
  std::vector<PowerFlowResult> results(4);
  std::vector<std::thread> threads;
  for (std::size_t k = 0; k < results.size(); ++k) {
    threads.emplace_back([&, k] {
      std::string e;
      for (int n = 0; n < 5; ++n) EXPECT_TRUE(solver.Solve(o, &results[k], &e)) << e;
    });
  }
  for (std::thread& t : threads) t.join();
  for (const PowerFlowResult& r : results) {
    ASSERT_TRUE(r.converged);
    ExpectClose(Compare(solver.network(), r, s), "case118 (threads)");
    EXPECT_EQ(r.vm, results[0].vm);
  }
}

TEST(PowerFlowEdges, BadInput) {
  PowerFlowResult r;
  std::string error;
  Case c = ReadMatpowerCase("case14");
  c.branch[3].to = 99;
  EXPECT_FALSE(SolvePowerFlow(c, {}, &r, &error));
  EXPECT_NE(error.find("99"), std::string::npos) << error;
  EXPECT_NE(error.find("branch 4"), std::string::npos) << error;

  c = ReadMatpowerCase("case14");
  c.gen[1].bus = 77;
  EXPECT_FALSE(SolvePowerFlow(c, {}, &r, &error));
  EXPECT_NE(error.find("77"), std::string::npos) << error;

  c = ReadMatpowerCase("case14");
  c.bus[5].number = 3;
  EXPECT_FALSE(SolvePowerFlow(c, {}, &r, &error));
  EXPECT_NE(error.find("duplicate bus number 3"), std::string::npos) << error;

  c = ReadMatpowerCase("case14");
  c.branch[0].r = 0;
  c.branch[0].x = 0;
  EXPECT_FALSE(SolvePowerFlow(c, {}, &r, &error));
  EXPECT_NE(error.find("zero impedance"), std::string::npos) << error;
  c.branch[0].status = 0;  // out of service: fine
  EXPECT_TRUE(SolvePowerFlow(c, {}, &r, &error)) << error;

  c = ReadMatpowerCase("case14");
  c.branch[0].x = 0;  // r > 0: fine for AC, not for DC
  EXPECT_TRUE(SolvePowerFlow(c, {}, &r, &error)) << error;
  PowerFlowOptions dc;
  dc.dc = true;
  EXPECT_FALSE(SolvePowerFlow(c, dc, &r, &error));
  EXPECT_NE(error.find("reactance"), std::string::npos) << error;

  c = ReadMatpowerCase("case14");
  for (Gen& g : c.gen) g.status = 0;  // nothing can be solved: an answer, not an error
  EXPECT_TRUE(SolvePowerFlow(c, {}, &r, &error)) << error;
  EXPECT_FALSE(r.converged);
  EXPECT_FALSE(r.message.empty());
  EXPECT_EQ(r.deenergized_buses.size(), c.bus.size());

  EXPECT_FALSE(SolvePowerFlow(Case(), {}, &r, &error));
  EXPECT_NE(error.find("no buses"), std::string::npos) << error;

  PowerFlowSolver unprepared;
  EXPECT_FALSE(unprepared.Solve({}, &r, &error));
}

}  // namespace
}  // namespace grid
