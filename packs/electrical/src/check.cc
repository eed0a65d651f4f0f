#include "packs/electrical/src/check.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <unordered_map>

namespace grid {
namespace {

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

// The pointer of element k of a list, or the label when the case was not
// read from references.
std::string At(const std::vector<std::string>& list, std::size_t k, const std::string& label) {
  return k < list.size() && !list[k].empty() ? list[k] : label;
}

std::string Attr(const std::string& pointer, const char* field) {
  return pointer.rfind("bver://", 0) == 0 ? pointer + "@" + field : pointer + " (" + field + ")";
}

// Findings with a cap per rule: past it, one summary finding per rule says
// how many more there were and names a few.
class Collector {
 public:
  explicit Collector(const CheckOptions& o, CheckReport* r) : o_(o), r_(r) {}

  void Add(const char* severity, const char* rule, std::string pointer, std::string message) {
    Count(severity);
    Rule& rule_state = rules_[rule];
    rule_state.severity = severity;
    if (rule_state.emitted < o_.max_findings_per_rule) {
      ++rule_state.emitted;
      r_->findings.push_back({severity, rule, std::move(pointer), std::move(message)});
      return;
    }
    if (rule_state.more_pointers.size() < 5) rule_state.more_pointers.push_back(pointer);
    ++rule_state.more;
  }

  void Finish() {
    for (auto& [rule, s] : rules_) {
      if (s.more == 0) continue;
      std::string names;
      for (const std::string& p : s.more_pointers) names += (names.empty() ? "" : ", ") + p;
      r_->findings.push_back({s.severity, rule, s.more_pointers.front(),
                              std::to_string(s.more) + " more finding(s) of rule " + rule + " past the first " +
                                  std::to_string(o_.max_findings_per_rule) + " (e.g. " + names +
                                  "); raise max_findings_per_rule to list them all"});
    }
    r_->passed = r_->summary.errors == 0;
  }

 private:
  struct Rule {
    std::string severity;
    int emitted = 0;
    int more = 0;
    std::vector<std::string> more_pointers;
  };
  void Count(const std::string& severity) {
    if (severity == "error") ++r_->summary.errors;
    else if (severity == "warning") ++r_->summary.warnings;
    else ++r_->summary.infos;
  }
  const CheckOptions& o_;
  CheckReport* r_;
  std::map<std::string, Rule> rules_;
};

int Find(std::vector<int>& parent, int x) {
  while (parent[static_cast<std::size_t>(x)] != x) {
    parent[static_cast<std::size_t>(x)] = parent[static_cast<std::size_t>(parent[static_cast<std::size_t>(x)])];
    x = parent[static_cast<std::size_t>(x)];
  }
  return x;
}

struct Checker {
  const Case& c;
  const ElementPointers& p;
  const CheckOptions& o;
  Collector& out;
  std::unordered_map<int, int> bus_at;  // number -> index (first)
  std::vector<int> island;              // per bus: island root, -1 for isolated buses
  std::vector<char> energized;          // per island root
  std::vector<int> degree;              // in-service branches per bus

  std::string Bus(std::size_t b) const { return At(p.bus, b, "bus " + std::to_string(c.bus[b].number)); }
  std::string BranchLabel(std::size_t l) const {
    const Branch& br = c.branch[l];
    return "branch " + std::to_string(br.from) + "-" + std::to_string(br.to) + (br.id.empty() ? "" : " (" + br.id + ")");
  }
  std::string Branch_(std::size_t l) const { return At(p.branch, l, BranchLabel(l)); }
  std::string Gen(std::size_t g) const { return At(p.gen, g, "generator at bus " + std::to_string(c.gen[g].bus)); }

  // The bus index of a number, or -1 (with a finding naming `who`).
  int BusOf(int number, const std::string& who) {
    auto it = bus_at.find(number);
    if (it != bus_at.end()) return it->second;
    out.Add("error", "element.unknown_bus", who,
            who + " names bus " + std::to_string(number) + ", which is not in the network; point it at a bus of it");
    return -1;
  }

