// The electrical pack's native plugin (docs/electrical.md): grid.import,
// grid.export and grid.powerflow here; the studies (contingency,
// shortcircuit, check, evaluate) in studies.cc; resolve and substation in
// design.cc. Each capability is a function from the request to its output;
// the runtime commits the changesets they return and stores their
// attachments as artifacts.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "bver/plugin/plugin.hpp"
#include "packs/electrical/plugin/common.h"
#include "packs/electrical/plugin/studies.h"
#include "packs/electrical/src/case.h"
#include "packs/electrical/src/matpower.h"
#include "packs/electrical/src/model.h"
#include "packs/electrical/src/powerflow.h"
#include "packs/electrical/src/psse.h"
#include "packs/electrical/src/report.h"

namespace {

using bver::plugin::Error;
using namespace grid_plugin;

constexpr std::size_t kMaxFileBytes = std::size_t{1} << 30;  // 1 GiB

// The text of input.file: a stored artifact (the runtime hands its path in
// `artifacts`) or a path, relative to the runtime's folder (the project).
std::string ReadInputFile(const json& request, const std::string& file) {
  std::string path = file;
  if (file.rfind("sha256:", 0) == 0) {
    // find(), not value(): value() would copy the member.
    auto artifacts = request.find("artifacts");
    auto it = artifacts == request.end() ? request.end() : artifacts->find(file);
    if (artifacts == request.end() || it == artifacts->end() || !it->is_string()) {
      throw Error("not_found", "input.file: artifact " + file +
                                   " is not stored here; upload it first (bver artifact put FILE, or PUT /v1/artifacts)");
    }
    path = it->get<std::string>();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error("not_found", "input.file: cannot open " + file + " (a path is relative to the project folder)");
  std::string text;
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0 || static_cast<std::size_t>(size) > kMaxFileBytes) {
    throw Error("invalid_argument", "input.file: " + file + " is not a readable file of at most 1 GiB");
  }
  text.resize(static_cast<std::size_t>(size));
  in.seekg(0);
  in.read(text.data(), size);
  return text;
}

// MATPOWER when the text looks like a case function or assigns mpc fields;
// PSS/E otherwise.
std::string GuessFormat(const std::string& text) {
  if (text.find("mpc.bus") != std::string::npos || text.find("mpc.baseMVA") != std::string::npos) {
    return "matpower";
  }
  return "psse";
}

// A network id from a case or file name: letters, digits, '.', '_' and '-'.
std::string IdFrom(std::string name) {
  std::size_t slash = name.find_last_of('/');
  if (slash != std::string::npos) name = name.substr(slash + 1);
  std::size_t dot = name.find_last_of('.');
  if (dot != std::string::npos && dot > 0) name = name.substr(0, dot);
  std::string id;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-';
    id += ok ? c : '-';
    if (id.size() == 64) break;
  }
  while (!id.empty() && !std::isalnum(static_cast<unsigned char>(id.front()))) id.erase(id.begin());
  return id.empty() ? "network" : id;
}

