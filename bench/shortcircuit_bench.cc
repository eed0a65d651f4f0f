// The three-phase short circuit (grid::ComputeShortCircuit): Ik'' at every
// bus by the IEC 60909 equivalent voltage source. The network in memory, one
// thread. One iteration is the whole computation: Y, its complex LU and every
// diagonal entry of its inverse.
//
//   shortcircuit_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// The counters ybus_ms / factor_ms / diagonal_ms are the library's own split
// of the same runs.
#include <benchmark/benchmark.h>

#include <string>

#include "packs/electrical/src/shortcircuit.h"
#include "packs/electrical/tests/case_json.h"

namespace {

void BM_ShortCircuit(benchmark::State& state, const std::string& name) {
  const grid::Case c =
      grid::testing::ReadCaseJson(grid::testing::TestdataDir() + "/matpower/" + name + ".json");
  grid::ShortCircuitResult r;
  std::string error;
  double ybus = 0, factor = 0, diagonal = 0;
  for (auto _ : state) {
    if (!grid::ComputeShortCircuit(c, grid::ShortCircuitOptions(), &r, &error)) {
      state.SkipWithError(error.c_str());
      break;
    }
    benchmark::DoNotOptimize(r.ik_ka.data());
    ybus += r.timing.ybus_ms;
    factor += r.timing.factor_ms;
    diagonal += r.timing.diagonal_ms;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["buses"] = static_cast<double>(c.bus.size());
  state.counters["ybus_ms"] = ybus / n;
  state.counters["factor_ms"] = factor / n;
  state.counters["diagonal_ms"] = diagonal / n;
}

BENCHMARK_CAPTURE(BM_ShortCircuit, case118, std::string("case118"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ShortCircuit, case2383wp, std::string("case2383wp"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ShortCircuit, case9241pegase, std::string("case9241pegase"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ShortCircuit, case_ACTIVSg10k, std::string("case_ACTIVSg10k"))->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
