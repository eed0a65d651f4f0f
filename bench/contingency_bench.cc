// N-1 contingency analysis (grid::RunContingencies): every in-service branch
// and generator out alone, each solved by the AC power flow from the base
// solution, violations collected. The network in memory; threads as named.
//
// One iteration times RunContingencies whole: Prepare, the base case, the
// bridges, and every outage's power flow.
//
//   contingency_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//   contingency_bench --benchmark_filter=case9241 --benchmark_min_time=1x   # minutes
//
// Reference: lightsim2grid (KLU, one core) reports 0.094 ms per contingency
// on case118 and 20 ms on case9241pegase.
#include <benchmark/benchmark.h>

#include <string>

#include "packs/electrical/src/contingency.h"
#include "packs/electrical/tests/case_json.h"

namespace {

void BM_NMinus1(benchmark::State& state, const std::string& name) {
  const grid::Case c =
      grid::testing::ReadCaseJson(grid::testing::TestdataDir() + "/matpower/" + name + ".json");
  grid::ContingencyOptions o;
  o.threads = static_cast<int>(state.range(0));
  grid::ContingencyResult r;
  std::string error;
  for (auto _ : state) {
    if (!grid::RunContingencies(c, o, &r, &error)) {
      state.SkipWithError(error.c_str());
      break;
    }
    benchmark::DoNotOptimize(r.outages.data());
  }
  int converged = 0, islanding = 0;
  for (const grid::OutageResult& out : r.outages) {
    converged += out.converged;
    islanding += out.islanding;
  }
  state.counters["outages"] = static_cast<double>(r.outages.size());
  state.counters["converged"] = converged;
  state.counters["islanding"] = islanding;
  // Seconds per outage (wall time, the whole run / outages).
  state.counters["per_outage"] = benchmark::Counter(
      static_cast<double>(r.outages.size()),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

BENCHMARK_CAPTURE(BM_NMinus1, case118, std::string("case118"))->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_NMinus1, case2383wp, std::string("case2383wp"))
    ->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_NMinus1, case9241pegase, std::string("case9241pegase"))
    ->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