  void Buses() {
    bool any_base_kv = false;
    for (const grid::Bus& bus : c.bus) any_base_kv |= bus.base_kv > 0;
    if (!any_base_kv) {
      out.Add("warning", "bus.base_kv", p.network.empty() ? "network" : p.network,
              "no bus has a base voltage (base_kv): the short circuit cannot give currents in kA, and voltage "
              "levels cannot be checked");
    }
    for (std::size_t b = 0; b < c.bus.size(); ++b) {
      const grid::Bus& bus = c.bus[b];
      if (auto [it, fresh] = bus_at.emplace(bus.number, static_cast<int>(b)); !fresh) {
        out.Add("error", "bus.duplicate_number", Bus(b),
                "bus number " + std::to_string(bus.number) + " is used twice (also " + Bus(static_cast<std::size_t>(it->second)) +
                    "); renumber one");
      }
      if (!(bus.vmin <= bus.vmax)) {
        out.Add("error", "bus.voltage_limits", Attr(Bus(b), "vmin_pu"),
                "bus " + std::to_string(bus.number) + ": Vmin " + Num(bus.vmin) + " p.u. is above Vmax " + Num(bus.vmax) +
                    " p.u.; swap or correct them");
      }
      if (!(bus.base_kv > 0) && any_base_kv) {
        out.Add("warning", "bus.base_kv", Attr(Bus(b), "base_kv"),
                "bus " + std::to_string(bus.number) + " has no base voltage (base_kv " + Num(bus.base_kv) +
                    "); the short circuit cannot give its current in kA, and voltage levels cannot be checked");
      }
    }
  }

  void Topology() {
    const std::size_t n = c.bus.size();
    std::vector<int> parent(n);
    std::iota(parent.begin(), parent.end(), 0);
    degree.assign(n, 0);
    auto active = [&](int b) { return b >= 0 && c.bus[static_cast<std::size_t>(b)].type != kIsolated; };
    for (std::size_t l = 0; l < c.branch.size(); ++l) {
      const Branch& br = c.branch[l];
      int f = BusOf(br.from, Branch_(l)), t = BusOf(br.to, Branch_(l));
      if (br.status == 0 || !active(f) || !active(t)) continue;
      ++degree[static_cast<std::size_t>(f)];
      ++degree[static_cast<std::size_t>(t)];
      int a = Find(parent, f), b = Find(parent, t);
      if (a != b) parent[static_cast<std::size_t>(a)] = b;
    }
    island.assign(n, -1);
    energized.assign(n, 0);
    for (std::size_t b = 0; b < n; ++b) {
      if (active(static_cast<int>(b))) island[b] = Find(parent, static_cast<int>(b));
    }
    for (std::size_t g = 0; g < c.gen.size(); ++g) {
      int b = BusOf(c.gen[g].bus, Gen(g));
      if (b < 0) continue;
      if (c.gen[g].status > 0 && island[static_cast<std::size_t>(b)] >= 0) {
        energized[static_cast<std::size_t>(island[static_cast<std::size_t>(b)])] = 1;
      }
    }
    for (const DcLine& d : c.dclines) {
      if (d.status <= 0) continue;
      for (int number : {d.from, d.to}) {
        auto it = bus_at.find(number);
        if (it != bus_at.end() && island[static_cast<std::size_t>(it->second)] >= 0) {
          energized[static_cast<std::size_t>(island[static_cast<std::size_t>(it->second)])] = 1;
        }
      }
    }
    // Per island: its buses (first few), reference buses.
    std::map<int, std::vector<int>> members, refs;
    for (std::size_t b = 0; b < n; ++b) {
      if (island[b] < 0) continue;
      members[island[b]].push_back(static_cast<int>(b));
      if (c.bus[b].type == kRef) refs[island[b]].push_back(static_cast<int>(b));
    }
    int count = 0, energized_count = 0;
    for (const auto& [root, buses] : members) {
      ++count;
      std::string list;
      for (std::size_t k = 0; k < buses.size() && k < 10; ++k) {
        list += (k ? ", " : "") + std::to_string(c.bus[static_cast<std::size_t>(buses[k])].number);
      }
      if (buses.size() > 10) list += ", ...";
      const std::string first = Bus(static_cast<std::size_t>(buses.front()));
      const std::string size = std::to_string(buses.size()) + " bus(es): " + list;
      if (!energized[static_cast<std::size_t>(root)]) {
        if (buses.size() == 1 && degree[static_cast<std::size_t>(buses.front())] == 0 && n > 1) {
          out.Add("warning", "topology.isolated_bus", first,
                  "bus " + std::to_string(c.bus[static_cast<std::size_t>(buses.front())].number) +
                      " has no branch in service and no generator; set its type to isolated or connect it");
        } else {
          out.Add("warning", "topology.deenergized_island", first,
                  "an island of " + size + " has no generator in service; the power flow will de-energize it");
        }
        continue;
      }
      ++energized_count;
      const auto r = refs.find(root);
      if (r == refs.end()) {
        out.Add("error", "topology.no_reference", first,
                "an island with generation has no reference (slack, REF) bus: " + size +
                    "; make one of its generator buses REF");
      } else if (r->second.size() > 1) {
        out.Add("warning", "topology.several_references", Bus(static_cast<std::size_t>(r->second[1])),
                "an island has " + std::to_string(r->second.size()) + " reference buses (" + size +
                    "); the power flow uses the first, the others act as PV buses");
      }
    }
    r_islands = count;
    r_energized = energized_count;
    if (count > 1) {
      out.Add("info", "topology.islands", p.network.empty() ? "network" : p.network,
              "the network is " + std::to_string(count) + " islands over its in-service branches (" +
                  std::to_string(energized_count) + " with generation)");
    }
  }
  int r_islands = 0, r_energized = 0;