json Import(const json& request) {
  const json& input = request.at("input");
  const std::string file = input.at("file").get<std::string>();
  std::string text = ReadInputFile(request, file);
  std::string format = input.value("format", GuessFormat(text));
  grid::Case c;
  grid::ParseError err;
  bool ok = format == "matpower" ? grid::ReadMatpower(text, &c, &err) : grid::ReadPsse(text, &c, &err);
  if (!ok) {
    throw Error("invalid_argument", file + ":" + std::to_string(err.line) + ":" + std::to_string(err.column) +
                                        ": " + err.message + " (read as " + format + "; nothing was imported)");
  }
  std::string network_id = input.contains("network") ? input["network"].get<std::string>()
                                                     : IdFrom(c.name.empty() ? file : c.name);
  json source = {{"format", format}};
  if (file.rfind("sha256:", 0) == 0) {
    source["artifact"] = file;
  } else {
    source["file"] = file;
  }
  if (!c.name.empty()) source["case"] = c.name;
  json body = grid::NetworkBody(c, input.value("name", c.name.empty() ? network_id : c.name), source);
  grid::ElementPointers pointers;
  json creates = grid::ImportCreates(c, network_id, body, &pointers);
  json counts = {{"buses", pointers.bus.size()},     {"branches", pointers.branch.size()},
                 {"generators", pointers.gen.size()}, {"loads", pointers.load.size()},
                 {"shunts", pointers.shunt.size()},   {"dclines", pointers.dcline.size()}};
  std::string summary = "network " + pointers.network + ": " + std::to_string(pointers.elements()) +
                        " elements from " + format + " " + file;
  bver::plugin::Log(BVER_LOG_INFO, summary);
  return {{"proposed", json::array({{{"network", pointers.network}, {"counts", counts}}})},
          {"network", pointers.network},
          {"counts", counts},
          {"warnings", c.warnings},
          {"summary", summary},
          {"changeset", {{"creates", std::move(creates)}, {"patches", json::array()}, {"deletes", json::array()}}}};
}

json Export(const json& request) {
  grid::ElementPointers pointers;
  grid::Case c = LoadNetwork(request, &pointers);
  std::string text = grid::WriteMatpower(c);
  json attachment = Attachment(text, "text/plain");
  json out = {{"proposed", json::array({{{"format", "matpower"}, {"artifact", attachment["digest"]}}})},
              {"artifact", attachment["digest"]},
              {"network", pointers.network},
              {"bytes", text.size()},
              {"attachments", json::array({attachment})}};
  const json& input = request.at("input");
  if (input.contains("file")) {
    std::string path = input["file"].get<std::string>();
    // Not retried: a path the runtime cannot write stays so.
    const Error cannot("failed_precondition",
                       "cannot write " + path + " (does its folder exist, and may the runtime write there?)");
    std::string tmp = path + ".tmp";
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      if (!f || !f.write(text.data(), static_cast<std::streamsize>(text.size())) || !f.flush()) throw cannot;
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      std::remove(tmp.c_str());
      throw cannot;
    }
    out["file"] = path;
  }
  return out;
}

std::string Settings(const grid::PowerFlowOptions& o) {
  char buf[200];
  std::snprintf(buf, sizeof buf, "%s, %s start, Q limits %s, tolerance %g p.u., at most %d iterations",
                o.dc ? "DC" : "AC Newton-Raphson", o.flat_start ? "flat" : "case", o.enforce_q_limits ? "on" : "off",
                o.tolerance, o.max_iterations);
  return buf;
}

