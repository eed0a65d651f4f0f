// A native plugin that does nothing: the capability of the job benchmark
// (bench/jobs_bench.cc), so it measures the job engine, not a plugin.
#include "bver/plugin/plugin.hpp"

namespace {

nlohmann::json Noop(const nlohmann::json&) { return {{"metrics", nlohmann::json::object()}}; }

}  // namespace

BVER_PLUGIN("bench-noop", "1.0.0", Noop)
