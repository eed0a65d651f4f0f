#include "packs/electrical/src/substation.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <stdexcept>

namespace grid {
namespace {

using nlohmann::json;

constexpr double kPi = 3.14159265358979323846;

// A refusal naming where (input.lines[0].length_km) and why.
struct Bad : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string Unpinned(const std::string& p) {
  std::size_t at = p.find_first_of("~@");
  return at == std::string::npos ? p : p.substr(0, at);
}

std::string Kv(double kv) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", kv);
  return buf;
}

// A number at obj[key]; `positive`/`non_negative` checked; default when absent (NaN: required).
double Number(const json& obj, const std::string& where, const char* key, double fallback, bool positive,
              bool non_negative = false) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (std::isnan(fallback)) throw Bad(where + "." + key + " is required");
    return fallback;
  }
  if (!it->is_number()) throw Bad(where + "." + key + " must be a number");
  const double v = it->get<double>();
  if (!std::isfinite(v) || (positive && !(v > 0)) || (non_negative && v < 0)) {
    throw Bad(where + "." + key + " must be " + (positive ? "> 0" : ">= 0") + " (got " + it->dump() + ")");
  }
  return v;
}

// An id part from a name: letters, digits, '.', '_', '-'.
std::string IdPart(const std::string& name, const std::string& where) {
  if (name.empty() || name.size() > 32) throw Bad(where + " must be a name of 1 to 32 characters");
  std::string id;
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
    id += ok ? c : '-';
  }
  return id;
}

struct Builder {
  const json& input;
  std::string net_id, net_ptr, sub;
  double base_mva = 100, freq = 50;
  std::set<std::string> existing;                                     // unpinned pointers
  std::map<std::string, std::pair<int, double>> bus_info;             // bus pointer -> number, base kV
  std::map<std::string, long long> max_seq;                           // repo -> largest seq
  int max_number = 0;
  std::map<double, std::string> level_bus;                            // kV -> bus pointer
  std::set<std::string> new_buses;
  json creates = json::array();
  json conversions = json::array();
  int skipped = 0;

  std::string Ptr(const char* repo, const std::string& id) const { return std::string("bver://grid/") + repo + "/" + id; }

  void Create(const char* repo, const char* kind, const std::string& id, json body) {
    if (existing.count(Ptr(repo, id)) != 0) {
      ++skipped;
      return;
    }
    body["network"] = net_ptr;
    body["seq"] = ++max_seq[repo];
    json c = {{"repo", std::string("grid/") + repo}, {"id", id}, {"body", std::move(body)}};
    if (kind != nullptr) c["kind"] = kind;
    creates.push_back(std::move(c));
  }

  std::string LevelBus(double kv, const std::string& where) const {
    for (const auto& [level, ptr] : level_bus) {
      if (std::abs(level - kv) <= 1e-9 * level) return ptr;
    }
    std::string levels;
    for (const auto& [level, ptr] : level_bus) levels += (levels.empty() ? "" : ", ") + Kv(level);
    throw Bad(where + " is " + Kv(kv) + " kV, not a voltage level of substation " + sub + " (" + levels + " kV)");
  }

  void Levels() {
    const json& levels = input.at("voltage_levels_kv");
    if (!levels.is_array() || levels.empty()) throw Bad("input.voltage_levels_kv must list at least one voltage");
    for (std::size_t k = 0; k < levels.size(); ++k) {
      const std::string where = "input.voltage_levels_kv[" + std::to_string(k) + "]";
      if (!levels[k].is_number() || !(levels[k].get<double>() > 0)) throw Bad(where + " must be a voltage > 0 kV");
      const double kv = levels[k].get<double>();
      const std::string id = net_id + "-" + sub + "-" + Kv(kv) + "kv";
      const std::string ptr = Ptr("bus", id);
      if (!level_bus.emplace(kv, ptr).second) throw Bad(where + ": " + Kv(kv) + " kV is listed twice");
      if (existing.count(ptr) != 0) {
        ++skipped;
        continue;
      }
      new_buses.insert(ptr);
      bus_info[ptr] = {++max_number, kv};
      Create("bus", nullptr, id,
             {{"number", max_number}, {"name", sub + " " + Kv(kv) + " kV"}, {"type", "PQ"}, {"base_kv", kv},
              {"vm_pu", 1.0}, {"va_deg", 0.0}, {"vmax_pu", 1.1}, {"vmin_pu", 0.9}});
    }
  }

