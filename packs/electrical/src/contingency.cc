#include "packs/electrical/src/contingency.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <unordered_map>
#include <utility>

namespace grid {
namespace {

using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

bool BusIndex(const Case& c, std::unordered_map<int, int>* index) {
  index->reserve(c.bus.size());
  for (std::size_t b = 0; b < c.bus.size(); ++b) {
    if (!index->emplace(c.bus[b].number, static_cast<int>(b)).second) return false;
  }
  return true;
}

// One entry of the whole outage list.
struct Planned {
  OutageResult::Type type;
  int index;
};

std::vector<Planned> OutageList(const Case& c, const ContingencyOptions& o) {
  std::vector<Planned> list;
  if (o.branches) {
    for (std::size_t l = 0; l < c.branch.size(); ++l) {
      if (c.branch[l].status != 0) list.push_back({OutageResult::kBranch, static_cast<int>(l)});
    }
  }
  if (o.generators) {
    for (std::size_t g = 0; g < c.gen.size(); ++g) {
      if (c.gen[g].status > 0) list.push_back({OutageResult::kGenerator, static_cast<int>(g)});
    }
  }
  return list;
}

// Solves one outage from the base solution and fills `r`.
void SolveOne(const PowerFlowSolver& solver, const ContingencyOptions& o, const PowerFlowResult& base,
              const std::vector<char>& bridges, const Planned& p, OutageResult* r) {
  const Case& c = solver.network();
  r->type = p.type;
  r->index = p.index;
  PowerFlowOptions po = o.pf;
  po.flat_start = false;
  po.start_vm = &base.vm;
  po.start_va_deg = &base.va_deg;
  if (p.type == OutageResult::kBranch) {
    const Branch& br = c.branch[static_cast<std::size_t>(p.index)];
    r->from = br.from;
    r->to = br.to;
    r->islanding = bridges[static_cast<std::size_t>(p.index)] != 0;
    po.outage_branch = p.index;
  } else {
    r->from = r->to = c.gen[static_cast<std::size_t>(p.index)].bus;
    po.outage_gen = p.index;
  }
  PowerFlowResult pf;
  std::string error;
  if (!solver.Solve(po, &pf, &error)) {
    r->converged = false;
    r->message = error;
    return;
  }
  r->converged = pf.converged;
  r->iterations = pf.iterations;
  r->message = pf.message;
  // Buses this outage de-energized: energized in the base case, not now.
  for (int b : pf.deenergized_buses) {
    if (base.vm[static_cast<std::size_t>(b)] > 0) {
      ++r->deenergized_buses;
      r->lost_load_mw += c.bus[static_cast<std::size_t>(b)].pd;
    }
  }
  if (pf.converged) {
    r->violations = Violations(c, pf, p.type == OutageResult::kBranch ? p.index : -1);
    for (double vm : pf.vm) {
      if (vm > 0 && (r->min_vm == 0 || vm < r->min_vm)) r->min_vm = vm;
    }
    for (std::size_t l = 0; l < c.branch.size(); ++l) {
      const Branch& br = c.branch[l];
      if (br.status == 0 || static_cast<int>(l) == po.outage_branch || !(br.rate_a > 0)) continue;
      const double s = std::max(std::hypot(pf.p_from[l], pf.q_from[l]), std::hypot(pf.p_to[l], pf.q_to[l]));
      r->max_loading_pct = std::max(r->max_loading_pct, 100 * s / br.rate_a);
    }
  }
  if (o.keep_solutions) {
    r->vm = std::move(pf.vm);
    r->va_deg = std::move(pf.va_deg);
  }
}

}  // namespace

std::vector<char> Bridges(const Case& c) {
  std::vector<char> bridge(c.branch.size(), 0);
  std::unordered_map<int, int> index;
  BusIndex(c, &index);
  const std::size_t n = c.bus.size();
  // Adjacency: (neighbour, branch) per bus, over in-service branches.
  std::vector<std::vector<std::pair<int, int>>> adj(n);
  for (std::size_t l = 0; l < c.branch.size(); ++l) {
    const Branch& br = c.branch[l];
    if (br.status == 0) continue;
    auto f = index.find(br.from), t = index.find(br.to);
    if (f == index.end() || t == index.end() || f->second == t->second) continue;
    if (c.bus[static_cast<std::size_t>(f->second)].type == kIsolated ||
        c.bus[static_cast<std::size_t>(t->second)].type == kIsolated) {
      continue;
    }
    adj[static_cast<std::size_t>(f->second)].push_back({t->second, static_cast<int>(l)});
    adj[static_cast<std::size_t>(t->second)].push_back({f->second, static_cast<int>(l)});
  }
  // Tarjan's bridges, iteratively (a 10,000-bus radial feeder would
  // overflow a recursive DFS). An edge is skipped by its id, not by its
  // end, so parallel branches keep each other from being bridges.
  std::vector<int> disc(n, -1), low(n, 0);
  struct Frame {
    int bus, via, next;
  };
  std::vector<Frame> stack;
  int time = 0;
  for (std::size_t root = 0; root < n; ++root) {
    if (disc[root] >= 0) continue;
    disc[root] = low[root] = time++;
    stack.push_back({static_cast<int>(root), -1, 0});
    while (!stack.empty()) {
      Frame& f = stack.back();
      const auto& edges = adj[static_cast<std::size_t>(f.bus)];
      if (f.next < static_cast<int>(edges.size())) {
        auto [to, l] = edges[static_cast<std::size_t>(f.next++)];
        if (l == f.via) continue;
        if (disc[static_cast<std::size_t>(to)] < 0) {
          disc[static_cast<std::size_t>(to)] = low[static_cast<std::size_t>(to)] = time++;
          stack.push_back({to, l, 0});
        } else {
          low[static_cast<std::size_t>(f.bus)] =
              std::min(low[static_cast<std::size_t>(f.bus)], disc[static_cast<std::size_t>(to)]);
        }
        continue;
      }
      const Frame done = f;
      stack.pop_back();
      if (stack.empty()) break;
      int parent = stack.back().bus;
      low[static_cast<std::size_t>(parent)] =
          std::min(low[static_cast<std::size_t>(parent)], low[static_cast<std::size_t>(done.bus)]);
      if (low[static_cast<std::size_t>(done.bus)] > disc[static_cast<std::size_t>(parent)]) {
        bridge[static_cast<std::size_t>(done.via)] = 1;
      }
    }
  }
  return bridge;
}

std::vector<Violation> Violations(const Case& c, const PowerFlowResult& r, int outage_branch) {
  std::vector<Violation> v;
  constexpr double kTol = 1e-6;
  for (std::size_t b = 0; b < c.bus.size() && b < r.vm.size(); ++b) {
    const double vm = r.vm[b];
    if (!(vm > 0)) continue;  // de-energized
    const Bus& bus = c.bus[b];
    if (vm < bus.vmin - kTol) v.push_back({Violation::kVoltage, static_cast<int>(b), vm, bus.vmin});
    if (vm > bus.vmax + kTol) v.push_back({Violation::kVoltage, static_cast<int>(b), vm, bus.vmax});
  }
  for (std::size_t l = 0; l < c.branch.size() && l < r.p_from.size(); ++l) {
    const Branch& br = c.branch[l];
    if (br.status == 0 || static_cast<int>(l) == outage_branch || !(br.rate_a > 0)) continue;
    const double s = std::max(std::hypot(r.p_from[l], r.q_from[l]), std::hypot(r.p_to[l], r.q_to[l]));
    if (s > br.rate_a + kTol) v.push_back({Violation::kThermal, static_cast<int>(l), s, br.rate_a});
  }
  return v;
}

bool RunContingencies(const Case& c, const ContingencyOptions& o, ContingencyResult* out,
                      std::string* error) {
  if (o.part_count < 1 || o.part_index < 0 || o.part_index >= o.part_count) {
    *error = "part " + std::to_string(o.part_index) + " of " + std::to_string(o.part_count) +
             " does not exist: parts are numbered 0 to count - 1";
    return false;
  }
  if (o.pf.dc) {
    *error = "an N-1 runs the AC power flow; dc is not supported here";
    return false;
  }
  *out = ContingencyResult();
  PowerFlowSolver solver;
  if (!solver.Prepare(c, error)) return false;
  auto t0 = Clock::now();
  PowerFlowOptions base_options = o.pf;
  base_options.outage_branch = base_options.outage_gen = -1;
  base_options.start_vm = base_options.start_va_deg = nullptr;
  if (!solver.Solve(base_options, &out->base, error)) return false;
  out->timing.base_ms = MsSince(t0);
  if (!out->base.converged) {
    *error = "the base case does not converge (" + out->base.message + "); an N-1 needs a solved base case";
    return false;
  }
  out->base_violations = Violations(solver.network(), out->base);

  const std::vector<Planned> all = OutageList(solver.network(), o);
  const std::vector<char> bridges = Bridges(solver.network());
  const std::size_t total = all.size();
  const std::size_t begin = total * static_cast<std::size_t>(o.part_index) / static_cast<std::size_t>(o.part_count);
  const std::size_t end =
      total * static_cast<std::size_t>(o.part_index + 1) / static_cast<std::size_t>(o.part_count);
  out->total_outages = static_cast<int>(total);
  out->first_outage = static_cast<int>(begin);
  out->outages.resize(end - begin);

  auto t1 = Clock::now();
  const std::size_t threads =
      std::clamp<std::size_t>(static_cast<std::size_t>(std::max(o.threads, 1)), 1, std::max<std::size_t>(end - begin, 1));
  auto work = [&](std::size_t t) {
    // Interleaved, so both threads get a share of the slow outages.
    for (std::size_t k = begin + t; k < end; k += threads) {
      SolveOne(solver, o, out->base, bridges, all[k], &out->outages[k - begin]);
    }
  };
  if (threads == 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
    work(0);
    for (std::thread& th : pool) th.join();
  }
  out->timing.outages_ms = MsSince(t1);
  return true;
}

}  // namespace grid
