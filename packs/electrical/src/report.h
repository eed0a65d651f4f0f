// The HTML report of a power-flow study: a self-contained page (inline CSS
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
};

std::string RenderPowerFlowReport(const ReportData& data);

// HTML-escapes text (&, <, >, ", ').
std::string HtmlEscape(const std::string& text);

}  // namespace grid
