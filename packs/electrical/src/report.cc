#include "packs/electrical/src/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
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
  o << "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>" << HtmlEscape(d.title)
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
       "</style></head><body>";
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

}  // namespace grid
