#include "packs/electrical/src/model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

namespace grid {
namespace {

using nlohmann::json;

constexpr const char* kPrefix = "bver://grid/";

const char* BusTypeName(int type) {
  switch (type) {
    case kPV: return "PV";
    case kRef: return "REF";
    case kIsolated: return "isolated";
    default: return "PQ";
  }
}

int BusTypeOf(const std::string& name) {
  if (name == "PV") return kPV;
  if (name == "REF") return kRef;
  if (name == "isolated") return kIsolated;
  return kPQ;
}

std::string Ptr(const char* repo, const std::string& id) { return std::string(kPrefix) + repo + "/" + id; }

// Element ids read like the equipment: <network>-br-<from>-<to>-<k>, where
// k counts parallel elements of the same name from 1.
class IdMaker {
 public:
  explicit IdMaker(std::string network) : network_(std::move(network)) {}
  std::string Make(const std::string& stem) {
    int k = ++seen_[stem];
    return network_ + "-" + stem + "-" + std::to_string(k);
  }

 private:
  std::string network_;
  std::unordered_map<std::string, int> seen_;
};

void PutFinite(json& body, const char* key, double v) {
  if (std::isfinite(v)) body[key] = v;
}

json Create(const char* repo, const std::string& id, json body, const char* kind = nullptr) {
  json c = {{"repo", std::string("grid/") + repo}, {"id", id}, {"body", std::move(body)}};
  if (kind != nullptr) c["kind"] = kind;
  return c;
}

double Num(const json& body, const char* key, double fallback) {
  auto it = body.find(key);
  return it != body.end() && it->is_number() ? it->get<double>() : fallback;
}

int Int(const json& body, const char* key, int fallback) {
  auto it = body.find(key);
  return it != body.end() && it->is_number() ? static_cast<int>(it->get<double>()) : fallback;
}

std::string Str(const json& body, const char* key) {
  auto it = body.find(key);
  return it != body.end() && it->is_string() ? it->get<std::string>() : std::string();
}

bool InService(const json& body) {
  auto it = body.find("in_service");
  return it == body.end() || !it->is_boolean() || it->get<bool>();
}

// The repo of a grid pointer ("bver://grid/bus/x~2" -> "bus").
std::string RepoOf(const std::string& pointer) {
  if (pointer.rfind(kPrefix, 0) != 0) return "";
  std::size_t start = std::string(kPrefix).size();
  std::size_t slash = pointer.find('/', start);
  return slash == std::string::npos ? "" : pointer.substr(start, slash - start);
}

// A branch read from a file is a transformer when it has an off-nominal
// tap or a phase shift, or joins buses of different base voltages (MATPOWER
// writes a ratio-1 transformer between 345 and 138 kV with TAP = 0).
bool IsTransformer(const Branch& br, const std::unordered_map<int, double>& bus_kv) {
  if (br.tap != 0 || br.shift != 0) return true;
  auto f = bus_kv.find(br.from), t = bus_kv.find(br.to);
  if (f == bus_kv.end() || t == bus_kv.end() || f->second <= 0 || t->second <= 0) return false;
  return std::abs(f->second - t->second) > 1e-6 * std::max(f->second, t->second);
}

struct Item {
  std::int64_t seq;
  std::string pointer;
  const json* body;
  std::string kind;
};

}  // namespace

std::string Unpinned(const std::string& pointer) {
  std::size_t end = pointer.find_first_of("~@", std::string("bver://").size());
  return end == std::string::npos ? pointer : pointer.substr(0, end);
}

json NetworkBody(const Case& c, const std::string& name, const json& source) {
  json body = {{"name", name}, {"base_mva", c.base_mva}, {"source", source}};
  body["counts"] = {{"buses", c.bus.size()},       {"branches", c.branch.size()}, {"generators", c.gen.size()},
                    {"dclines", c.dclines.size()}};
  if (!c.warnings.empty()) body["warnings"] = c.warnings;
  return body;
}

json ImportCreates(const Case& c, const std::string& network_id, const json& network_body, ElementPointers* out) {
  ElementPointers local;
  ElementPointers& p = out != nullptr ? *out : local;
  p = ElementPointers();
  const std::string net = Ptr("network", network_id);
  p.network = net;
  IdMaker ids(network_id);
  json creates = json::array();
  creates.get_ref<json::array_t&>().reserve(1 + c.bus.size() + c.branch.size() + c.gen.size() + c.bus.size());
  creates.push_back(Create("network", network_id, network_body));

  std::unordered_map<int, std::string> bus_ptr;
  std::unordered_map<int, double> bus_kv;
  for (std::size_t i = 0; i < c.bus.size(); ++i) {
    const Bus& b = c.bus[i];
    bus_kv[b.number] = b.base_kv;
    std::string id = network_id + "-bus-" + std::to_string(b.number);
    std::string ptr = Ptr("bus", id);
    bus_ptr[b.number] = ptr;
    p.bus.push_back(ptr);
    json body = {{"network", net},         {"number", b.number}, {"type", BusTypeName(b.type)},
                 {"base_kv", b.base_kv},   {"vm_pu", b.vm},      {"va_deg", b.va},
                 {"vmax_pu", b.vmax},      {"vmin_pu", b.vmin},  {"area", b.area},
                 {"zone", b.zone},         {"seq", i}};
    if (!b.name.empty()) body["name"] = b.name;
    creates.push_back(Create("bus", id, std::move(body)));
  }
  for (std::size_t i = 0; i < c.branch.size(); ++i) {
    const Branch& br = c.branch[i];
    const char* kind = br.kind.empty() ? (IsTransformer(br, bus_kv) ? "transformer" : "line") : br.kind.c_str();
    std::string id = ids.Make("br-" + std::to_string(br.from) + "-" + std::to_string(br.to));
    p.branch.push_back(Ptr("branch", id));
    json body = {{"network", net},
                 {"from_bus", bus_ptr.at(br.from)},
                 {"to_bus", bus_ptr.at(br.to)},
                 {"r_pu", br.r},
                 {"x_pu", br.x},
                 {"b_pu", br.b},
                 {"rate_a_mva", br.rate_a},
                 {"rate_b_mva", br.rate_b},
                 {"rate_c_mva", br.rate_c},
                 {"tap_ratio", br.tap},
                 {"shift_deg", br.shift},
                 {"in_service", br.status != 0},
                 {"angmin_deg", br.angmin},
                 {"angmax_deg", br.angmax},
                 {"seq", i}};
    if (!br.id.empty()) body["circuit"] = br.id;
    if (br.from_kv > 0) body["from_kv"] = br.from_kv;
    if (br.to_kv > 0) body["to_kv"] = br.to_kv;
    creates.push_back(Create("branch", id, std::move(body), kind));
  }
  for (std::size_t i = 0; i < c.gen.size(); ++i) {
    const Gen& g = c.gen[i];
    std::string id = ids.Make("gen-" + std::to_string(g.bus));
    p.gen.push_back(Ptr("generator", id));
    json body = {{"network", net},   {"bus", bus_ptr.at(g.bus)},   {"p_mw", g.pg},
                 {"q_mvar", g.qg},   {"vset_pu", g.vg},            {"mbase_mva", g.mbase},
                 {"in_service", g.status > 0}, {"seq", i}};
    PutFinite(body, "q_max_mvar", g.qmax);
    PutFinite(body, "q_min_mvar", g.qmin);
    PutFinite(body, "p_max_mw", g.pmax);
    PutFinite(body, "p_min_mw", g.pmin);
    if (!g.extra.empty()) body["capability_curve"] = g.extra;
    if (!g.id.empty()) body["machine_id"] = g.id;
    if (g.x_subtransient > 0) body["x_subtransient_pu"] = g.x_subtransient;
    creates.push_back(Create("generator", id, std::move(body)));
  }
  // Loads and shunts: the reader's own list, else one per bus total.
  std::vector<Load> loads = c.loads;
  std::vector<Shunt> shunts = c.shunts;
  if (loads.empty()) {
    for (const Bus& b : c.bus) {
      if (b.pd != 0 || b.qd != 0) loads.push_back({b.number, "", b.pd, b.qd, 1});
    }
  }
  if (shunts.empty()) {
    for (const Bus& b : c.bus) {
      if (b.gs != 0 || b.bs != 0) shunts.push_back({b.number, "", b.gs, b.bs, 1});
    }
  }
  for (std::size_t i = 0; i < loads.size(); ++i) {
    const Load& l = loads[i];
    std::string id = ids.Make("load-" + std::to_string(l.bus));
    p.load.push_back(Ptr("load", id));
    json body = {{"network", net}, {"bus", bus_ptr.at(l.bus)}, {"p_mw", l.p},
                 {"q_mvar", l.q},  {"in_service", l.status != 0}, {"seq", i}};
    if (!l.id.empty()) body["load_id"] = l.id;
    creates.push_back(Create("load", id, std::move(body)));
  }
  for (std::size_t i = 0; i < shunts.size(); ++i) {
    const Shunt& s = shunts[i];
    std::string id = ids.Make("sh-" + std::to_string(s.bus));
    p.shunt.push_back(Ptr("shunt", id));
    json body = {{"network", net}, {"bus", bus_ptr.at(s.bus)}, {"g_mw", s.g},
                 {"b_mvar", s.b},  {"in_service", s.status != 0}, {"seq", i}};
    if (!s.id.empty()) body["shunt_id"] = s.id;
    creates.push_back(Create("shunt", id, std::move(body)));
  }
  for (std::size_t i = 0; i < c.dclines.size(); ++i) {
    const DcLine& d = c.dclines[i];
    std::string id = ids.Make("dc-" + std::to_string(d.from) + "-" + std::to_string(d.to));
    p.dcline.push_back(Ptr("dcline", id));
    json body = {{"network", net},          {"from_bus", bus_ptr.at(d.from)}, {"to_bus", bus_ptr.at(d.to)},
                 {"in_service", d.status != 0}, {"p_from_mw", d.pf},       {"p_to_mw", d.pt},
                 {"q_from_mvar", d.qf},     {"q_to_mvar", d.qt},           {"v_from_pu", d.vf},
                 {"v_to_pu", d.vt},         {"seq", i}};
    PutFinite(body, "p_min_mw", d.pmin);
    PutFinite(body, "p_max_mw", d.pmax);
    PutFinite(body, "q_min_from_mvar", d.qminf);
    PutFinite(body, "q_max_from_mvar", d.qmaxf);
    PutFinite(body, "q_min_to_mvar", d.qmint);
    PutFinite(body, "q_max_to_mvar", d.qmaxt);
    body["loss0_mw"] = d.loss0;
    body["loss1"] = d.loss1;
    creates.push_back(Create("dcline", id, std::move(body)));
  }
  return creates;
}

bool CaseFromReferences(const json& network, const json& related, Case* out, ElementPointers* pointers,
                        std::string* error) {
  Case c;
  ElementPointers p;
  const json& nbody = network.contains("body") ? network["body"] : network;
  p.network = network.value("pointer", "");
  const std::string net = Unpinned(p.network);
  c.base_mva = Num(nbody, "base_mva", 100);
  c.name = Str(nbody, "name");
  std::map<std::string, std::vector<Item>> by_repo;
  if (related.is_array()) {
    for (const json& r : related) {
      if (!r.is_object() || !r.contains("body") || !r["body"].is_object()) continue;
      std::string ptr = r.value("pointer", "");
      std::string repo = RepoOf(ptr);
      const json& body = r["body"];
      if (!net.empty() && Unpinned(Str(body, "network")) != net) continue;  // points here through another field
      by_repo[repo].push_back({static_cast<std::int64_t>(Num(body, "seq", 1e15)), ptr, &body, r.contains("kind") && r["kind"].is_string() ? r["kind"].get<std::string>() : std::string()});
    }
  }
  for (auto& [repo, items] : by_repo) {
    std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
      return a.seq != b.seq ? a.seq < b.seq : a.pointer < b.pointer;
    });
  }
  auto fail = [&](const std::string& pointer, const std::string& why) {
    if (error != nullptr) *error = pointer + ": " + why;
    return false;
  };
  std::unordered_map<std::string, std::size_t> bus_index;  // unpinned pointer -> index
  std::unordered_map<int, std::string> number_owner;
  for (const Item& it : by_repo["bus"]) {
    const json& b = *it.body;
    Bus bus;
    bus.number = Int(b, "number", 0);
    bus.type = BusTypeOf(Str(b, "type"));
    bus.base_kv = Num(b, "base_kv", 0);
    bus.vm = Num(b, "vm_pu", 1);
    bus.va = Num(b, "va_deg", 0);
    bus.vmax = Num(b, "vmax_pu", 1.1);
    bus.vmin = Num(b, "vmin_pu", 0.9);
    bus.area = Int(b, "area", 1);
    bus.zone = Int(b, "zone", 1);
    bus.name = Str(b, "name");
    if (auto [o, fresh] = number_owner.emplace(bus.number, it.pointer); !fresh) {
      return fail(it.pointer, "bus number " + std::to_string(bus.number) + " is also used by " + o->second);
    }
    bus_index[Unpinned(it.pointer)] = c.bus.size();
    c.bus.push_back(std::move(bus));
    p.bus.push_back(it.pointer);
  }
  auto bus_of = [&](const Item& it, const char* field, int* number) {
    std::string target = Unpinned(Str(*it.body, field));
    auto found = bus_index.find(target);
    if (found == bus_index.end()) return false;
    *number = c.bus[found->second].number;
    return true;
  };
  auto no_bus = [&](const Item& it, const char* field) {
    return fail(it.pointer, std::string(field) + " " + Str(*it.body, field) + " is not a bus of " + net);
  };
  for (const Item& it : by_repo["branch"]) {
    const json& b = *it.body;
    Branch br;
    if (!bus_of(it, "from_bus", &br.from)) return no_bus(it, "from_bus");
    if (!bus_of(it, "to_bus", &br.to)) return no_bus(it, "to_bus");
    br.r = Num(b, "r_pu", 0);
    br.x = Num(b, "x_pu", 0);
    br.b = Num(b, "b_pu", 0);
    br.rate_a = Num(b, "rate_a_mva", 0);
    br.rate_b = Num(b, "rate_b_mva", 0);
    br.rate_c = Num(b, "rate_c_mva", 0);
    br.tap = Num(b, "tap_ratio", 0);
    br.shift = Num(b, "shift_deg", 0);
    br.status = InService(b) ? 1 : 0;
    br.angmin = Num(b, "angmin_deg", -360);
    br.angmax = Num(b, "angmax_deg", 360);
    br.id = Str(b, "circuit");
    br.kind = it.kind;
    br.from_kv = Num(b, "from_kv", 0);
    br.to_kv = Num(b, "to_kv", 0);
    c.branch.push_back(std::move(br));
    p.branch.push_back(it.pointer);
  }
  for (const Item& it : by_repo["generator"]) {
    const json& b = *it.body;
    Gen g;
    if (!bus_of(it, "bus", &g.bus)) return no_bus(it, "bus");
    g.pg = Num(b, "p_mw", 0);
    g.qg = Num(b, "q_mvar", 0);
    g.qmax = Num(b, "q_max_mvar", kInf);
    g.qmin = Num(b, "q_min_mvar", -kInf);
    g.vg = Num(b, "vset_pu", 1);
    g.mbase = Num(b, "mbase_mva", c.base_mva);
    g.status = InService(b) ? 1 : 0;
    g.pmax = Num(b, "p_max_mw", kInf);
    g.pmin = Num(b, "p_min_mw", -kInf);
    if (auto e = b.find("capability_curve"); e != b.end() && e->is_array()) {
      for (const json& v : *e) g.extra.push_back(v.is_number() ? v.get<double>() : 0.0);
    }
    g.id = Str(b, "machine_id");
    g.x_subtransient = Num(b, "x_subtransient_pu", 0);
    c.gen.push_back(std::move(g));
    p.gen.push_back(it.pointer);
  }
  for (const Item& it : by_repo["load"]) {
    const json& b = *it.body;
    Load l;
    if (!bus_of(it, "bus", &l.bus)) return no_bus(it, "bus");
    l.p = Num(b, "p_mw", 0);
    l.q = Num(b, "q_mvar", 0);
    l.status = InService(b) ? 1 : 0;
    l.id = Str(b, "load_id");
    c.loads.push_back(l);
    p.load.push_back(it.pointer);
  }
  for (const Item& it : by_repo["shunt"]) {
    const json& b = *it.body;
    Shunt s;
    if (!bus_of(it, "bus", &s.bus)) return no_bus(it, "bus");
    s.g = Num(b, "g_mw", 0);
    s.b = Num(b, "b_mvar", 0);
    s.status = InService(b) ? 1 : 0;
    s.id = Str(b, "shunt_id");
    c.shunts.push_back(s);
    p.shunt.push_back(it.pointer);
  }
  for (const Item& it : by_repo["dcline"]) {
    const json& b = *it.body;
    DcLine d;
    if (!bus_of(it, "from_bus", &d.from)) return no_bus(it, "from_bus");
    if (!bus_of(it, "to_bus", &d.to)) return no_bus(it, "to_bus");
    d.status = InService(b) ? 1 : 0;
    d.pf = Num(b, "p_from_mw", 0);
    d.pt = Num(b, "p_to_mw", 0);
    d.qf = Num(b, "q_from_mvar", 0);
    d.qt = Num(b, "q_to_mvar", 0);
    d.vf = Num(b, "v_from_pu", 1);
    d.vt = Num(b, "v_to_pu", 1);
    d.pmin = Num(b, "p_min_mw", 0);
    d.pmax = Num(b, "p_max_mw", 0);
    d.qminf = Num(b, "q_min_from_mvar", 0);
    d.qmaxf = Num(b, "q_max_from_mvar", 0);
    d.qmint = Num(b, "q_min_to_mvar", 0);
    d.qmaxt = Num(b, "q_max_to_mvar", 0);
    d.loss0 = Num(b, "loss0_mw", 0);
    d.loss1 = Num(b, "loss1", 0);
    c.dclines.push_back(d);
    p.dcline.push_back(it.pointer);
  }
  // Bus totals, summed in element order so one load per bus gives its
  // exact value back.
  std::unordered_map<int, std::size_t> by_number;
  for (std::size_t i = 0; i < c.bus.size(); ++i) by_number[c.bus[i].number] = i;
  for (const Load& l : c.loads) {
    if (l.status == 0) continue;
    Bus& b = c.bus[by_number[l.bus]];
    b.pd += l.p;
    b.qd += l.q;
  }
  for (const Shunt& s : c.shunts) {
    if (s.status == 0) continue;
    Bus& b = c.bus[by_number[s.bus]];
    b.gs += s.g;
    b.bs += s.b;
  }
  if (c.bus.empty()) return fail(p.network, "the network has no buses");
  *out = std::move(c);
  if (pointers != nullptr) *pointers = std::move(p);
  return true;
}

}  // namespace grid
