// The AC power flow (grid::PowerFlowSolver) on MATPOWER cases of 118 to
// 10,000 buses, one thread, the network in memory.
//
// What one benchmark iteration times: PowerFlowSolver::Solve with MATPOWER's
// defaults (Newton, tolerance 1e-8, case start, no Q limits), i.e. the whole
// AC power flow: topology and islands, Ybus in CSC, the Jacobian pattern and
// KLU's symbolic analysis, every Newton iteration (mismatch, Jacobian, KLU
// factor/refactor + solve), pfsoln (generator Q/P) and the branch flows.
// Not timed: reading the JSON and PowerFlowSolver::Prepare (the checks and
// bus-number maps, done once per network). BM_SolvePowerFlow times the
// one-call SolvePowerFlow, which adds Prepare (a copy of the case).
//
//   powerflow_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Reference: lightsim2grid (KLU) needs 0.17 ms for case118 and 36 ms for
// case9241pegase.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "packs/electrical/src/powerflow.h"
#include "packs/electrical/tests/case_json.h"

namespace {

grid::Case Load(const std::string& name) {
  return grid::testing::ReadCaseJson(grid::testing::TestdataDir() + "/matpower/" + name + ".json");
}

void BM_PowerFlow(benchmark::State& state, const std::string& name, bool qlim) {
  grid::PowerFlowSolver solver;
  std::string error;
  if (!solver.Prepare(Load(name), &error)) {
    state.SkipWithError(error.c_str());
    return;
  }
  grid::PowerFlowOptions o;
  o.enforce_q_limits = qlim;
  grid::PowerFlowResult r;
  for (auto _ : state) {
    if (!solver.Solve(o, &r, &error) || !r.converged) {
      state.SkipWithError(("not solved: " + error + r.message).c_str());
      break;
    }
    benchmark::DoNotOptimize(r.vm.data());
    benchmark::ClobberMemory();
  }
  state.counters["newton_iterations"] = r.iterations;
  state.counters["factorizations"] = r.timing.factorizations;
  state.counters["buses"] = static_cast<double>(solver.network().bus.size());
}

void BM_SolvePowerFlow(benchmark::State& state, const std::string& name) {
  const grid::Case c = Load(name);
  grid::PowerFlowResult r;
  std::string error;
  for (auto _ : state) {
    if (!grid::SolvePowerFlow(c, {}, &r, &error) || !r.converged) {
      state.SkipWithError(("not solved: " + error + r.message).c_str());
      break;
    }
    benchmark::DoNotOptimize(r.vm.data());
  }
}

BENCHMARK_CAPTURE(BM_PowerFlow, case118, std::string("case118"), false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PowerFlow, case2383wp, std::string("case2383wp"), false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PowerFlow, case9241pegase, std::string("case9241pegase"), false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PowerFlow, case_ACTIVSg10k, std::string("case_ACTIVSg10k"), false)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_PowerFlow, case9241pegase_qlim, std::string("case9241pegase"), true)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SolvePowerFlow, case118, std::string("case118"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SolvePowerFlow, case9241pegase, std::string("case9241pegase"))
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