  bool IsTransformer(const Branch& br, int f, int t) const {
    if (!br.kind.empty()) return br.kind == "transformer";
    if (br.tap != 0 || br.shift != 0) return true;
    if (f < 0 || t < 0) return false;
    const double a = c.bus[static_cast<std::size_t>(f)].base_kv, b = c.bus[static_cast<std::size_t>(t)].base_kv;
    return a > 0 && b > 0 && std::abs(a - b) > 1e-6 * std::max(a, b);
  }

  void Branches() {
    for (std::size_t l = 0; l < c.branch.size(); ++l) {
      const Branch& br = c.branch[l];
      auto f_it = bus_at.find(br.from), t_it = bus_at.find(br.to);
      const int f = f_it == bus_at.end() ? -1 : f_it->second, t = t_it == bus_at.end() ? -1 : t_it->second;
      const std::string ptr = Branch_(l), label = BranchLabel(l);
      const bool transformer = IsTransformer(br, f, t);
      const bool on = br.status != 0;
      if (on) Impedance(br, ptr, label, transformer);
      if (f >= 0 && t >= 0) VoltageLevels(br, f, t, ptr, label, transformer);
      if (transformer && br.tap != 0 && !(br.tap >= o.min_tap && br.tap <= o.max_tap)) {
        out.Add("warning", "branch.tap", Attr(ptr, "tap_ratio"),
                label + ": tap ratio " + Num(br.tap) + " is outside [" + Num(o.min_tap) + ", " + Num(o.max_tap) +
                    "]; check that it is a ratio, not a percentage or a kV value");
      }
      if (on && !(br.rate_a > 0)) {
        out.Add("warning", "branch.rating", Attr(ptr, "rate_a_mva"),
                label + " has no thermal rating (rate_a_mva 0 means unlimited): the N-1 cannot find its overloads");
      }
    }
  }