  // z% on the rated MVA, referred to the system base; R and X from X/R.
  void Transformers(std::set<std::string>& names) {
    const json& list = input.value("transformers", json::array());
    for (std::size_t k = 0; k < list.size(); ++k) {
      const json& t = list[k];
      const std::string where = "input.transformers[" + std::to_string(k) + "]";
      if (!t.is_object()) throw Bad(where + " must be an object");
      const std::string name = t.value("name", "");
      const std::string id_part = IdPart(name, where + ".name");
      if (!names.insert(name).second) throw Bad(where + ".name \"" + name + "\" is used twice");
      const double hv = Number(t, where, "hv_kv", NAN, true), lv = Number(t, where, "lv_kv", NAN, true);
      const double mva = Number(t, where, "rated_mva", NAN, true);
      const double zpct = Number(t, where, "z_percent", NAN, true);
      const double xr = Number(t, where, "x_r", NAN, true);
      const double tap = Number(t, where, "tap_ratio", 1.0, true);
      const std::string hv_bus = LevelBus(hv, where + ".hv_kv"), lv_bus = LevelBus(lv, where + ".lv_kv");
      if (hv_bus == lv_bus) throw Bad(where + ": hv_kv and lv_kv are the same level");
      const double z = zpct / 100 * base_mva / mva;
      const double r = z / std::sqrt(1 + xr * xr);
      const double x = r * xr;
      Create("branch", "transformer", net_id + "-" + sub + "-" + id_part,
             {{"from_bus", hv_bus}, {"to_bus", lv_bus}, {"name", name}, {"r_pu", r}, {"x_pu", x}, {"b_pu", 0.0},
              {"rate_a_mva", mva}, {"tap_ratio", tap}, {"shift_deg", 0.0}, {"in_service", true},
              {"from_kv", hv}, {"to_kv", lv}});
      conversions.push_back({{"element", name}, {"z_pu", z}, {"r_pu", r}, {"x_pu", x}});
    }
  }

  // Z_base = kV² / S_base; r, x per km times length over it; b = ωC·len·Z_base.
  void Lines(std::set<std::string>& names) {
    const json& list = input.value("lines", json::array());
    for (std::size_t k = 0; k < list.size(); ++k) {
      const json& l = list[k];
      const std::string where = "input.lines[" + std::to_string(k) + "]";
      if (!l.is_object()) throw Bad(where + " must be an object");
      const std::string name = l.value("name", "");
      const std::string id_part = IdPart(name, where + ".name");
      if (!names.insert(name).second) throw Bad(where + ".name \"" + name + "\" is used twice");
      const double kv = Number(l, where, "from_kv", NAN, true);
      const std::string from = LevelBus(kv, where + ".from_kv");
      std::string to = Unpinned(l.value("to_bus", ""));
      if (to.empty() && l.contains("to_bus_number")) {
        const int n = l["to_bus_number"].is_number_integer() ? l["to_bus_number"].get<int>() : -1;
        for (const auto& [ptr, info] : bus_info) {
          if (info.first == n && new_buses.count(ptr) == 0) to = ptr;
        }
        if (to.empty()) throw Bad(where + ".to_bus_number " + l["to_bus_number"].dump() + " is not a bus of " + net_ptr);
      }
      auto bus = bus_info.find(to);
      if (to.empty()) throw Bad(where + ".to_bus (a bus pointer) or to_bus_number is required");
      if (bus == bus_info.end()) throw Bad(where + ".to_bus " + to + " is not a bus of " + net_ptr);
      if (bus->second.second > 0 && std::abs(bus->second.second - kv) > 0.05 * kv) {
        throw Bad(where + ": a " + Kv(kv) + " kV line cannot end at " + to + " (" + Kv(bus->second.second) +
                  " kV); connect it through a transformer");
      }
      const double len = Number(l, where, "length_km", NAN, true);
      const double r = Number(l, where, "r_ohm_per_km", NAN, false, true);
      const double x = Number(l, where, "x_ohm_per_km", NAN, true);
      double b_siemens = 0;
      if (l.contains("b_us_per_km")) {
        b_siemens = Number(l, where, "b_us_per_km", 0, false, true) * 1e-6 * len;
      } else {
        b_siemens = 2 * kPi * freq * Number(l, where, "c_nf_per_km", 0, false, true) * 1e-9 * len;
      }
      const double zbase = kv * kv / base_mva;
      const double r_pu = r * len / zbase, x_pu = x * len / zbase, b_pu = b_siemens * zbase;
      Create("branch", "line", net_id + "-" + sub + "-" + id_part,
             {{"from_bus", from}, {"to_bus", to}, {"name", name}, {"r_pu", r_pu}, {"x_pu", x_pu}, {"b_pu", b_pu},
              {"rate_a_mva", Number(l, where, "rating_mva", 0, false, true)}, {"tap_ratio", 0.0}, {"shift_deg", 0.0},
              {"in_service", true}});
      conversions.push_back({{"element", name}, {"z_base_ohm", zbase}, {"r_pu", r_pu}, {"x_pu", x_pu}, {"b_pu", b_pu}});
    }
  }

