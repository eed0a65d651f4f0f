#include "packs/electrical/src/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <numeric>
#include <sstream>

namespace grid {
namespace {

std::string Fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// Chart geometry shared by both plots (SVG user units).
constexpr double kWidth = 900, kHeight = 300, kLeft = 60, kRight = 20, kTop = 20, kBottom = 40;

double X(double i, double n) { return kLeft + (n <= 1 ? 0 : i / (n - 1)) * (kWidth - kLeft - kRight); }
double Y(double v, double lo, double hi) { return kTop + (hi - v) / (hi - lo) * (kHeight - kTop - kBottom); }

void Axis(std::ostringstream& o, double lo, double hi, int ticks, const char* format, const std::string& xlabel,
          const std::string& ylabel) {
  o << "<line x1='" << kLeft << "' y1='" << kHeight - kBottom << "' x2='" << kWidth - kRight << "' y2='"
    << kHeight - kBottom << "' class='axis'/>";
  o << "<line x1='" << kLeft << "' y1='" << kTop << "' x2='" << kLeft << "' y2='" << kHeight - kBottom
    << "' class='axis'/>";
  for (int t = 0; t <= ticks; ++t) {
    double v = lo + (hi - lo) * t / ticks;
    double y = Y(v, lo, hi);
    o << "<line x1='" << kLeft << "' y1='" << y << "' x2='" << kWidth - kRight << "' y2='" << y
      << "' class='grid'/><text x='" << kLeft - 6 << "' y='" << y + 4 << "' class='tick' text-anchor='end'>"
      << Fmt(format, v) << "</text>";
  }
  o << "<text x='" << (kWidth + kLeft) / 2 << "' y='" << kHeight - 6 << "' class='label' text-anchor='middle'>"
    << HtmlEscape(xlabel) << "</text>";
  o << "<text x='14' y='" << (kHeight - kBottom + kTop) / 2 << "' class='label' text-anchor='middle' "
    << "transform='rotate(-90 14 " << (kHeight - kBottom + kTop) / 2 << ")'>" << HtmlEscape(ylabel) << "</text>";
}

std::string VoltageProfile(const ReportData& d) {
  std::ostringstream o;
  const std::size_t n = d.buses.size();
  double lo = 0.95, hi = 1.05;
  for (const ReportBus& b : d.buses) {
    if (b.vm <= 0) continue;  // de-energized
    lo = std::min(lo, b.vm);
    hi = std::max(hi, b.vm);
  }
  // Ticks every 0.05 p.u., so the 0.95 and 1.05 lines fall on them.
  lo = std::floor(lo / 0.05 + 1e-9) * 0.05;
  hi = std::ceil(hi / 0.05 - 1e-9) * 0.05;
  if (hi - lo < 0.1) hi = lo + 0.1;
  const int ticks = static_cast<int>(std::lround((hi - lo) / 0.05));
  o << "<svg viewBox='0 0 " << kWidth << " " << kHeight << "' role='img' aria-label='Voltage profile'>";
  Axis(o, lo, hi, ticks, "%.2f", "buses in network order (" + std::to_string(n) + ")", "Vm (p.u.)");
  for (double limit : {0.95, 1.05}) {
    if (limit > lo && limit < hi) {
      double y = Y(limit, lo, hi);
      o << "<line x1='" << kLeft << "' y1='" << y << "' x2='" << kWidth - kRight << "' y2='" << y
        << "' class='limit'/>";
    }
  }
  // One polyline for the profile, dots only for buses out of 0.95-1.05.
  o << "<polyline class='profile' points='";
  for (std::size_t i = 0; i < n; ++i) {
    if (d.buses[i].vm <= 0) continue;
    o << Fmt("%.1f", X(static_cast<double>(i), static_cast<double>(n))) << ","
      << Fmt("%.1f", Y(d.buses[i].vm, lo, hi)) << " ";
  }
  o << "'/>";
  for (std::size_t i = 0; i < n; ++i) {
    const ReportBus& b = d.buses[i];
    if (b.vm <= 0 || (b.vm >= 0.95 && b.vm <= 1.05)) continue;
    o << "<circle r='3' class='" << (b.vm < 0.95 ? "low" : "high") << "' cx='"
      << Fmt("%.1f", X(static_cast<double>(i), static_cast<double>(n))) << "' cy='" << Fmt("%.1f", Y(b.vm, lo, hi))
      << "'><title>bus " << b.number << ": " << Fmt("%.4f", b.vm) << " p.u.</title></circle>";
  }
  o << "</svg>";
  return o.str();
}

// Branches by loading (% of RATE_A, 10 % bins to 150 %, then one bin for
// the rest); a case without ratings gets the distribution of its flows in
// MVA instead, so the chart always says something.
std::string LoadingHistogram(const ReportData& d) {
  constexpr int kBins = 16;
  std::vector<int> bins(kBins, 0);
  int rated = 0;
  double s_max = 0;
  for (const ReportBranch& b : d.branches) {
    if (b.loading_pct >= 0) ++rated;
    s_max = std::max(s_max, b.s_max_mva);
  }
  const bool by_rating = rated > 0;
  // MVA bins: a round width (1, 2 or 5 times a power of ten) covering the largest flow.
  double width = 10;
  if (!by_rating) {
    double raw = std::max(s_max, 1.0) / kBins;
    double p10 = std::pow(10.0, std::floor(std::log10(raw)));
    width = raw <= p10 ? p10 : raw <= 2 * p10 ? 2 * p10 : raw <= 5 * p10 ? 5 * p10 : 10 * p10;
  }
  for (const ReportBranch& b : d.branches) {
    double v = by_rating ? b.loading_pct : b.s_max_mva;
    if (v < 0) continue;
    int k = std::min(kBins - 1, static_cast<int>(v / width));
    ++bins[static_cast<std::size_t>(k)];
  }
  int top = std::max(1, *std::max_element(bins.begin(), bins.end()));
  int ticks = std::min(top, 4);
  top = (top + ticks - 1) / ticks * ticks;  // whole numbers on every tick
  std::ostringstream o;
  o << "<svg viewBox='0 0 " << kWidth << " " << kHeight << "' role='img' aria-label='Branch loading distribution'>";
  std::string xlabel = by_rating ? "loading (% of RATE_A), " + std::to_string(rated) + " rated branches"
                                 : "no ratings in this network: branch flow max(|S from|, |S to|) in MVA, " +
                                       std::to_string(d.branches.size()) + " branches";
  Axis(o, 0, top, ticks, "%.0f", xlabel, "branches");
  const double slot = (kWidth - kLeft - kRight) / kBins;
  for (int k = 0; k < kBins; ++k) {
    double h = static_cast<double>(bins[static_cast<std::size_t>(k)]) / top * (kHeight - kTop - kBottom);
    double x = kLeft + k * slot + 2;
    std::string from = Fmt("%g", k * width), to = Fmt("%g", (k + 1) * width);
    o << "<rect class='" << (by_rating && k >= 10 ? "over" : "bar") << "' x='" << Fmt("%.1f", x) << "' y='"
      << Fmt("%.1f", kHeight - kBottom - h) << "' width='" << Fmt("%.1f", slot - 4) << "' height='"
      << Fmt("%.1f", h) << "'><title>" << from << (k == kBins - 1 ? "+" : "-" + to) << (by_rating ? " %" : " MVA")
      << ": " << bins[static_cast<std::size_t>(k)] << "</title></rect>";
    if (k % 2 == 0) {
      o << "<text class='tick' text-anchor='middle' x='" << Fmt("%.1f", x + slot / 2) << "' y='"
        << kHeight - kBottom + 14 << "'>" << from << (by_rating ? "%" : "") << "</text>";
    }
  }
  o << "</svg>";
  return o.str();
}

// The page's head and styles, shared by every report.
void Head(std::ostringstream& o, const std::string& title) {
  o << "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>" << HtmlEscape(title)
    << "</title><style>"
       "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1d2733;background:#fff}"
       "h1{font-size:20px}h2{font-size:16px;margin-top:28px}"
       "table{border-collapse:collapse}td,th{border-bottom:1px solid #dde;padding:3px 10px;text-align:right}"
       "th{background:#f2f4f8}td.l,th.l{text-align:left}"
       ".ok{color:#17803d;font-weight:600}.bad{color:#b42318;font-weight:600}"
       "svg{width:100%;max-width:900px;height:auto;border:1px solid #e4e7ee;background:#fbfcfe}"
       ".axis{stroke:#555}.grid{stroke:#e6e8ee}.tick,.label{font-size:11px;fill:#444}"
       ".profile{fill:none;stroke:#2563eb;stroke-width:1.2}.limit{stroke:#d97706;stroke-dasharray:5 4}"
       ".low{fill:#b42318}.high{fill:#7c3aed}.bar{fill:#2563eb}.over{fill:#b42318}"
       "code{font-size:12px;background:#f2f4f8;padding:1px 4px}"
       ".vv{fill:#d97706}.tv{fill:#b42318}.isl{fill:#64748b}.nc{fill:#111}.pt{fill:#2563eb}.legend{font-size:11px}"
       "</style></head><body>";
}


// N-1: outages ranked by violations (stacked voltage / thermal), the
// post-contingency worst loading of every outage, the worst outages.
std::string N1Section(const ReportData& d) {
  std::ostringstream o;
  int islanding = 0, not_converged = 0, with = 0;
  for (const ReportOutage& x : d.outages) {
    islanding += x.islanding;
    not_converged += !x.converged;
    with += x.voltage_violations + x.thermal_violations > 0;
  }
  o << "<h2>N-1</h2><p>" << d.n1_total << " outages: " << islanding << " islanding, " << not_converged
    << " not converged, " << with << " with violations.</p>";
  std::vector<const ReportOutage*> ranked;
  for (const ReportOutage& x : d.outages) ranked.push_back(&x);
  auto weight = [](const ReportOutage* x) {
    return (x->converged ? 0 : 100000) + x->voltage_violations + x->thermal_violations;
  };
  std::stable_sort(ranked.begin(), ranked.end(),
                   [&](const ReportOutage* a, const ReportOutage* b) { return weight(a) > weight(b); });
  // (a) the 30 outages with the most violations.
  std::vector<const ReportOutage*> top;
  for (const ReportOutage* x : ranked) {
    if (top.size() == 30) break;
    if (x->voltage_violations + x->thermal_violations > 0 || !x->converged) top.push_back(x);
  }
  if (!top.empty()) {
    int most = 1;
    for (const ReportOutage* x : top) most = std::max(most, x->voltage_violations + x->thermal_violations);
    const int ticks = std::min(most, 4);
    const double hi = static_cast<double>((most + ticks - 1) / ticks * ticks);
    o << "<h3>Outages with the most violations</h3><svg viewBox='0 0 " << kWidth << " " << kHeight
      << "' role='img' aria-label='N-1 violations by outage'>";
    Axis(o, 0, hi, ticks, "%.0f", "outages, worst first (orange: voltage, red: thermal, grey: islanding, black: not converged)",
         "violations");
    const double slot = (kWidth - kLeft - kRight) / 30.0;
    for (std::size_t k = 0; k < top.size(); ++k) {
      const ReportOutage& x = *top[k];
      const double x0 = kLeft + static_cast<double>(k) * slot + 2;
      double base = kHeight - kBottom;
      auto bar = [&](int count, const char* cls) {
        if (count <= 0) return;
        double h = count / hi * (kHeight - kTop - kBottom);
        o << "<rect class='" << cls << "' x='" << Fmt("%.1f", x0) << "' y='" << Fmt("%.1f", base - h) << "' width='"
          << Fmt("%.1f", slot - 4) << "' height='" << Fmt("%.1f", h) << "'><title>" << HtmlEscape(x.label) << ": "
          << count << "</title></rect>";
        base -= h;
      };
      if (!x.converged) {
        bar(static_cast<int>(hi), "nc");
      } else {
        bar(x.voltage_violations, x.islanding ? "isl" : "vv");
        bar(x.thermal_violations, x.islanding ? "isl" : "tv");
      }
    }
    o << "</svg>";
  }
  // (b) the worst loading after each outage, list order, one column per
  // pixel at most (the maximum of the outages that share it).
  bool rated = false;
  double peak = 100;
  for (const ReportOutage& x : d.outages) {
    rated |= x.worst_loading_pct >= 0;
    peak = std::max(peak, x.worst_loading_pct);
  }
  if (rated) {
    const double hi = std::ceil(peak / 50) * 50;
    o << "<h3>Worst branch loading after each outage</h3><svg viewBox='0 0 " << kWidth << " " << kHeight
      << "' role='img' aria-label='Post-contingency loading'>";
    Axis(o, 0, hi, static_cast<int>(hi / 50), "%.0f", "outages in list order (" + std::to_string(d.outages.size()) + ")",
         "loading (% of RATE_A)");
    const double y100 = Y(100, 0, hi);
    o << "<line x1='" << kLeft << "' y1='" << y100 << "' x2='" << kWidth - kRight << "' y2='" << y100
      << "' class='limit'/>";
    const int columns = static_cast<int>(kWidth - kLeft - kRight);
    std::vector<double> col(static_cast<std::size_t>(columns), -1);
    const double n = static_cast<double>(d.outages.size());
    for (std::size_t k = 0; k < d.outages.size(); ++k) {
      const double v = d.outages[k].worst_loading_pct;
      if (v < 0) continue;
      std::size_t c = static_cast<std::size_t>(std::min<double>(columns - 1, (X(static_cast<double>(k), n) - kLeft)));
      col[c] = std::max(col[c], v);
    }
    for (int c = 0; c < columns; ++c) {
      const double v = col[static_cast<std::size_t>(c)];
      if (v < 0) continue;
      o << "<rect class='" << (v > 100 ? "tv" : "pt") << "' x='" << kLeft + c - 1 << "' y='" << Fmt("%.1f", Y(v, 0, hi) - 1)
        << "' width='2.4' height='2.4'/>";
    }
    o << "</svg>";
  }
  // (c) the worst 20.
  o << "<h3>Worst outages</h3><table><tr><th class='l'>outage</th><th>voltage</th><th>thermal</th>"
       "<th>lowest V (p.u.)</th><th>worst loading</th><th class='l'>state</th></tr>";
  for (std::size_t k = 0; k < ranked.size() && k < 20; ++k) {
    const ReportOutage& x = *ranked[k];
    o << "<tr><td class='l'><code>" << HtmlEscape(x.label) << "</code></td><td>" << x.voltage_violations << "</td><td>"
      << x.thermal_violations << "</td><td>" << (x.worst_vm > 0 ? Fmt("%.4f", x.worst_vm) : std::string("-"))
      << "</td><td>" << (x.worst_loading_pct >= 0 ? Fmt("%.1f", x.worst_loading_pct) + " %" : std::string("-"))
      << "</td><td class='l'>" << (!x.converged ? "not converged" : x.islanding ? "islanding" : "solved")
      << "</td></tr>";
  }
  o << "</table>";
  return o.str();
}

// Fault levels: Ik'' by bus (network order), coloured by voltage level, on a
// log scale when they span more than two decades; the ten highest.
std::string FaultSection(const ReportData& d) {
  static const char* kColors[] = {"#2563eb", "#b42318", "#17803d", "#7c3aed", "#d97706", "#0891b2"};
  std::ostringstream o;
  std::map<double, int> levels;  // base kV -> colour index (the six highest levels; grey for the rest)
  double lo = 0, hi = 0;
  int missing = 0;
  for (const ReportFault& f : d.faults) {
    if (!std::isfinite(f.ik_ka) || f.ik_ka <= 0) {
      ++missing;
      continue;
    }
    lo = lo == 0 ? f.ik_ka : std::min(lo, f.ik_ka);
    hi = std::max(hi, f.ik_ka);
    levels[-f.base_kv] = 0;
  }
  o << "<h2>Fault levels (three-phase Ik'')</h2>";
  if (hi <= 0) {
    o << "<p>No bus has a fault level (" << missing << " without a path to ground or a base voltage).</p>";
    return o.str();
  }
  int next = 0;
  for (auto& [kv, colour] : levels) colour = next < 6 ? next++ : -1;
  const bool log = hi / lo > 100;
  const double ylo = log ? std::pow(10, std::floor(std::log10(lo))) : 0;
  const double yhi = log ? std::pow(10, std::ceil(std::log10(hi))) : std::ceil(hi / 5) * 5;
  auto y = [&](double v) { return log ? Y(std::log10(v), std::log10(ylo), std::log10(yhi)) : Y(v, ylo, yhi); };
  o << "<svg viewBox='0 0 " << kWidth << " " << kHeight << "' role='img' aria-label='Fault level profile'>";
  if (log) {
    const int decades = static_cast<int>(std::lround(std::log10(yhi / ylo)));
    Axis(o, std::log10(ylo), std::log10(yhi), decades, "1e%.0f",
         "buses in network order (" + std::to_string(d.faults.size()) + ")", "Ik'' (kA, log scale)");
  } else {
    Axis(o, ylo, yhi, 5, "%.0f", "buses in network order (" + std::to_string(d.faults.size()) + ")", "Ik'' (kA)");
  }
  const double n = static_cast<double>(d.faults.size());
  for (std::size_t k = 0; k < d.faults.size(); ++k) {
    const ReportFault& f = d.faults[k];
    if (!std::isfinite(f.ik_ka) || f.ik_ka <= 0) continue;
    const int c = levels[-f.base_kv];
    o << "<rect x='" << Fmt("%.1f", X(static_cast<double>(k), n) - 1.2) << "' y='" << Fmt("%.1f", y(f.ik_ka) - 1.2)
      << "' width='2.4' height='2.4' fill='" << (c >= 0 ? kColors[c] : "#94a3b8") << "'/>";
  }
  double lx = kLeft + 10;
  for (const auto& [kv, c] : levels) {
    if (c < 0) continue;
    o << "<rect x='" << lx << "' y='" << kTop + 2 << "' width='10' height='10' fill='" << kColors[c]
      << "'/><text class='legend' x='" << lx + 14 << "' y='" << kTop + 11 << "'>" << Fmt("%g", -kv) << " kV</text>";
    lx += 80;
  }
  o << "</svg>";
  if (missing > 0) o << "<p>" << missing << " bus(es) without a value are left out.</p>";
  std::vector<const ReportFault*> sorted;
  for (const ReportFault& f : d.faults) {
    if (std::isfinite(f.ik_ka)) sorted.push_back(&f);
  }
  std::sort(sorted.begin(), sorted.end(), [](const ReportFault* a, const ReportFault* b) { return a->ik_ka > b->ik_ka; });
  o << "<h3>Highest fault levels</h3><table><tr><th>bus</th><th class='l'>name</th><th>base kV</th><th>Ik'' (kA)</th></tr>";
  for (std::size_t k = 0; k < sorted.size() && k < 10; ++k) {
    o << "<tr><td>" << sorted[k]->number << "</td><td class='l'>" << HtmlEscape(sorted[k]->name) << "</td><td>"
      << Fmt("%g", sorted[k]->base_kv) << "</td><td>" << Fmt("%.2f", sorted[k]->ik_ka) << "</td></tr>";
  }
  o << "</table>";
  return o.str();
}

// The title and the study line of a study's report.
void Intro(std::ostringstream& o, const ReportData& d) {
  o << "<h1>" << HtmlEscape(d.title) << "</h1>";
  o << "<p>Study <code>" << HtmlEscape(d.study) << "</code> of network <code>" << HtmlEscape(d.network)
    << "</code>, computed by <code>" << HtmlEscape(d.capability) << "</code> (" << HtmlEscape(d.settings) << ").</p>";
}

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderPowerFlowReport(const ReportData& d) {
  std::ostringstream o;
  Head(o, d.title);
  o << "<h1>" << HtmlEscape(d.title) << "</h1>";
  o << "<p>Study <code>" << HtmlEscape(d.study) << "</code> of network <code>" << HtmlEscape(d.network)
    << "</code>, computed by <code>" << HtmlEscape(d.capability) << "</code> (" << HtmlEscape(d.settings) << ").</p>";
  o << "<p>" << (d.converged ? "<span class='ok'>Converged</span>" : "<span class='bad'>Did not converge</span>")
    << " in " << d.iterations << " iteration(s)";
  if (!d.message.empty()) o << ": " << HtmlEscape(d.message);
  o << ".</p>";
  if (d.converged && !d.buses.empty()) {
    auto lowest = std::min_element(d.buses.begin(), d.buses.end(), [](const ReportBus& a, const ReportBus& b) {
      return (a.vm > 0 ? a.vm : 1e9) < (b.vm > 0 ? b.vm : 1e9);
    });
    auto highest = std::max_element(d.buses.begin(), d.buses.end(),
                                    [](const ReportBus& a, const ReportBus& b) { return a.vm < b.vm; });
    int under = 0, over = 0;
    for (const ReportBus& b : d.buses) {
      if (b.vm > 0 && b.vm < 0.95) ++under;
      if (b.vm > 1.05) ++over;
    }
    o << "<table><tr><th class='l'>buses</th><td>" << d.buses.size() << "</td></tr>"
      << "<tr><th class='l'>branches</th><td>" << d.branches.size() << "</td></tr>"
      << "<tr><th class='l'>lowest voltage</th><td>" << Fmt("%.4f", lowest->vm) << " p.u. at bus " << lowest->number
      << "</td></tr><tr><th class='l'>highest voltage</th><td>" << Fmt("%.4f", highest->vm) << " p.u. at bus "
      << highest->number << "</td></tr><tr><th class='l'>buses under 0.95 / over 1.05 p.u.</th><td>" << under
      << " / " << over << "</td></tr><tr><th class='l'>active losses</th><td>" << Fmt("%.3f", d.losses_mw)
      << " MW</td></tr></table>";
    o << "<h2>Voltage profile</h2>" << VoltageProfile(d);
    o << "<h2>Branch loading distribution</h2>" << LoadingHistogram(d);
    // The ten most loaded branches: by % of rating, or by MVA without ratings.
    bool rated = false;
    for (const ReportBranch& b : d.branches) rated = rated || b.loading_pct >= 0;
    std::vector<const ReportBranch*> loaded;
    for (const ReportBranch& b : d.branches) {
      if (!rated || b.loading_pct >= 0) loaded.push_back(&b);
    }
    auto key = [rated](const ReportBranch* b) { return rated ? b->loading_pct : b->s_max_mva; };
    std::sort(loaded.begin(), loaded.end(), [&](const ReportBranch* a, const ReportBranch* b) { return key(a) > key(b); });
    if (loaded.size() > 10) loaded.resize(10);
    if (!loaded.empty()) {
      o << "<h2>Most loaded branches</h2><table><tr><th>from</th><th>to</th><th>P from (MW)</th>"
           "<th>Q from (MVAr)</th><th>|S| max (MVA)</th><th>loading</th><th class='l'>branch</th></tr>";
      for (const ReportBranch* b : loaded) {
        o << "<tr><td>" << b->from << "</td><td>" << b->to << "</td><td>" << Fmt("%.2f", b->p_from) << "</td><td>"
          << Fmt("%.2f", b->q_from) << "</td><td>" << Fmt("%.2f", b->s_max_mva) << "</td><td>"
          << (b->loading_pct >= 0 ? Fmt("%.1f", b->loading_pct) + " %" : std::string("no rating"))
          << "</td><td class='l'><code>" << HtmlEscape(b->pointer) << "</code></td></tr>";
      }
      o << "</table>";
    }
  }
  if (!d.outages.empty()) o << N1Section(d);
  if (!d.faults.empty()) o << FaultSection(d);
  if (d.load_ms + d.ybus_ms + d.factorize_ms + d.iterate_ms <= 0) {
    o << "</body></html>\n";
    return o.str();
  }
  o << "<h2>Evidence</h2><table><tr><th class='l'>step</th><th>ms</th></tr>"
    << "<tr><td class='l'>load the network</td><td>" << Fmt("%.2f", d.load_ms) << "</td></tr>"
    << "<tr><td class='l'>build Ybus</td><td>" << Fmt("%.2f", d.ybus_ms) << "</td></tr>"
    << "<tr><td class='l'>factorize (KLU)</td><td>" << Fmt("%.2f", d.factorize_ms) << "</td></tr>"
    << "<tr><td class='l'>iterate</td><td>" << Fmt("%.2f", d.iterate_ms) << "</td></tr></table>";
  if (!d.mismatch.empty()) {
    o << "<p>Largest mismatch per iteration (p.u.): ";
    for (std::size_t i = 0; i < d.mismatch.size(); ++i) o << (i ? ", " : "") << Fmt("%.3g", d.mismatch[i]);
    o << "</p>";
  }
  o << "</body></html>\n";
  return o.str();
}

std::string RenderContingencyReport(const ReportData& d) {
  std::ostringstream o;
  Head(o, d.title);
  Intro(o, d);
  o << N1Section(d) << "</body></html>\n";
  return o.str();
}

std::string RenderShortCircuitReport(const ReportData& d) {
  std::ostringstream o;
  Head(o, d.title);
  Intro(o, d);
  o << FaultSection(d) << "</body></html>\n";
  return o.str();
}

}  // namespace grid