json PowerFlow(const json& request) {
  const json& input = request.at("input");
  auto t0 = Clock::now();
  grid::ElementPointers pointers;
  grid::Case c = LoadNetwork(request, &pointers);
  const double load_ms = MsSince(t0);

  const grid::PowerFlowOptions o = PowerFlowOptionsFrom(input);
  grid::PowerFlowResult r;
  std::string error;
  if (!grid::SolvePowerFlow(c, o, &r, &error)) {
    throw Error("failed_precondition", "network " + pointers.network + " cannot be solved: " + error);
  }

  const std::string study_id = "pf-" + request.at("job").value("id", std::string("local"));
  const std::string study = "bver://grid/study/" + study_id;
  json buses = json::array();
  json branches = json::array();
  json generators = json::array();
  grid::ReportData report;
  double losses = 0;
  if (r.converged) {
    for (std::size_t i = 0; i < c.bus.size(); ++i) {
      buses.push_back({{"number", c.bus[i].number}, {"bus", pointers.bus[i]}, {"vm_pu", r.vm[i]},
                       {"va_deg", r.va_deg[i]}});
      report.buses.push_back({c.bus[i].number, c.bus[i].name, r.vm[i], r.va_deg[i], c.bus[i].vmin, c.bus[i].vmax});
    }
    for (std::size_t i = 0; i < c.branch.size(); ++i) {
      const grid::Branch& b = c.branch[i];
      json e = {{"from", b.from},           {"to", b.to},
                {"branch", pointers.branch[i]}, {"in_service", b.status != 0},
                {"p_from_mw", r.p_from[i]}, {"q_from_mvar", r.q_from[i]},
                {"p_to_mw", r.p_to[i]},     {"q_to_mvar", r.q_to[i]}};
      double loading = -1;
      const double s_max = std::max(std::hypot(r.p_from[i], r.q_from[i]), std::hypot(r.p_to[i], r.q_to[i]));
      if (b.rate_a > 0 && b.status != 0) {
        loading = 100.0 * s_max / b.rate_a;
        e["loading_pct"] = loading;
      }
      losses += r.p_from[i] + r.p_to[i];
      report.branches.push_back({b.from, b.to, pointers.branch[i], loading, r.p_from[i], r.q_from[i], s_max});
      branches.push_back(std::move(e));
    }
    std::set<int> limited(r.limited_gens.begin(), r.limited_gens.end());
    for (std::size_t i = 0; i < c.gen.size(); ++i) {
      json g = {{"generator", pointers.gen[i]}, {"bus", c.gen[i].bus}, {"p_mw", r.pg[i]}, {"q_mvar", r.qg[i]}};
      if (limited.count(static_cast<int>(i)) != 0) g["at_q_limit"] = true;
      generators.push_back(std::move(g));
    }
  }
  json summary = {{"buses", c.bus.size()}, {"branches", c.branch.size()}, {"generators", c.gen.size()}};
  if (r.converged && !c.bus.empty()) {
    std::size_t lo = 0, hi = 0;
    for (std::size_t i = 0; i < c.bus.size(); ++i) {
      if (r.vm[i] > 0 && (r.vm[lo] <= 0 || r.vm[i] < r.vm[lo])) lo = i;
      if (r.vm[i] > r.vm[hi]) hi = i;
    }
    summary["min_vm_pu"] = {{"value", r.vm[lo]}, {"bus", pointers.bus[lo]}, {"number", c.bus[lo].number}};
    summary["max_vm_pu"] = {{"value", r.vm[hi]}, {"bus", pointers.bus[hi]}, {"number", c.bus[hi].number}};
    summary["losses_mw"] = losses;
    double max_loading = -1;
    std::string max_branch;
    for (const grid::ReportBranch& b : report.branches) {
      if (b.loading_pct > max_loading) {
        max_loading = b.loading_pct;
        max_branch = b.pointer;
      }
    }
    if (max_loading >= 0) summary["max_loading"] = {{"pct", max_loading}, {"branch", max_branch}};
    // What an engineer (or an agent) asks first: the buses under 0.95 p.u.
    json low = json::array();
    for (std::size_t i = 0; i < c.bus.size(); ++i) {
      if (r.vm[i] > 0 && r.vm[i] < 0.95) {
        low.push_back({{"number", c.bus[i].number}, {"bus", pointers.bus[i]}, {"vm_pu", r.vm[i]}});
      }
    }
    summary["low_voltage_buses"] = std::move(low);
  }
  json evidence = {{"mismatch_per_iteration_pu", r.mismatch},
                   {"max_mismatch_pu", r.max_mismatch},
                   {"time_ms",
                    {{"load", load_ms},
                     {"ybus", r.timing.ybus_ms},
                     {"factorize", r.timing.factorize_ms},
                     {"iterate", r.timing.iterate_ms}}},
                   {"factorizations", r.timing.factorizations},
                   {"warnings", r.warnings}};
  if (!r.converged && r.worst_bus >= 0) {
    evidence["worst_bus"] = {{"bus", pointers.bus[static_cast<std::size_t>(r.worst_bus)]},
                             {"number", c.bus[static_cast<std::size_t>(r.worst_bus)].number}};
  }
  json limited_ptrs = json::array();
  for (int g : r.limited_gens) limited_ptrs.push_back(pointers.gen[static_cast<std::size_t>(g)]);
  evidence["limited_generators"] = limited_ptrs;
  json deenergized = json::array();
  for (int b : r.deenergized_buses) deenergized.push_back(pointers.bus[static_cast<std::size_t>(b)]);
  evidence["deenergized_buses"] = deenergized;
  // The loads, shunts and DC lines it read, pinned (buses, branches and
  // generators are pinned in their result rows).
  json pinned = json::array();
  for (const auto* list : {&pointers.load, &pointers.shunt, &pointers.dcline}) {
    for (const std::string& p : *list) pinned.push_back(p);
  }
  evidence["pinned"] = pinned;

  const std::string capability = std::string("grid.powerflow@") + request.value("version", std::string(kVersion));
  report.title = (c.name.empty() ? pointers.network : c.name) + ": " + (o.dc ? "DC" : "AC") + " power flow";
  report.network = pointers.network;
  report.study = study;
  report.capability = capability;
  report.settings = Settings(o);
  report.converged = r.converged;
  report.iterations = r.iterations;
  report.message = r.message;
  report.mismatch = r.mismatch;
  report.load_ms = load_ms;
  report.ybus_ms = r.timing.ybus_ms;
  report.factorize_ms = r.timing.factorize_ms;
  report.iterate_ms = r.timing.iterate_ms;
  report.losses_mw = losses;
  json attachment = Attachment(grid::RenderPowerFlowReport(report), "text/html");

  json settings = PowerFlowSettings(o);
  json body = {{"network", pointers.network}, {"capability", capability}, {"settings", settings},
               {"converged", r.converged},    {"iterations", r.iterations}, {"elements", pointers.elements()},
               {"summary", summary},          {"evidence", evidence},       {"report", attachment["digest"]},
               {"buses", std::move(buses)},   {"branches", std::move(branches)},
               {"generators", std::move(generators)}};
  if (!r.message.empty()) body["message"] = r.message;
  // The job's result stays small (it is kept with the job and in the action
  // cache, and answered on every hit): the study holds the rest.
  json results = {{"study", study}, {"converged", r.converged}, {"iterations", r.iterations},
                  {"report", attachment["digest"]}};
  for (const char* k : {"min_vm_pu", "max_vm_pu", "losses_mw", "max_loading"}) {
    if (summary.contains(k)) results[k] = summary[k];
  }
  if (summary.contains("low_voltage_buses")) results["low_voltage_buses"] = summary["low_voltage_buses"].size();
  if (!r.message.empty()) results["message"] = r.message;
  json brief = {{"mismatch_per_iteration_pu", r.mismatch}, {"time_ms", evidence["time_ms"]},
                {"factorizations", r.timing.factorizations}};
  return {{"results", results},
          {"study", study},
          {"converged", r.converged},
          {"iterations", r.iterations},
          {"report", attachment["digest"]},
          {"evidence", json::array({brief})},
          {"attachments", json::array({attachment})},
          {"changeset",
           {{"creates", json::array({{{"repo", "grid/study"}, {"kind", "powerflow"}, {"id", study_id}, {"body", body}}})},
            {"patches", json::array()},
            {"deletes", json::array()}}}};
}

json Run(const json& request) {
  const std::string cap = request.value("capability", "");
  if (cap == "grid.import") return Import(request);
  if (cap == "grid.export") return Export(request);
  if (cap == "grid.powerflow") return PowerFlow(request);
  if (cap == "grid.contingency") return Contingency(request);
  if (cap == "grid.shortcircuit") return ShortCircuit(request);
  if (cap == "grid.check") return Check(request);
  if (cap == "grid.evaluate") return Evaluate(request);
  if (cap == "grid.resolve") return Resolve(request);
  if (cap == "grid.substation") return Substation(request);
  throw Error("not_found", "the electrical pack provides grid.import, export, powerflow, contingency, shortcircuit, "
                           "check, evaluate, resolve and substation, not " + cap);
}

}  // namespace

BVER_PLUGIN("electrical", "1.0.0", Run)
