// Test support: whether two cases carry the same numbers, field by field
// (== on doubles, so -0 equals 0 as MATPOWER reads it; Inf equals Inf).
// Names, ids and the individual loads/shunts are not compared: an export
// carries the bus totals. Answers "" when equal, else the first difference.
#pragma once

#include <string>
#include <tuple>

#include "packs/electrical/src/case.h"

namespace grid::testing {

inline std::string FirstDifference(const Case& a, const Case& b) {
  auto num = [](const std::string& where, double x, double y) -> std::string {
    if (x == y || (x != x && y != y)) return "";
    return where + ": " + std::to_string(x) + " vs " + std::to_string(y);
  };
  std::string d;
  if (!(d = num("baseMVA", a.base_mva, b.base_mva)).empty()) return d;
  if (a.bus.size() != b.bus.size()) return "bus count";
  if (a.gen.size() != b.gen.size()) return "gen count";
  if (a.branch.size() != b.branch.size()) return "branch count";
  if (a.dclines.size() != b.dclines.size()) return "dcline count";
  for (std::size_t i = 0; i < a.bus.size(); ++i) {
    const Bus &x = a.bus[i], &y = b.bus[i];
    std::string w = "bus " + std::to_string(x.number) + " ";
    if (x.number != y.number || x.type != y.type || x.area != y.area || x.zone != y.zone) return w + "ids";
    for (auto [n, p, q] : {std::tuple{"pd", x.pd, y.pd}, {"qd", x.qd, y.qd}, {"gs", x.gs, y.gs}, {"bs", x.bs, y.bs},
                           {"vm", x.vm, y.vm}, {"va", x.va, y.va}, {"base_kv", x.base_kv, y.base_kv},
                           {"vmax", x.vmax, y.vmax}, {"vmin", x.vmin, y.vmin}}) {
      if (!(d = num(w + n, p, q)).empty()) return d;
    }
  }
  for (std::size_t i = 0; i < a.gen.size(); ++i) {
    const Gen &x = a.gen[i], &y = b.gen[i];
    std::string w = "gen " + std::to_string(i) + " ";
    if (x.bus != y.bus || x.status != y.status) return w + "bus/status";
    for (auto [n, p, q] : {std::tuple{"pg", x.pg, y.pg}, {"qg", x.qg, y.qg}, {"qmax", x.qmax, y.qmax},
                           {"qmin", x.qmin, y.qmin}, {"vg", x.vg, y.vg}, {"mbase", x.mbase, y.mbase},
                           {"pmax", x.pmax, y.pmax}, {"pmin", x.pmin, y.pmin}}) {
      if (!(d = num(w + n, p, q)).empty()) return d;
    }
    if (x.extra.size() != y.extra.size()) return w + "extra columns";
    for (std::size_t k = 0; k < x.extra.size(); ++k) {
      if (!(d = num(w + "extra", x.extra[k], y.extra[k])).empty()) return d;
    }
  }
  for (std::size_t i = 0; i < a.branch.size(); ++i) {
    const Branch &x = a.branch[i], &y = b.branch[i];
    std::string w = "branch " + std::to_string(i) + " ";
    if (x.from != y.from || x.to != y.to || x.status != y.status) return w + "ends/status";
    for (auto [n, p, q] : {std::tuple{"r", x.r, y.r}, {"x", x.x, y.x}, {"b", x.b, y.b}, {"rate_a", x.rate_a, y.rate_a},
                           {"rate_b", x.rate_b, y.rate_b}, {"rate_c", x.rate_c, y.rate_c}, {"tap", x.tap, y.tap},
                           {"shift", x.shift, y.shift}, {"angmin", x.angmin, y.angmin}, {"angmax", x.angmax, y.angmax}}) {
      if (!(d = num(w + n, p, q)).empty()) return d;
    }
  }
  for (std::size_t i = 0; i < a.dclines.size(); ++i) {
    const DcLine &x = a.dclines[i], &y = b.dclines[i];
    std::string w = "dcline " + std::to_string(i) + " ";
    if (x.from != y.from || x.to != y.to || x.status != y.status) return w + "ends/status";
    for (auto [n, p, q] : {std::tuple{"pf", x.pf, y.pf}, {"pt", x.pt, y.pt}, {"qf", x.qf, y.qf}, {"qt", x.qt, y.qt},
                           {"vf", x.vf, y.vf}, {"vt", x.vt, y.vt}, {"pmin", x.pmin, y.pmin}, {"pmax", x.pmax, y.pmax},
                           {"qminf", x.qminf, y.qminf}, {"qmaxf", x.qmaxf, y.qmaxf}, {"qmint", x.qmint, y.qmint},
                           {"qmaxt", x.qmaxt, y.qmaxt}, {"loss0", x.loss0, y.loss0}, {"loss1", x.loss1, y.loss1}}) {
      if (!(d = num(w + n, p, q)).empty()) return d;
    }
  }
  return "";
}

}  // namespace grid::testing
