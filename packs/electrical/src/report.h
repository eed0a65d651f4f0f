// The HTML reports of the studies. A power-flow study's: a self-contained page (inline CSS
// and SVG, no script, nothing loaded from elsewhere) with the voltage profile
// by bus, the distribution of branch loadings, the most loaded branches and
// the lowest voltages, and the solver's evidence. `bver up` serves it as the
// study's `report` artifact (GET /v1/artifacts/{digest}?type=text/html).
#pragma once

#include <string>
#include <vector>

namespace grid {

struct ReportBus {
  int number = 0;
  std::string name;
  double vm = 0, va = 0, vmin = 0.9, vmax = 1.1;
};

struct ReportBranch {
  int from = 0, to = 0;
  std::string pointer;
  double loading_pct = -1;  // < 0: no rating
  double p_from = 0, q_from = 0;
  double s_max_mva = 0;     // max(|S_from|, |S_to|)
};

// One outage of an N-1, as the report shows it.
struct ReportOutage {
  std::string label;    // "branch 4-7", "gen at bus 30"
  std::string pointer;
  bool islanding = false, converged = false;
  int voltage_violations = 0, thermal_violations = 0;
  double worst_vm = 0;             // lowest energized voltage after it; 0: not known
  double worst_loading_pct = -1;   // highest loading after it; < 0: none rated
};

// One bus's fault level.
struct ReportFault {
  int number = 0;
  std::string name;
  double base_kv = 0;
  double ik_ka = 0;  // NaN: no value (no path to ground, no base kV)
};

struct ReportData {
  std::string title;      // "case118: AC power flow"
  std::string network;    // pointer, pinned
  std::string study;      // pointer
  std::string capability; // capability@version
  std::string settings;   // one line
  bool converged = false;
  int iterations = 0;
  std::string message;
  std::vector<double> mismatch;  // per iteration, p.u.
  double load_ms = 0, ybus_ms = 0, factorize_ms = 0, iterate_ms = 0;
  std::vector<ReportBus> buses;
  std::vector<ReportBranch> branches;
  double losses_mw = 0;
  // Optional sections, rendered when not empty: the N-1 and fault levels.
  std::vector<ReportOutage> outages;
  int n1_total = 0;
  std::vector<ReportFault> faults;
};

// The power flow, then the N-1 and fault-level sections when present (the
// study loop's combined report).
std::string RenderPowerFlowReport(const ReportData& data);
// An N-1 study's report: the outages ranked by violations, the
// post-contingency loadings, the worst outages.
std::string RenderContingencyReport(const ReportData& data);
// A short-circuit study's report: the fault-level profile by voltage level
// and the highest fault levels.
std::string RenderShortCircuitReport(const ReportData& data);

// HTML-escapes text (&, <, >, ", ').
std::string HtmlEscape(const std::string& text);

}  // namespace grid
