// Test support: reads a case in the JSON layout of ../shared/testdata/matpower
// (keys baseMVA, bus, gen, branch; MATPOWER's column order; 1e10 standing
// for an infinite QMAX/QMIN) into a grid::Case, and the solution files of
// ../shared/testdata (matpower/solutions/*.json, psse/*.solution.json).
#pragma once

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "packs/electrical/src/case.h"

namespace grid::testing {

// ../shared/testdata, found from the source tree (BVER_SHARED_DIR overrides).
inline std::string TestdataDir() {
  if (const char* d = std::getenv("BVER_SHARED_DIR")) return std::string(d) + "/testdata";
  return std::string(BVER_SOURCE_DIR) + "/../shared/testdata";
}

inline nlohmann::json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return nlohmann::json::parse(ss.str());
}

inline double Limit(double v) {
  if (v >= 1e10) return kInf;
  if (v <= -1e10) return -kInf;
  return v;
}

inline Case CaseFromJson(const nlohmann::json& j) {
  Case c;
  c.base_mva = j.at("baseMVA").get<double>();
  for (const auto& r : j.at("bus")) {
    Bus b;
    b.number = r[0].get<int>();
    b.type = r[1].get<int>();
    b.pd = r[2];
    b.qd = r[3];
    b.gs = r[4];
    b.bs = r[5];
    b.area = r[6].get<int>();
    b.vm = r[7];
    b.va = r[8];
    b.base_kv = r[9];
    b.zone = r[10].get<int>();
    b.vmax = r[11];
    b.vmin = r[12];
    c.bus.push_back(b);
  }
  for (const auto& r : j.at("gen")) {
    Gen g;
    g.bus = r[0].get<int>();
    g.pg = r[1];
    g.qg = r[2];
    g.qmax = Limit(r[3]);
    g.qmin = Limit(r[4]);
    g.vg = r[5];
    g.mbase = r[6];
    g.status = static_cast<int>(r[7].get<double>());
    g.pmax = Limit(r[8]);
    g.pmin = Limit(r[9]);
    for (std::size_t k = 10; k < r.size(); ++k) g.extra.push_back(r[k].get<double>());
    c.gen.push_back(g);
  }
  for (const auto& r : j.at("branch")) {
    Branch br;
    br.from = r[0].get<int>();
    br.to = r[1].get<int>();
    br.r = r[2];
    br.x = r[3];
    br.b = r[4];
    br.rate_a = r[5];
    br.rate_b = r[6];
    br.rate_c = r[7];
    br.tap = r[8];
    br.shift = r[9];
    br.status = static_cast<int>(r[10].get<double>());
    br.angmin = r[11];
    br.angmax = r[12];
    c.branch.push_back(br);
  }
  return c;
}

inline Case ReadCaseJson(const std::string& path) { return CaseFromJson(ReadJsonFile(path)); }

// A MATPOWER solution: per bus (case order) number, Vm p.u., Va degrees.
struct Solution {
  bool converged = false;
  int iterations = 0;
  std::vector<int> bus;
  std::vector<double> vm, va_deg;
  std::vector<double> pg_mw, qg_mvar;  // per gen, case order (may be empty)
};

// Reads either layout: matpower/solutions (bus, vm, va_deg, pg_mw, qg_mvar
// arrays) or psse/*.solution.json (bus: [[BUS_I, VM, VA]], gen: [[bus,
// status, PG, QG]]).
inline Solution ReadSolution(const std::string& path) {
  nlohmann::json j = ReadJsonFile(path);
  Solution s;
  s.converged = j.value("converged", false);
  s.iterations = j.value("iterations", 0);
  if (j.contains("vm")) {
    s.bus = j.at("bus").get<std::vector<int>>();
    s.vm = j.at("vm").get<std::vector<double>>();
    s.va_deg = j.at("va_deg").get<std::vector<double>>();
    if (j.contains("pg_mw")) s.pg_mw = j.at("pg_mw").get<std::vector<double>>();
    if (j.contains("qg_mvar")) s.qg_mvar = j.at("qg_mvar").get<std::vector<double>>();
  } else if (j.contains("bus")) {
    for (const auto& r : j.at("bus")) {
      s.bus.push_back(r[0].get<int>());
      s.vm.push_back(r[1].get<double>());
      s.va_deg.push_back(r[2].get<double>());
    }
    if (j.contains("gen")) {
      for (const auto& r : j.at("gen")) {
        s.pg_mw.push_back(r[2].get<double>());
        s.qg_mvar.push_back(r[3].get<double>());
      }
    }
  }
  return s;
}

}  // namespace grid::testing