  void Impedance(const Branch& br, const std::string& ptr, const std::string& label, bool transformer) {
    if (!std::isfinite(br.r) || !std::isfinite(br.x)) {
      out.Add("error", "branch.impedance", Attr(ptr, "x_pu"), label + ": its impedance is not a number");
      return;
    }
    if (br.r == 0 && br.x == 0) {
      out.Add("error", "branch.impedance", Attr(ptr, "x_pu"),
              label + " is in service with zero impedance (r = x = 0); give it an impedance or merge its buses");
      return;
    }
    // Negative r is not always wrong: the star-point branches of a
    // three-winding transformer and the branches of a network equivalent
    // have it (case9241pegase has 75). A warning, not an error.
    if (br.r < 0) {
      out.Add("warning", "branch.negative_resistance", Attr(ptr, "r_pu"),
              label + ": negative resistance " + Num(br.r) +
                  " p.u.; right only for a network equivalent or a three-winding transformer's star branch");
    }
    if (br.x < 0 && !transformer) {
      out.Add("warning", "branch.impedance", Attr(ptr, "x_pu"),
              label + ": negative reactance " + Num(br.x) + " p.u. (series compensation?); check the sign");
    }
    // |z| above 10 p.u. on the system base is a line thousands of km long
    // or a transformer of a few kVA: usually a base or unit typo.
    const double z = std::hypot(br.r, br.x);
    if (z > o.max_impedance_pu) {
      out.Add("warning", "branch.impedance_implausible", Attr(ptr, "x_pu"),
              label + ": |z| = " + Num(z) + " p.u. on the system base is implausibly large (above " +
                  Num(o.max_impedance_pu) + "); check the per-unit conversion");
    }
    // Power transformers have X/R from about 5 (small) to 50 (large): r
    // above x means a wrong column or unit.
    if (transformer && br.x > 0 && br.r / br.x > o.max_transformer_r_over_x) {
      out.Add("warning", "branch.impedance_implausible", Attr(ptr, "r_pu"),
              label + ": a transformer with r/x = " + Num(br.r / br.x) + "; transformers have X/R of 5 to 50");
    }
  }

  void VoltageLevels(const Branch& br, int f, int t, const std::string& ptr, const std::string& label, bool transformer) {
    const double kf = c.bus[static_cast<std::size_t>(f)].base_kv, kt = c.bus[static_cast<std::size_t>(t)].base_kv;
    if (!transformer) {
      if (kf > 0 && kt > 0 && std::abs(kf - kt) > 1e-6 * std::max(kf, kt)) {
        out.Add("error", "branch.line_voltage_levels", ptr,
                label + " is a line between buses of " + Num(kf) + " kV and " + Num(kt) +
                    " kV; a line joins one voltage level (make it a transformer, or fix a bus's base_kv)");
      }
      return;
    }
    auto winding = [&](double rated, double bus_kv, const char* field, const char* end) {
      if (!(rated > 0) || !(bus_kv > 0)) return;
      if (std::abs(rated - bus_kv) > o.kv_tolerance * bus_kv) {
        out.Add("error", "branch.winding_voltage", Attr(ptr, field),
                label + ": its " + end + " winding is rated " + Num(rated) + " kV but connects to a " + Num(bus_kv) +
                    " kV bus; swap the ends or correct the rating");
      }
    };
    winding(br.from_kv, kf, "from_kv", "from (HV)");
    winding(br.to_kv, kt, "to_kv", "to (LV)");
  }