  void Units(std::set<std::string>& names) {
    const json& gens = input.value("generators", json::array());
    for (std::size_t k = 0; k < gens.size(); ++k) {
      const json& g = gens[k];
      const std::string where = "input.generators[" + std::to_string(k) + "]";
      if (!g.is_object()) throw Bad(where + " must be an object");
      const std::string name = g.value("name", "");
      const std::string id_part = IdPart(name, where + ".name");
      if (!names.insert(name).second) throw Bad(where + ".name \"" + name + "\" is used twice");
      const std::string bus = LevelBus(Number(g, where, "level_kv", NAN, true), where + ".level_kv");
      json body = {{"bus", bus}, {"name", name}, {"p_mw", Number(g, where, "p_mw", 0, false, true)},
                   {"q_mvar", 0.0}, {"vset_pu", Number(g, where, "vset_pu", 1.0, true)},
                   {"mbase_mva", Number(g, where, "mbase_mva", base_mva, true)}, {"in_service", true}};
      if (g.contains("x_subtransient_pu")) body["x_subtransient_pu"] = Number(g, where, "x_subtransient_pu", 0, true);
      for (const char* k2 : {"q_min_mvar", "q_max_mvar", "p_max_mw"}) {
        if (g.contains(k2)) body[k2] = Number(g, where, k2, 0, false);
      }
      if (body.contains("q_min_mvar") && body.contains("q_max_mvar") && body["q_min_mvar"] > body["q_max_mvar"]) {
        throw Bad(where + ": q_min_mvar is above q_max_mvar");
      }
      Create("generator", nullptr, net_id + "-" + sub + "-" + id_part, std::move(body));
      // A new bus with a generator holds its voltage.
      for (json& c : creates) {
        if (c["repo"] == "grid/bus" && Ptr("bus", c["id"]) == bus) c["body"]["type"] = "PV";
      }
    }
    const json& loads = input.value("loads", json::array());
    for (std::size_t k = 0; k < loads.size(); ++k) {
      const json& l = loads[k];
      const std::string where = "input.loads[" + std::to_string(k) + "]";
      if (!l.is_object()) throw Bad(where + " must be an object");
      const std::string name = l.value("name", "");
      const std::string id_part = IdPart(name, where + ".name");
      if (!names.insert(name).second) throw Bad(where + ".name \"" + name + "\" is used twice");
      const std::string bus = LevelBus(Number(l, where, "level_kv", NAN, true), where + ".level_kv");
      Create("load", nullptr, net_id + "-" + sub + "-" + id_part,
             {{"bus", bus}, {"name", name}, {"p_mw", Number(l, where, "p_mw", NAN, false)},
              {"q_mvar", Number(l, where, "q_mvar", 0, false)}, {"in_service", true}});
    }
  }
};

}  // namespace

bool SubstationCreates(const json& input, const json& network_body, const std::string& network_id, const json& related,
                       json* creates, json* summary, std::string* error) {
  try {
    Builder b{input, network_id, "bver://grid/network/" + network_id, "", 100, 50, {}, {}, {}, 0, {}, {}, json::array(),
              json::array(), 0};
    b.sub = IdPart(input.value("substation", ""), "input.substation");
    b.base_mva = network_body.value("base_mva", 0.0);
    if (!(b.base_mva > 0)) throw Bad("the network has no base_mva");
    b.freq = input.value("frequency_hz", 50.0);
    if (!(b.freq > 0)) throw Bad("input.frequency_hz must be > 0");
    if (related.is_array()) {
      for (const json& r : related) {
        if (!r.is_object() || !r.contains("body") || !r["body"].is_object()) continue;
        const std::string p = Unpinned(r.value("pointer", ""));
        b.existing.insert(p);
        const json& body = r["body"];
        const std::string repo = p.size() > 12 ? p.substr(12, p.find('/', 12) - 12) : "";
        if (body.contains("seq") && body["seq"].is_number()) {
          b.max_seq[repo] = std::max(b.max_seq[repo], body["seq"].get<long long>());
        }
        if (repo == "bus") {
          const int n = body.value("number", 0);
          b.bus_info[p] = {n, body.value("base_kv", 0.0)};
          b.max_number = std::max(b.max_number, n);
        }
      }
    }
    std::set<std::string> names;
    b.Levels();
    b.Transformers(names);
    b.Lines(names);
    b.Units(names);
    *creates = std::move(b.creates);
    *summary = {{"substation", b.sub}, {"created", creates->size()}, {"already_there", b.skipped},
                {"conversions", std::move(b.conversions)}};
    return true;
  } catch (const Bad& e) {
    *error = e.what();
  } catch (const json::exception& e) {
    *error = std::string("input: ") + e.what();
  }
  return false;
}

}  // namespace grid
