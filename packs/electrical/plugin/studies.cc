// grid.contingency, grid.shortcircuit, grid.check and grid.evaluate: the
// studies of a network after its power flow (docs/electrical.md).
#include "packs/electrical/plugin/studies.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "bver/plugin/plugin.hpp"
#include "packs/electrical/plugin/common.h"
#include "packs/electrical/src/check.h"
#include "packs/electrical/src/contingency.h"
#include "packs/electrical/src/report.h"
#include "packs/electrical/src/shortcircuit.h"

namespace grid_plugin {
namespace {

using bver::plugin::Error;
using grid::Unpinned;

json NumberOrNull(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// ---------------------------------------------------------------------------
// N-1

json ViolationsJson(const grid::ElementPointers& p, const std::vector<grid::Violation>& list) {
  json violations = json::array();
  for (const grid::Violation& v : list) {
    const bool voltage = v.kind == grid::Violation::kVoltage;
    violations.push_back({{"pointer", voltage ? p.bus[static_cast<std::size_t>(v.index)]
                                              : p.branch[static_cast<std::size_t>(v.index)]},
                          {"kind", voltage ? "voltage" : "thermal"},
                          {"value", v.value},
                          {"limit", v.limit}});
  }
  return violations;
}

json OutageJson(const grid::ElementPointers& p, const grid::OutageResult& o) {
  json violations = ViolationsJson(p, o.violations);
  const bool branch = o.type == grid::OutageResult::kBranch;
  json e = {{"element", branch ? p.branch[static_cast<std::size_t>(o.index)] : p.gen[static_cast<std::size_t>(o.index)]},
            {"type", branch ? "branch" : "generator"},
            {"from", o.from},
            {"to", o.to},
            {"islanding", o.islanding},
            {"converged", o.converged},
            {"iterations", o.iterations},
            {"violations", std::move(violations)}};
  if (o.converged) {
    e["min_vm_pu"] = o.min_vm;
    if (o.max_loading_pct >= 0) e["max_loading_pct"] = o.max_loading_pct;
  }
  if (o.deenergized_buses > 0) {
    e["deenergized_buses"] = o.deenergized_buses;
    e["lost_load_mw"] = o.lost_load_mw;
  }
  if (!o.message.empty()) e["message"] = o.message;
  return e;
}

// Counts over a list of outage entries (one study, or merged parts).
json SummarizeOutages(const json& outages) {
  int islanding = 0, not_converged = 0, with_violations = 0, voltage = 0, thermal = 0;
  const json* worst = nullptr;
  for (const json& o : outages) {
    islanding += o.value("islanding", false);
    not_converged += !o.value("converged", false);
    const json& v = o["violations"];
    with_violations += !v.empty();
    for (const json& x : v) (x.value("kind", "") == "voltage" ? voltage : thermal) += 1;
    if (!v.empty() && (worst == nullptr || v.size() > (*worst)["violations"].size())) worst = &o;
  }
  json s = {{"outages", outages.size()},        {"islanding", islanding},
            {"not_converged", not_converged},   {"with_violations", with_violations},
            {"voltage_violations", voltage},    {"thermal_violations", thermal}};
  if (worst != nullptr) {
    s["worst"] = {{"element", (*worst)["element"]}, {"violations", (*worst)["violations"].size()}};
  }
  return s;
}

std::string OutageLabel(const json& o) {
  if (o.value("type", "") == "generator") return "gen at bus " + std::to_string(o.value("from", 0));
  return "branch " + std::to_string(o.value("from", 0)) + "-" + std::to_string(o.value("to", 0));
}

void AddOutages(const json& outages, grid::ReportData* d) {
  d->n1_total = static_cast<int>(outages.size());
  for (const json& o : outages) {
    grid::ReportOutage r;
    r.label = OutageLabel(o);
    r.pointer = o.value("element", "");
    r.islanding = o.value("islanding", false);
    r.converged = o.value("converged", false);
    for (const json& v : o["violations"]) {
      (v.value("kind", "") == "voltage" ? r.voltage_violations : r.thermal_violations) += 1;
    }
    r.worst_vm = o.value("min_vm_pu", 0.0);
    r.worst_loading_pct = o.value("max_loading_pct", -1.0);
    d->outages.push_back(std::move(r));
  }
}

json ContingencyResults(const std::string& study, const json& summary, const std::string& report) {
  json results = summary;
  results.erase("worst");
  results["study"] = study;
  results["report"] = report;
  return results;
}

// The output of a contingency job whose study body is `body`.
json ContingencyOutput(const json& request, const std::string& title, json body, const json& evidence_brief) {
  const std::string study_id = StudyId("n1", request);
  const std::string study = "bver://grid/study/" + study_id;
  grid::ReportData d;
  d.title = title;
  d.network = body["network"];
  d.study = study;
  d.capability = body["capability"];
  d.settings = body["settings"].dump();
  d.converged = true;
  AddOutages(body["outages"], &d);
  json attachment = Attachment(grid::RenderContingencyReport(d), "text/html");
  body["report"] = attachment["digest"];
  json results = ContingencyResults(study, body["summary"], attachment["digest"]);
  // The summary at the top too, where a step or a script reads it first.
  json out = results;
  out["results"] = results;
  out["evidence"] = json::array({evidence_brief});
  out["attachments"] = json::array({attachment});
  out["changeset"] = CreateOne("grid/study", "contingency", study_id, std::move(body));
  return out;
}

// Parts of one N-1 (studies of one network, one settings, part i of n each)
// concatenated in part order: the single run's outage list.
json MergeContingency(const json& request) {
  const json& input = request.at("input");
  const json& parts = input.at("parts");
  const std::string network = Unpinned(input.at("network").get<std::string>());
  std::map<int, const json*> by_index;
  int count = -1;
  std::string pinned_network;
  json settings;
  json studies = json::array();
  for (std::size_t k = 0; k < parts.size(); ++k) {
    const json& entry = parts[k];
    const std::string where = "input.parts[" + std::to_string(k) + "]";
    const std::string ptr = entry.is_string() ? entry.get<std::string>() : entry.value("study", std::string());
    const json& study = Resolved(request, ptr);
    const json& body = study.at("body");
    if (study.value("kind", "") != "contingency") {
      throw Error("invalid_argument", where + ": " + ptr + " is a " + study.value("kind", std::string("?")) +
                                          " study, not a contingency (N-1) study");
    }
    if (Unpinned(body.value("network", "")) != network) {
      throw Error("invalid_argument", where + ": " + ptr + " studies " + body.value("network", std::string("?")) +
                                          ", not " + network);
    }
    json s = body.value("settings", json::object());
    json part = s.value("part", json{{"index", 0}, {"count", 1}});
    s.erase("part");
    const int index = part.value("index", 0), n = part.value("count", 1);
    if (count < 0) {
      count = n;
      pinned_network = body["network"];
      settings = s;
    } else if (n != count || body["network"] != pinned_network || s != settings) {
      throw Error("invalid_argument", where + ": " + ptr +
                                          " is not a part of the same N-1 as the first part (network version, "
                                          "settings and part count must be equal)");
    }
    if (!by_index.emplace(index, &body).second) {
      throw Error("invalid_argument", where + ": part " + std::to_string(index) + " is given twice");
    }
    studies.push_back(Unpinned(study.value("pointer", ptr)));
  }
  if (count < 1 || static_cast<int>(by_index.size()) != count) {
    std::string missing;
    for (int i = 0; i < count; ++i) {
      if (by_index.count(i) == 0) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
    }
    throw Error("invalid_argument", "input.parts: the N-1 has " + std::to_string(count) + " parts; missing part(s) " +
                                        missing);
  }
  json outages = json::array();
  for (auto& [index, body] : by_index) {
    for (const json& o : (*body)["outages"]) outages.push_back(o);
  }
  const json& first = *by_index.begin()->second;
  json body = {{"network", pinned_network},
               {"capability", CapabilityOf(request)},
               {"settings", settings},
               {"converged", true},
               {"iterations", first.value("iterations", 0)},
               {"elements", first.value("elements", 0)},
               {"summary", SummarizeOutages(outages)},
               {"base_violations", first.value("base_violations", json::array())},
               {"outages", std::move(outages)},
               {"evidence", {{"merged_from", studies}}}};
  json brief = {{"merged_parts", count}};
  return ContingencyOutput(request, pinned_network + ": N-1 (" + std::to_string(count) + " parts merged)",
                           std::move(body), brief);
}

}  // namespace

json Contingency(const json& request) {
  const json& input = request.at("input");
  if (input.contains("parts")) return MergeContingency(request);
  auto t0 = Clock::now();
  grid::ElementPointers p;
  grid::Case c = LoadNetwork(request, &p);
  const double load_ms = MsSince(t0);
  grid::ContingencyOptions o;
  o.pf = PowerFlowOptionsFrom(input);
  o.branches = input.value("branches", true);
  o.generators = input.value("generators", true);
  o.threads = input.value("threads", 2);
  json settings = PowerFlowSettings(o.pf);
  settings.erase("dc");
  settings["branches"] = o.branches;
  settings["generators"] = o.generators;
  if (auto part = input.find("part"); part != input.end()) {
    o.part_index = part->value("index", 0);
    o.part_count = part->value("count", 1);
    settings["part"] = {{"index", o.part_index}, {"count", o.part_count}};
  }
  grid::ContingencyResult r;
  std::string error;
  if (!grid::RunContingencies(c, o, &r, &error)) {
    throw Error(error.rfind("part ", 0) == 0 ? "invalid_argument" : "failed_precondition",
                "network " + p.network + ": " + error);
  }
  json outages = json::array();
  for (const grid::OutageResult& out : r.outages) outages.push_back(OutageJson(p, out));
  json base_violations = ViolationsJson(p, r.base_violations);
  json time = {{"load", load_ms}, {"base", r.timing.base_ms}, {"outages", r.timing.outages_ms}};
  json body = {{"network", p.network},
               {"capability", CapabilityOf(request)},
               {"settings", settings},
               {"converged", r.base.converged},
               {"iterations", r.base.iterations},
               {"elements", p.elements()},
               {"summary", SummarizeOutages(outages)},
               {"base_violations", std::move(base_violations)},
               {"outages", std::move(outages)},
               {"evidence",
                {{"time_ms", time},
                 {"threads", o.threads},
                 {"total_outages", r.total_outages},
                 {"first_outage", r.first_outage}}}};
  std::string title = (c.name.empty() ? p.network : c.name) + ": N-1";
  if (o.part_count > 1) title += " (part " + std::to_string(o.part_index + 1) + " of " + std::to_string(o.part_count) + ")";
  return ContingencyOutput(request, title, std::move(body), {{"time_ms", time}, {"outages", r.outages.size()}});
}

// ---------------------------------------------------------------------------
// Short circuit

json ShortCircuit(const json& request) {
  const json& input = request.at("input");
  auto t0 = Clock::now();
  grid::ElementPointers p;
  grid::Case c = LoadNetwork(request, &p);
  const double load_ms = MsSince(t0);
  grid::ShortCircuitOptions o;
  o.c = input.value("c", 1.1);
  o.default_x_subtransient = input.value("default_x_subtransient_pu", 0.2);
  grid::ShortCircuitResult r;
  std::string error;
  if (!grid::ComputeShortCircuit(c, o, &r, &error)) {
    throw Error("failed_precondition", "network " + p.network + " cannot be studied: " + error);
  }
  json buses = json::array();
  grid::ReportData d;
  std::size_t hi = c.bus.size(), lo = c.bus.size();
  int computed = 0;
  for (std::size_t i = 0; i < c.bus.size(); ++i) {
    const double ik = r.ik_ka[i];
    buses.push_back({{"bus", p.bus[i]},
                     {"number", c.bus[i].number},
                     {"base_kv", c.bus[i].base_kv},
                     {"ik_ka", NumberOrNull(ik)},
                     {"zkk_pu", NumberOrNull(r.zkk_abs[i])},
                     {"zkk_re_pu", NumberOrNull(r.zkk_re[i])},
                     {"zkk_im_pu", NumberOrNull(r.zkk_im[i])}});
    d.faults.push_back({c.bus[i].number, c.bus[i].name, c.bus[i].base_kv, ik});
    if (!std::isfinite(ik)) continue;
    ++computed;
    if (hi == c.bus.size() || ik > r.ik_ka[hi]) hi = i;
    if (lo == c.bus.size() || ik < r.ik_ka[lo]) lo = i;
  }
  auto pointers_of = [&](const std::vector<int>& list) {
    json out = json::array();
    for (int b : list) out.push_back(p.bus[static_cast<std::size_t>(b)]);
    return out;
  };
  json summary = {{"buses", c.bus.size()},
                  {"computed", computed},
                  {"no_ground_buses", pointers_of(r.no_ground_buses)},
                  {"no_base_kv_buses", pointers_of(r.no_base_kv_buses)}};
  if (hi < c.bus.size()) {
    summary["max_ik"] = {{"ka", r.ik_ka[hi]}, {"bus", p.bus[hi]}, {"number", c.bus[hi].number}};
    summary["min_ik"] = {{"ka", r.ik_ka[lo]}, {"bus", p.bus[lo]}, {"number", c.bus[lo].number}};
  }
  const std::string study_id = StudyId("sc", request);
  const std::string study = "bver://grid/study/" + study_id;
  json settings = {{"c", o.c}, {"default_x_subtransient_pu", o.default_x_subtransient}, {"method", "IEC 60909 Ik'' (equivalent voltage source, no K_T/K_G)"}};
  d.title = (c.name.empty() ? p.network : c.name) + ": three-phase short circuit (Ik'')";
  d.network = p.network;
  d.study = study;
  d.capability = CapabilityOf(request);
  d.settings = "c = " + std::to_string(o.c) + ", X''d = " + std::to_string(o.default_x_subtransient) +
               " p.u. where not given; loads, shunts and line charging neglected";
  d.converged = true;
  json attachment = Attachment(grid::RenderShortCircuitReport(d), "text/html");
  json time = {{"load", load_ms}, {"ybus", r.timing.ybus_ms}, {"factor", r.timing.factor_ms},
               {"diagonal", r.timing.diagonal_ms}};
  json body = {{"network", p.network},
               {"capability", CapabilityOf(request)},
               {"settings", settings},
               {"converged", true},
               {"elements", p.elements()},
               {"summary", summary},
               {"evidence", {{"time_ms", time}, {"warnings", r.warnings}}},
               {"report", attachment["digest"]},
               {"buses", std::move(buses)}};
  json results = {{"study", study}, {"report", attachment["digest"]}, {"computed", computed},
                  {"no_ground_buses", r.no_ground_buses.size()}};
  if (summary.contains("max_ik")) {
    results["max_ik"] = summary["max_ik"];
    results["min_ik"] = summary["min_ik"];
  }
  json out = results;
  out["results"] = results;
  out["evidence"] = json::array({{{"time_ms", time}}});
  out["attachments"] = json::array({attachment});
  out["changeset"] = CreateOne("grid/study", "shortcircuit", study_id, std::move(body));
  return out;
}

// ---------------------------------------------------------------------------
// Check

json Check(const json& request) {
  const json& input = request.at("input");
  const std::string net = input.at("network").get<std::string>();
  const json& network = Resolved(request, net);
  grid::Case c;
  grid::ElementPointers p;
  std::string why;
  json findings = json::array();
  if (!grid::CaseFromReferences(network, Related(request, net), &c, &p, &why)) {
    // The model itself is inconsistent (a branch to a bus of another
    // network, two buses with one number): that is the finding.
    std::size_t colon = why.find(": ");
    std::string pointer = why.rfind("bver://", 0) == 0 && colon != std::string::npos ? why.substr(0, colon)
                                                                                      : network.value("pointer", net);
    findings.push_back({{"severity", "error"}, {"pointer", pointer}, {"rule", "model.consistency"}, {"message", why}});
    return {{"passed", false}, {"findings", findings}, {"summary", {{"errors", 1}, {"warnings", 0}, {"infos", 0}}}};
  }
  grid::CheckOptions o;
  if (input.contains("max_findings_per_rule")) o.max_findings_per_rule = input["max_findings_per_rule"].get<int>();
  grid::CheckReport rep = grid::CheckNetwork(c, p, o);
  for (const grid::Finding& f : rep.findings) {
    findings.push_back({{"severity", f.severity}, {"pointer", f.pointer}, {"rule", f.rule}, {"message", f.message}});
  }
  json summary = {{"islands", rep.summary.islands},
                  {"energized_islands", rep.summary.energized_islands},
                  {"errors", rep.summary.errors},
                  {"warnings", rep.summary.warnings},
                  {"infos", rep.summary.infos},
                  {"elements", p.elements()}};
  return {{"passed", rep.passed}, {"findings", std::move(findings)}, {"summary", summary}, {"network", p.network}};
}

// ---------------------------------------------------------------------------
// Evaluate

namespace {

// Metrics of a network computed here: power flow, N-1, fault levels.
json ComputeMetrics(const json& request, const char* field, bool n1, bool sc, grid::ReportData* report) {
  grid::ElementPointers p;
  grid::Case c = LoadNetwork(request, &p, field);
  json m = {{"network", p.network}};
  grid::ContingencyOptions o;
  o.pf = PowerFlowOptionsFrom(request.at("input"));
  o.branches = o.generators = n1;
  o.threads = 2;
  grid::ContingencyResult r;
  std::string error;
  if (!grid::RunContingencies(c, o, &r, &error)) {
    throw Error("failed_precondition", std::string("input.") + field + " " + p.network + ": " + error);
  }
  const grid::PowerFlowResult& pf = r.base;
  double losses = 0, vmin = 0, vmax = 0, loading = -1;
  int low = 0;
  for (std::size_t l = 0; l < c.branch.size(); ++l) {
    losses += pf.p_from[l] + pf.p_to[l];
    const grid::Branch& br = c.branch[l];
    if (br.status == 0 || !(br.rate_a > 0)) continue;
    loading = std::max(loading, 100 * std::max(std::hypot(pf.p_from[l], pf.q_from[l]),
                                               std::hypot(pf.p_to[l], pf.q_to[l])) / br.rate_a);
  }
  for (std::size_t b = 0; b < c.bus.size(); ++b) {
    const double vm = pf.vm[b];
    if (!(vm > 0)) continue;
    vmin = vmin == 0 ? vm : std::min(vmin, vm);
    vmax = std::max(vmax, vm);
    low += vm < 0.95;
    if (report != nullptr) {
      report->buses.push_back({c.bus[b].number, c.bus[b].name, vm, pf.va_deg[b], c.bus[b].vmin, c.bus[b].vmax});
    }
  }
  m["losses_mw"] = losses;
  m["vm_min_pu"] = vmin;
  m["vm_max_pu"] = vmax;
  m["low_voltage_buses"] = low;
  if (loading >= 0) m["max_loading_pct"] = loading;
  m["base_violations"] = r.base_violations.size();
  if (n1) {
    json outages = json::array();
    for (const grid::OutageResult& out : r.outages) outages.push_back(OutageJson(p, out));
    json s = SummarizeOutages(outages);
    m["n1_outages"] = s["outages"];
    m["n1_violations"] = s["voltage_violations"].get<int>() + s["thermal_violations"].get<int>();
    m["n1_outages_with_violations"] = s["with_violations"];
    m["n1_islanding"] = s["islanding"];
    m["n1_not_converged"] = s["not_converged"];
    if (report != nullptr) AddOutages(outages, report);
  }
  if (sc) {
    grid::ShortCircuitResult f;
    if (!grid::ComputeShortCircuit(c, grid::ShortCircuitOptions(), &f, &error)) {
      throw Error("failed_precondition", std::string("input.") + field + " " + p.network + ": " + error);
    }
    double hi = 0;
    for (double ik : f.ik_ka) {
      if (std::isfinite(ik)) hi = std::max(hi, ik);
    }
    m["max_ik_ka"] = hi;
  }
  return m;
}

// Metrics read from stored studies of the network (the study loop's), and
// the combined report: voltage profile, loadings, N-1 and fault levels.
json StudyMetrics(const json& request, grid::ReportData* report) {
  const json& input = request.at("input");
  const std::string network = Unpinned(input.at("network").get<std::string>());
  json m = json::object();
  json used = json::array();
  std::map<int, std::pair<std::string, std::pair<double, double>>> bus_info;  // number -> name, vmin/vmax
  grid::ElementPointers p;
  grid::Case c = LoadNetwork(request, &p);
  for (const grid::Bus& b : c.bus) bus_info[b.number] = {b.name, {b.vmin, b.vmax}};
  for (std::size_t k = 0; k < input["studies"].size(); ++k) {
    const std::string ptr = input["studies"][k].get<std::string>();
    const json& study = Resolved(request, ptr);
    const json& body = study.at("body");
    const std::string kind = study.value("kind", "");
    if (Unpinned(body.value("network", "")) != network) {
      throw Error("invalid_argument", "input.studies[" + std::to_string(k) + "]: " + ptr + " studies " +
                                          body.value("network", std::string("?")) + ", not " + network);
    }
    m["network"] = body["network"];
    used.push_back(study.value("pointer", ptr));
    const json& s = body.value("summary", json::object());
    if (kind == "powerflow") {
      m["converged"] = body.value("converged", false);
      if (s.contains("losses_mw")) m["losses_mw"] = s["losses_mw"];
      if (s.contains("min_vm_pu")) m["vm_min_pu"] = s["min_vm_pu"]["value"];
      if (s.contains("max_vm_pu")) m["vm_max_pu"] = s["max_vm_pu"]["value"];
      if (s.contains("max_loading")) m["max_loading_pct"] = s["max_loading"]["pct"];
      if (s.contains("low_voltage_buses")) m["low_voltage_buses"] = s["low_voltage_buses"].size();
      for (const json& b : body.value("buses", json::array())) {
        const auto& info = bus_info[b.value("number", 0)];
        report->buses.push_back({b.value("number", 0), info.first, b.value("vm_pu", 0.0), b.value("va_deg", 0.0),
                                 info.second.first, info.second.second});
      }
      for (const json& br : body.value("branches", json::array())) {
        const double sf = std::hypot(br.value("p_from_mw", 0.0), br.value("q_from_mvar", 0.0));
        const double st = std::hypot(br.value("p_to_mw", 0.0), br.value("q_to_mvar", 0.0));
        report->branches.push_back({br.value("from", 0), br.value("to", 0), br.value("branch", ""),
                                    br.value("loading_pct", -1.0), br.value("p_from_mw", 0.0),
                                    br.value("q_from_mvar", 0.0), std::max(sf, st)});
      }
      report->losses_mw = s.value("losses_mw", 0.0);
      report->converged = body.value("converged", false);
      report->iterations = body.value("iterations", 0);
    } else if (kind == "contingency") {
      m["n1_outages"] = s.value("outages", 0);
      m["n1_violations"] = s.value("voltage_violations", 0) + s.value("thermal_violations", 0);
      m["n1_outages_with_violations"] = s.value("with_violations", 0);
      m["n1_islanding"] = s.value("islanding", 0);
      m["n1_not_converged"] = s.value("not_converged", 0);
      AddOutages(body.value("outages", json::array()), report);
    } else if (kind == "shortcircuit") {
      if (s.contains("max_ik")) m["max_ik_ka"] = s["max_ik"]["ka"];
      for (const json& b : body.value("buses", json::array())) {
        const json& ik = b["ik_ka"];
        report->faults.push_back({b.value("number", 0), bus_info[b.value("number", 0)].first, b.value("base_kv", 0.0),
                                  ik.is_number() ? ik.get<double>() : std::numeric_limits<double>::quiet_NaN()});
      }
    } else {
      throw Error("invalid_argument", "input.studies[" + std::to_string(k) + "]: " + ptr + " is a " + kind +
                                          " study; evaluate reads powerflow, contingency and shortcircuit studies");
    }
  }
  m["studies"] = used;
  return m;
}

}  // namespace

json Evaluate(const json& request) {
  const json& input = request.at("input");
  const bool n1 = input.value("contingency", true);
  const bool sc = input.value("shortcircuit", true);
  grid::ReportData report;
  json metrics;
  json out = json::object();
  if (input.contains("studies")) {
    if (input.contains("alternative")) {
      throw Error("invalid_argument", "input: give either studies (read the loop's results) or alternative "
                                      "(compute and compare two networks), not both");
    }
    metrics = StudyMetrics(request, &report);
    report.title = metrics.value("network", std::string("network")) + ": power flow, N-1 and fault levels";
    report.network = metrics.value("network", std::string());
    report.capability = CapabilityOf(request);
    report.settings = "from the studies " + metrics["studies"].dump();
    json attachment = Attachment(grid::RenderPowerFlowReport(report), "text/html");
    out["report"] = attachment["digest"];
    out["attachments"] = json::array({attachment});
  } else {
    metrics = ComputeMetrics(request, "network", n1, sc, nullptr);
    if (input.contains("alternative")) {
      json alt = ComputeMetrics(request, "alternative", n1, sc, nullptr);
      json comparison = json::object();
      for (auto it = metrics.begin(); it != metrics.end(); ++it) {
        if (!it->is_number() || !alt.contains(it.key())) continue;
        comparison[it.key()] = {{"network", *it},
                                {"alternative", alt[it.key()]},
                                {"delta", alt[it.key()].get<double>() - it->get<double>()}};
      }
      out["alternatives"] = json::array({metrics, alt});
      out["comparison"] = comparison;
    }
  }
  out["metrics"] = metrics;
  return out;
}

}  // namespace grid_plugin