  void Generators() {
    for (std::size_t g = 0; g < c.gen.size(); ++g) {
      const grid::Gen& gen = c.gen[g];
      const std::string ptr = Gen(g);
      const std::string label = "generator at bus " + std::to_string(gen.bus) + (gen.id.empty() ? "" : " (" + gen.id + ")");
      if (gen.qmin > gen.qmax) {
        out.Add("error", "generator.q_limits", Attr(ptr, "q_min_mvar"),
                label + ": Qmin " + Num(gen.qmin) + " MVAr is above Qmax " + Num(gen.qmax) + " MVAr; swap or correct them");
      }
      if (std::isfinite(gen.pmin) && std::isfinite(gen.pmax) && gen.pmin > gen.pmax) {
        out.Add("error", "generator.p_limits", Attr(ptr, "p_min_mw"),
                label + ": Pmin " + Num(gen.pmin) + " MW is above Pmax " + Num(gen.pmax) + " MW");
      }
      if (!(gen.vg >= o.min_vset && gen.vg <= o.max_vset)) {
        out.Add("warning", "generator.voltage_setpoint", Attr(ptr, "vset_pu"),
                label + ": voltage set point " + Num(gen.vg) + " p.u. is outside [" + Num(o.min_vset) + ", " +
                    Num(o.max_vset) + "]");
      }
      if (!(gen.mbase > 0)) {
        out.Add("warning", "generator.mbase", Attr(ptr, "mbase_mva"),
                label + ": machine base " + Num(gen.mbase) + " MVA; its X''d cannot be converted (the system base is used)");
      }
      auto it = bus_at.find(gen.bus);
      if (gen.status > 0 && it != bus_at.end() && c.bus[static_cast<std::size_t>(it->second)].type == kIsolated) {
        out.Add("error", "generator.at_isolated_bus", ptr,
                label + " is in service at bus " + std::to_string(gen.bus) +
                    ", which is isolated (type 4); take it out of service or connect the bus");
      }
    }
  }

  // Loads, shunts and DC lines in service where nothing is energized.
  void Equipment() {
    auto dead = [&](int number) {
      auto it = bus_at.find(number);
      if (it == bus_at.end()) return false;
      const int isl = island[static_cast<std::size_t>(it->second)];
      return isl < 0 || !energized[static_cast<std::size_t>(isl)];
    };
    for (std::size_t k = 0; k < c.loads.size(); ++k) {
      const Load& l = c.loads[k];
      const std::string ptr = At(p.load, k, "load at bus " + std::to_string(l.bus));
      if (bus_at.find(l.bus) == bus_at.end()) BusOf(l.bus, ptr);
      else if (l.status != 0 && dead(l.bus)) {
        out.Add("warning", "equipment.isolated", ptr,
                "the load at bus " + std::to_string(l.bus) + " (" + Num(l.p) +
                    " MW) is in service at a bus that is isolated or has no generation in its island: it will not be supplied");
      }
    }
    for (std::size_t k = 0; k < c.shunts.size(); ++k) {
      const Shunt& s = c.shunts[k];
      const std::string ptr = At(p.shunt, k, "shunt at bus " + std::to_string(s.bus));
      if (bus_at.find(s.bus) == bus_at.end()) BusOf(s.bus, ptr);
      else if (s.status != 0 && dead(s.bus)) {
        out.Add("warning", "equipment.isolated", ptr,
                "the shunt at bus " + std::to_string(s.bus) + " is in service at a bus that is isolated or not energized");
      }
    }
    for (std::size_t k = 0; k < c.dclines.size(); ++k) {
      const DcLine& d = c.dclines[k];
      const std::string ptr = At(p.dcline, k, "DC line " + std::to_string(d.from) + "-" + std::to_string(d.to));
      int f = BusOf(d.from, ptr), t = BusOf(d.to, ptr);
      if (d.status > 0 && f >= 0 && t >= 0 &&
          (c.bus[static_cast<std::size_t>(f)].type == kIsolated || c.bus[static_cast<std::size_t>(t)].type == kIsolated)) {
        out.Add("warning", "equipment.isolated", ptr, "DC line " + std::to_string(d.from) + "-" + std::to_string(d.to) +
                                                          " is in service but ends at an isolated bus; it is left out");
      }
    }
  }
};

}  // namespace

CheckReport CheckNetwork(const Case& c, const ElementPointers& p, const CheckOptions& o) {
  CheckReport report;
  Collector out(o, &report);
  if (c.bus.empty()) {
    out.Add("error", "topology.no_buses", p.network.empty() ? "network" : p.network, "the network has no buses");
    out.Finish();
    return report;
  }
  Checker k{c, p, o, out, {}, {}, {}, {}};
  k.Buses();
  k.Topology();
  k.Branches();
  k.Generators();
  k.Equipment();
  report.summary.islands = k.r_islands;
  report.summary.energized_islands = k.r_energized;
  out.Finish();
  return report;
}

}  // namespace grid
