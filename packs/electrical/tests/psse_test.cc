// The PSS/E RAW reader against MATPOWER's psse2mpc conversions of its own
// RAW test files (../shared/testdata/psse: the JSON twins hold psse2mpc's
// doubles), hand-made cases for what those files do not exercise (CW/CZ
// codes, 3-winding transformers, DC modes, defaults, tokenizing) and
// malformed text.
#include "packs/electrical/src/psse.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numbers>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "packs/electrical/tests/case_json.h"

namespace grid {
namespace {

using grid::testing::ReadCaseJson;
using grid::testing::ReadJsonFile;
using grid::testing::TestdataDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string PsseDir() { return TestdataDir() + "/psse"; }

Case MustRead(const std::string& text) {
  Case c;
  ParseError e;
  EXPECT_TRUE(ReadPsse(text, &c, &e)) << e.line << ":" << e.column << ": " << e.message;
  return c;
}

std::vector<DcLine> ReadDcLineJson(const std::string& path) {
  std::vector<DcLine> out;
  nlohmann::json j = ReadJsonFile(path);  // kept: a range-for would not extend its life
  for (const auto& r : j.at("dcline")) {
    DcLine d;
    d.from = r[0].get<int>();
    d.to = r[1].get<int>();
    d.status = r[2].get<int>();
    double* v[] = {&d.pf,   &d.pt,    &d.qf,    &d.qt,    &d.vf,    &d.vt,    &d.pmin,
                   &d.pmax, &d.qminf, &d.qmaxf, &d.qmint, &d.qmaxt, &d.loss0, &d.loss1};
    for (std::size_t k = 0; k < std::size(v); ++k) *v[k] = r[k + 3].get<double>();
    out.push_back(d);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Comparing with psse2mpc: every column, each value within `rel` (relative),
// the first difference described; `identical` counts the values that are
// the very same double.

struct Tolerances {
  double value = 1e-12;
  double bus_load = 1e-12;  // bus PD/QD
  double dc_q = 1e-9;       // dcline Q limits
  double dc_other = 1e-9;   // the other dcline columns
};

class Compare {
 public:
  explicit Compare(Tolerances tol) : tol_(tol) {}

  std::string Cases(const Case& a, const Case& b) {
    Num("baseMVA", a.base_mva, b.base_mva, tol_.value);
    Count("bus", a.bus.size(), b.bus.size());
    Count("gen", a.gen.size(), b.gen.size());
    Count("branch", a.branch.size(), b.branch.size());
    if (!diff_.empty()) return diff_;
    for (std::size_t i = 0; i < a.bus.size(); ++i) Buses(i, a.bus[i], b.bus[i]);
    for (std::size_t i = 0; i < a.gen.size(); ++i) Gens(i, a.gen[i], b.gen[i]);
    for (std::size_t i = 0; i < a.branch.size(); ++i) Branches(i, a.branch[i], b.branch[i]);
    return diff_;
  }

  std::string DcLines(const std::vector<DcLine>& a, const std::vector<DcLine>& b) {
    Count("dcline", a.size(), b.size());
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
      std::string p = "dcline[" + std::to_string(i) + "].";
      Int(p + "from", a[i].from, b[i].from);
      Int(p + "to", a[i].to, b[i].to);
      Int(p + "status", a[i].status, b[i].status);
      const DcLine &x = a[i], &y = b[i];
      Num(p + "pf", x.pf, y.pf, tol_.dc_other);
      Num(p + "pt", x.pt, y.pt, tol_.dc_other);
      Num(p + "qf", x.qf, y.qf, tol_.dc_other);
      Num(p + "qt", x.qt, y.qt, tol_.dc_other);
      Num(p + "vf", x.vf, y.vf, tol_.dc_other);
      Num(p + "vt", x.vt, y.vt, tol_.dc_other);
      Num(p + "pmin", x.pmin, y.pmin, tol_.dc_other);
      Num(p + "pmax", x.pmax, y.pmax, tol_.dc_other);
      Num(p + "qminf", x.qminf, y.qminf, tol_.dc_q);
      Num(p + "qmaxf", x.qmaxf, y.qmaxf, tol_.dc_q);
      Num(p + "qmint", x.qmint, y.qmint, tol_.dc_q);
      Num(p + "qmaxt", x.qmaxt, y.qmaxt, tol_.dc_q);
      Num(p + "loss0", x.loss0, y.loss0, tol_.dc_other);
      Num(p + "loss1", x.loss1, y.loss1, tol_.dc_other);
    }
    return diff_;
  }

  int values() const { return values_; }
  int identical() const { return identical_; }
  const std::string& inexact() const { return inexact_; }

 private:
  void Note(const std::string& what, const std::string& a, const std::string& b) {
    if (diff_.empty()) diff_ = what + ": " + a + " vs " + b;
  }
  void Count(const std::string& what, std::size_t a, std::size_t b) {
    if (a != b) Note(what + " count", std::to_string(a), std::to_string(b));
  }
  static std::string Text(double v) {
    std::ostringstream s;
    s.precision(17);
    s << v;
    return s.str();
  }
  void Num(const std::string& what, double a, double b, double rel) {
    ++values_;
    if (a == b) {
      ++identical_;
      return;
    }
    if (inexact_.size() < 2000) inexact_ += "  " + what + ": " + Text(a) + " vs " + Text(b) + "\n";
    if (!(std::fabs(a - b) <= rel * std::max(std::fabs(a), std::fabs(b)))) {
      Note(what, Text(a), Text(b));
    }
  }
  void Int(const std::string& what, int a, int b) {
    ++values_;
    if (a == b) {
      ++identical_;
    } else {
      Note(what, std::to_string(a), std::to_string(b));
    }
  }
  void Buses(std::size_t i, const Bus& a, const Bus& b) {
    std::string p = "bus[" + std::to_string(i) + "].";
    Int(p + "number", a.number, b.number);
    Int(p + "type", a.type, b.type);
    Num(p + "pd", a.pd, b.pd, tol_.bus_load);
    Num(p + "qd", a.qd, b.qd, tol_.bus_load);
    Num(p + "gs", a.gs, b.gs, tol_.value);
    Num(p + "bs", a.bs, b.bs, tol_.value);
    Int(p + "area", a.area, b.area);
    Num(p + "vm", a.vm, b.vm, tol_.value);
    Num(p + "va", a.va, b.va, tol_.value);
    Num(p + "base_kv", a.base_kv, b.base_kv, tol_.value);
    Int(p + "zone", a.zone, b.zone);
    Num(p + "vmax", a.vmax, b.vmax, tol_.value);
    Num(p + "vmin", a.vmin, b.vmin, tol_.value);
  }
  void Gens(std::size_t i, const Gen& a, const Gen& b) {
    std::string p = "gen[" + std::to_string(i) + "].";
    Int(p + "bus", a.bus, b.bus);
    Num(p + "pg", a.pg, b.pg, tol_.value);
    Num(p + "qg", a.qg, b.qg, tol_.value);
    Num(p + "qmax", a.qmax, b.qmax, tol_.value);
    Num(p + "qmin", a.qmin, b.qmin, tol_.value);
    Num(p + "vg", a.vg, b.vg, tol_.value);
    Num(p + "mbase", a.mbase, b.mbase, tol_.value);
    Int(p + "status", a.status, b.status);
    Num(p + "pmax", a.pmax, b.pmax, tol_.value);
    Num(p + "pmin", a.pmin, b.pmin, tol_.value);
    Count(p + "extra", a.extra.size(), b.extra.size());
    for (std::size_t k = 0; k < a.extra.size() && k < b.extra.size(); ++k) {
      Num(p + "extra[" + std::to_string(k) + "]", a.extra[k], b.extra[k], tol_.value);
    }
  }
  void Branches(std::size_t i, const Branch& a, const Branch& b) {
    std::string p = "branch[" + std::to_string(i) + "].";
    Int(p + "from", a.from, b.from);
    Int(p + "to", a.to, b.to);
    Num(p + "r", a.r, b.r, tol_.value);
    Num(p + "x", a.x, b.x, tol_.value);
    Num(p + "b", a.b, b.b, tol_.value);
    Num(p + "rate_a", a.rate_a, b.rate_a, tol_.value);
    Num(p + "rate_b", a.rate_b, b.rate_b, tol_.value);
    Num(p + "rate_c", a.rate_c, b.rate_c, tol_.value);
    Num(p + "tap", a.tap, b.tap, tol_.value);
    Num(p + "shift", a.shift, b.shift, tol_.value);
    Int(p + "status", a.status, b.status);
    Num(p + "angmin", a.angmin, b.angmin, tol_.value);
    Num(p + "angmax", a.angmax, b.angmax, tol_.value);
  }

  Tolerances tol_;
  std::string diff_;
  std::string inexact_;
  int values_ = 0;
  int identical_ = 0;
};

// The individual loads and shunts add up to the bus totals.
void ExpectDetailSumsToTotals(const Case& c) {
  std::map<int, double> p, q, g, b;
  for (const Load& l : c.loads) {
    EXPECT_EQ(l.status, 1);
    p[l.bus] += l.p;
    q[l.bus] += l.q;
  }
  for (const Shunt& s : c.shunts) {
    EXPECT_EQ(s.status, 1);
    g[s.bus] += s.g;
    b[s.bus] += s.b;
  }
  auto near = [](double sum, double total) {
    return std::fabs(sum - total) <= 1e-9 * std::max(1.0, std::fabs(total));
  };
  for (const Bus& bus : c.bus) {
    EXPECT_TRUE(near(p[bus.number], bus.pd))
        << bus.number << ": " << p[bus.number] << " " << bus.pd;
    EXPECT_TRUE(near(q[bus.number], bus.qd))
        << bus.number << ": " << q[bus.number] << " " << bus.qd;
    EXPECT_TRUE(near(g[bus.number], bus.gs))
        << bus.number << ": " << g[bus.number] << " " << bus.gs;
    EXPECT_TRUE(near(b[bus.number], bus.bs))
        << bus.number << ": " << b[bus.number] << " " << bus.bs;
  }
}

void ExpectMatchesPsse2mpc(const std::string& name, Tolerances tol) {
  Case c = MustRead(ReadFile(PsseDir() + "/" + name + ".raw"));
  Case json = ReadCaseJson(PsseDir() + "/" + name + ".json");
  Compare cmp(tol);
  EXPECT_EQ(cmp.Cases(c, json), "") << name;
  std::string dc_path = PsseDir() + "/" + name + ".dcline.json";
  std::vector<DcLine> dc;
  if (std::filesystem::exists(dc_path)) dc = ReadDcLineJson(dc_path);
  EXPECT_EQ(cmp.DcLines(c.dclines, dc), "") << name;
  std::cout << name << ": " << cmp.identical() << " of " << cmp.values()
            << " values identical to psse2mpc's\n"
            << cmp.inexact();
  ExpectDetailSumsToTotals(c);
  for (const Bus& b : c.bus) EXPECT_FALSE(b.name.empty()) << b.number;
  for (const Gen& g : c.gen) EXPECT_FALSE(g.id.empty());
  for (const Branch& br : c.branch) EXPECT_FALSE(br.id.empty());
}

// ---------------------------------------------------------------------------
// MATPOWER's RAW files.

TEST(PsseCases, Case2Rev29) {
  ExpectMatchesPsse2mpc("t_psse_case2", Tolerances());
  Case c = MustRead(ReadFile(PsseDir() + "/t_psse_case2.raw"));
  EXPECT_EQ(c.bus[0].name, "Bus 1");  // psse2mpc keeps 'Bus 1   '
  EXPECT_EQ(c.bus[9].name, "Fault");
  EXPECT_EQ(c.gen[1].id, "1");
  EXPECT_EQ(c.branch.size(), 10u);
  EXPECT_EQ(c.loads.size(), 4u);
  EXPECT_TRUE(c.shunts.empty());  // no GL/BL, no line or switched shunts
  std::vector<std::string> want = {
      "Skipped 1 line of zone data.",
      "Using default voltage magnitude limits: VMIN = 0.9 p.u., VMAX = 1.1 p.u."};
  EXPECT_EQ(c.warnings, want);
}

TEST(PsseCases, Case3Rev30) {
  Tolerances tol;
  tol.bus_load = 1e-9;  // PL + IP*V + YP*V^2, summed
  ExpectMatchesPsse2mpc("t_psse_case3", tol);
  Case c = MustRead(ReadFile(PsseDir() + "/t_psse_case3.raw"));
  std::vector<std::string> want = {
      "Skipped 6 lines of voltage source converter data.",
      "Skipped 2 lines of impedance correction data.",
      "Skipped 14 lines of multi-terminal DC data.",
      "Skipped 1 line of multi-section line data.",
      "Skipped 9 lines of zone data.",
      "Skipped 5 lines of inter-area transfer data.",
      "Skipped 5 lines of owner data.",
      "Skipped 2 lines of FACTS control device data.",
      "Using default voltage magnitude limits: VMIN = 0.9 p.u., VMAX = 1.1 p.u.",
      "Added buses 100001-100004 as star-points for 3-winding transformers."};
  EXPECT_EQ(c.warnings, want);
  EXPECT_EQ(c.bus[0].name, "NUC-A");
  EXPECT_EQ(c.bus[42].number, 100001);
  EXPECT_EQ(c.bus[42].name, "STR_PT_XF_1");
  EXPECT_EQ(c.bus[45].name, "STR_PT_XF_4");
  EXPECT_EQ(c.gen[12].id, "W1");
  EXPECT_EQ(c.branch[12].id, "C1");                  // 201-207 'C1'
  EXPECT_EQ(c.branch[c.branch.size() - 1].id, "2");  // 3-winding '2 ', winding 3
  // Loads: 20 records, all in service; the constant current and admittance
  // parts at the RAW VM (bus 152: VM 1.04377).
  ASSERT_EQ(c.loads.size(), 20u);
  const double v = 1.04377;
  EXPECT_DOUBLE_EQ(c.loads[0].p, 1200 + 868.34 * v + 837.794 * v * v);
  EXPECT_DOUBLE_EQ(c.loads[0].q, 360 + 360.502 * v + 351.338 * v * v);
  EXPECT_EQ(c.loads[5].id, "MO");
  // Shunts: bus GL/BL, 6 switched, line shunts at the ends of the 3
  // branches that have them.
  int switched = 0, gl_bl = 0, line = 0;
  for (const Shunt& s : c.shunts) {
    if (s.id == "switched") ++switched;
    if (s.id == "GL/BL") ++gl_bl;
    if (s.id.rfind("line ", 0) == 0) ++line;
  }
  EXPECT_EQ(switched, 6);
  EXPECT_EQ(gl_bl, 10);
  EXPECT_EQ(line, 5);
}

TEST(PsseCases, Case9SaveToPsseRev33) {
  ExpectMatchesPsse2mpc("t_case9_save2psse", Tolerances());
  Case c = MustRead(ReadFile(PsseDir() + "/t_case9_save2psse.raw"));
  EXPECT_TRUE(c.warnings.empty()) << c.warnings[0];
  EXPECT_EQ(c.bus[3].name, "bus 4");
  EXPECT_EQ(c.branch[3].id, "2");
  EXPECT_EQ(c.dclines.size(), 2u);
}

// MATPOWER's tokenizer test is no network (psse2mpc fails on it): line 1,
// "Header 1", has no IC.
TEST(PsseCases, TokenizerTestFileIsAnError) {
  Case c;
  ParseError e;
  EXPECT_FALSE(ReadPsse(ReadFile(PsseDir() + "/t_psse_case.raw"), &c, &e));
  EXPECT_EQ(e.line, 1);
  EXPECT_EQ(e.column, 1);
  EXPECT_EQ(e.message, "expected an integer for IC (case identification), got 'Header'");
}

// ---------------------------------------------------------------------------
// A small REV 33 case to edit.

const char* const kTiny =
    "0, 100.0, 33, 0, 1, 60.00 / PSS(R)E-33 tiny\n"                                // 1
    "TINY CASE\n"                                                                  // 2
    "THIRD LINE\n"                                                                 // 3
    "1,'ONE     ', 138.0,3,1,1,1,1.02,0.0,1.1,0.9,1.1,0.9\n"                       // 4
    "2,'TWO     ', 138.0,1,1,1,1,1.00,-2.0,1.05,0.95,1.1,0.9\n"                    // 5
    "3,'THREE   ', 13.8,2,1,1,1,1.01,-1.0,1.1,0.9,1.1,0.9\n"                       // 6
    "0 / END OF BUS DATA, BEGIN LOAD DATA\n"                                       // 7
    "2,'1 ',1,1,1,50.0,20.0,0.0,0.0,0.0,0.0,1,1,0\n"                               // 8
    "0 / END OF LOAD DATA, BEGIN FIXED SHUNT DATA\n"                               // 9
    "0 / END OF FIXED SHUNT DATA, BEGIN GENERATOR DATA\n"                          // 10
    "1,'1 ',40.0,0.0,100.0,-100.0,1.02,0,100.0,0,1,0,0,1,1,100,200,0\n"            // 11
    "3,'G2',20.0,0.0,50.0,-50.0,1.01,0,100.0,0,1,0,0,1,1,100,100,0\n"              // 12
    "0 / END OF GENERATOR DATA, BEGIN BRANCH DATA\n"                               // 13
    "1,2,'1 ',0.01,0.1,0.02,100,100,100,0,0,0,0,1,1,0,1,1\n"                       // 14
    "0 / END OF BRANCH DATA, BEGIN TRANSFORMER DATA\n"                             // 15
    "2,3,0,'T ',1,1,1,0,0,2,'T1',1,1,1\n"                                          // 16
    "0.0,0.05,100.0\n"                                                             // 17
    "1.0,0.0,0.0,50,50,50,0,0,1.1,0.9,1.1,0.9,33,0,0,0,0\n"                        // 18
    "1.0,0.0\n"                                                                    // 19
    "0 / END OF TRANSFORMER DATA, BEGIN AREA DATA\n"                               // 20
    "0 / END OF AREA DATA, BEGIN TWO-TERMINAL DC DATA\n"                           // 21
    "0 / END OF TWO-TERMINAL DC DATA, BEGIN VOLTAGE SOURCE CONVERTER DATA\n"       // 22
    "0 / END OF VOLTAGE SOURCE CONVERTER DATA, BEGIN IMPEDANCE CORRECTION DATA\n"  // 23
    "0 / END OF IMPEDANCE CORRECTION DATA, BEGIN MULTI-TERMINAL DC DATA\n"         // 24
    "0 / END OF MULTI-TERMINAL DC DATA, BEGIN MULTI-SECTION LINE DATA\n"           // 25
    "0 / END OF MULTI-SECTION LINE DATA, BEGIN ZONE DATA\n"                        // 26
    "0 / END OF ZONE DATA, BEGIN INTER-AREA TRANSFER DATA\n"                       // 27
    "0 / END OF INTER-AREA TRANSFER DATA, BEGIN OWNER DATA\n"                      // 28
    "0 / END OF OWNER DATA, BEGIN FACTS CONTROL DEVICE DATA\n"                     // 29
    "0 / END OF FACTS CONTROL DEVICE DATA, BEGIN SWITCHED SHUNT DATA\n"            // 30
    "0 / END OF SWITCHED SHUNT DATA, BEGIN GNE DEVICE DATA\n"                      // 31
    "0 / END OF GNE DEVICE DATA, BEGIN INDUCTION MACHINE DATA\n"                   // 32
    "0 / END OF INDUCTION MACHINE DATA\n"                                          // 33
    "Q\n";                                                                         // 34

// kTiny with `from` (which must occur) replaced by `to`.
std::string Tiny(const std::string& from = "", const std::string& to = "") {
  std::string t = kTiny;
  if (from.empty()) return t;
  std::size_t at = t.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) t.replace(at, from.size(), to);
  return t;
}

// kTiny with the line `section` ("0 / END OF <section>") preceded by `lines`.
std::string TinyWith(const std::string& section, const std::string& lines) {
  return Tiny("0 / END OF " + section, lines + "0 / END OF " + section);
}

TEST(PsseRead, TinyCase) {
  Case c = MustRead(Tiny());
  ASSERT_EQ(c.bus.size(), 3u);
  EXPECT_EQ(c.bus[1].name, "TWO");
  EXPECT_EQ(c.bus[1].vmax, 1.05);  // NVHI/NVLO on every bus: taken
  EXPECT_EQ(c.bus[1].vmin, 0.95);
  EXPECT_EQ(c.bus[1].pd, 50);
  EXPECT_EQ(c.bus[0].type, kRef);
  ASSERT_EQ(c.gen.size(), 2u);
  EXPECT_EQ(c.gen[1].id, "G2");
  EXPECT_EQ(c.gen[1].qmax, 50);
  EXPECT_EQ(c.gen[1].pmax, 100);
  EXPECT_EQ(c.gen[1].extra, std::vector<double>(11, 0.0));
  ASSERT_EQ(c.branch.size(), 2u);
  EXPECT_EQ(c.branch[1].tap, 1);
  EXPECT_EQ(c.branch[1].x, 0.05);
  EXPECT_EQ(c.branch[1].rate_a, 50);
  EXPECT_EQ(c.branch[1].id, "T");
  EXPECT_TRUE(c.warnings.empty()) << c.warnings[0];
}

TEST(PsseRead, NullPointersAreAnswered) {
  EXPECT_FALSE(ReadPsse(Tiny(), nullptr, nullptr));
  Case c;
  EXPECT_TRUE(ReadPsse(Tiny(), &c, nullptr));
  EXPECT_FALSE(ReadPsse("", &c, nullptr));
}

// Fields: commas and/or blanks, quotes (single or double) holding commas,
// blanks and '/', ",," empty (the default), tabs, comments, blank and
// comment-only lines, \r\n line ends.
TEST(PsseRead, Tokenizing) {
  std::string t = Tiny("2,'TWO     ', 138.0,1,1,1,1,1.00,-2.0,1.05,0.95,1.1,0.9\n",
                       "  2\t\"TWO, 'B' / X\"\t138.0 ,1 ,,\t, , 1.00 -2.0 1.05,0.95 / note, 'x'\n"
                       "\n   / a comment line\n");
  std::string crlf;
  for (char ch : t) {
    if (ch == '\n') crlf += '\r';
    crlf += ch;
  }
  for (const std::string& text : {t, crlf}) {
    Case c = MustRead(text);
    ASSERT_EQ(c.bus.size(), 3u);
    const Bus& b = c.bus[1];
    EXPECT_EQ(b.name, "TWO, 'B' / X");
    EXPECT_EQ(b.base_kv, 138);
    EXPECT_EQ(b.type, 1);
    EXPECT_EQ(b.area, 1);  // empty: PSS/E's default
    EXPECT_EQ(b.zone, 1);
    EXPECT_EQ(b.vm, 1);
    EXPECT_EQ(b.va, -2);
    EXPECT_EQ(b.vmax, 1.05);
    EXPECT_EQ(b.vmin, 0.95);
  }
}

TEST(PsseRead, MissingFieldsTakePsseDefaults) {
  Case c = MustRead(Tiny("3,'G2',20.0,0.0,50.0,-50.0,1.01,0,100.0,0,1,0,0,1,1,100,100,0", "3"));
  const Gen& g = c.gen[1];
  EXPECT_EQ(g.id, "1");
  EXPECT_EQ(g.pg, 0);
  EXPECT_EQ(g.qmax, 9999);
  EXPECT_EQ(g.qmin, -9999);
  EXPECT_EQ(g.vg, 1);
  EXPECT_EQ(g.mbase, 100);  // SBASE
  EXPECT_EQ(g.status, 1);
  EXPECT_EQ(g.pmax, 9999);
  EXPECT_EQ(g.pmin, -9999);
  // A bus without NVHI/NVLO: all buses get 0.9/1.1, with psse2mpc's warning.
  c = MustRead(Tiny("1.00,-2.0,1.05,0.95,1.1,0.9", "1.00,-2.0"));
  EXPECT_EQ(c.bus[1].vmax, 1.1);
  EXPECT_EQ(c.bus[1].vmin, 0.9);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0],
            "Using default voltage magnitude limits: VMIN = 0.9 p.u., VMAX = 1.1 p.u.");
  // A branch record with I, J, X only.
  c = MustRead(Tiny("1,2,'1 ',0.01,0.1,0.02,100,100,100,0,0,0,0,1,1,0,1,1", "1,-2,,,0.1"));
  const Branch& br = c.branch[0];
  EXPECT_EQ(br.to, 2);  // |J|: a negative J marks the metered end
  EXPECT_EQ(br.id, "1");
  EXPECT_EQ(br.r, 0);
  EXPECT_EQ(br.x, 0.1);
  EXPECT_EQ(br.status, 1);
}

TEST(PsseRead, RevisionFromTheComment) {
  Case c = MustRead(Tiny("0, 100.0, 33, 0, 1, 60.00 / PSS(R)E-33 tiny", "0, 100.0 / PSS/E-33.0"));
  EXPECT_EQ(c.bus.size(), 3u);
  c = MustRead(Tiny("0, 100.0, 33, 0, 1, 60.00 / PSS(R)E-33 tiny", "0 100 / pss(tm)e-33 RAW"));
  EXPECT_EQ(c.bus.size(), 3u);
}

// `from` (which must occur) in `text` replaced by `to`.
std::string Replace(std::string text, const std::string& from, const std::string& to) {
  std::size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(PsseRead, LoadsShuntsAndLineShunts) {
  std::string t = TinyWith("FIXED SHUNT", "2,'S1',1,1.0,-20.0\n2,'S2',0,5.0,5.0\n");
  t = Replace(t, "2,'1 ',1,1,1,50.0,20.0,0.0,0.0,0.0,0.0,1,1,0",
              "2,'1 ',1,1,1,50.0,20.0,10.0,5.0,4.0,2.0,1,1,0\n"
              "2,'2 ',0,1,1,99.0,99.0\n"  // out of service
              "3,'3 ',1,1,1,1.5,0.5");
  t = Replace(t, "1,2,'1 ',0.01,0.1,0.02,100,100,100,0,0,0,0,1",
              "1,2,'1 ',0.01,0.1,0.02,100,100,100,0.01,0.02,0.03,-0.04,1");
  t = Replace(t, "0 / END OF SWITCHED SHUNT",
              "2,1,0,1,1.1,0.9,0,100.0,'',30.0,1,30.0\n"
              "2,1,0,0,1.1,0.9,0,100.0,'',12.5,1,12.5\n"
              "0 / END OF SWITCHED SHUNT");
  Case c = MustRead(t);
  const Bus& b2 = c.bus[1];
  double v = 1.0;
  EXPECT_EQ(b2.pd, 50.0 + 10.0 * v + 4.0 * v * v);
  EXPECT_EQ(b2.qd, 20.0 + 5.0 * v - 2.0 * v * v);
  EXPECT_EQ(c.bus[2].pd, 1.5);
  EXPECT_EQ(c.loads.size(), 2u);
  // Fixed 1 - 20j, switched 30 + 12.5 (STAT 0 counted, as psse2mpc does),
  // line shunt at the to end 0.03 - 0.04j p.u.
  EXPECT_DOUBLE_EQ(b2.gs, 1.0 + 3.0);
  EXPECT_DOUBLE_EQ(b2.bs, -20.0 + 42.5 - 4.0);
  EXPECT_DOUBLE_EQ(c.bus[0].gs, 1.0);
  EXPECT_DOUBLE_EQ(c.bus[0].bs, 2.0);
  ExpectDetailSumsToTotals(c);
  std::string all;
  for (const std::string& w : c.warnings) all += w + "\n";
  EXPECT_NE(all.find("The switched shunt at bus 2 (line 36) is out of service (STAT 0)"),
            std::string::npos)
      << all;
}

// 2-winding transformers under each CW and CZ code, against the formulas
// written out here (psse_convert_xfmr.m).
struct XfmrCase {
  std::string codes;  // "CW,CZ"
  std::string line2;  // R1-2, X1-2, SBASE1-2
  std::string line3;  // WINDV1, NOMV1, ANG1, RATA1...
  std::string line4;  // WINDV2, NOMV2
  double r, x, tap, shift;
};

TEST(PsseTransformers, TwoWindingCodes) {
  const double kv_f = 138, kv_t = 13.8, s = 100;
  const double zbs = kv_f * kv_f / s;
  const double zb = 132.0 * 132.0 / 50;
  const double r3 = 1e-6 * 50000 / 50;
  const double x3 = std::sqrt(0.1 * 0.1 - r3 * r3);
  const std::vector<XfmrCase> cases = {
      {"1,1", "0.01,0.1,100", "1.05,0,30", "1.0,0", 0.01, 0.1, 1.05, 30},
      {"2,1", "0.01,0.1,100", "140,0,0", "13.8,0", 0.01, 0.1, 140 / 13.8 * kv_t / kv_f, 0},
      // CW 2 with WINDV missing: the bus kV, tap 1.
      {"2,1", "0.01,0.1,100", ",0,0", ",0", 0.01, 0.1, kv_f / kv_t * kv_t / kv_f, 0},
      {"3,1", "0.01,0.1,100", "1.05,132,0", "1.0,13.2", 0.01, 0.1,
       1.05 / 1.0 * kv_t / kv_f * 132 / 13.2, 0},
      // CW 3 with NOMV 0: the bus kV (psse2mpc would give 0/0).
      {"3,1", "0.01,0.1,100", "1.05,0,0", "1.0,0", 0.01, 0.1,
       1.05 / 1.0 * kv_t / kv_f * kv_f / kv_t, 0},
      {"1,2", "0.01,0.1,50", "1,132,0", "1,0", 0.01 * zb / zbs, 0.1 * zb / zbs, 1, 0},
      {"1,3", "50000,0.1,50", "1,132,0", "1,0", r3 * zb / zbs, x3 * zb / zbs, 1, 0},
  };
  for (const XfmrCase& k : cases) {
    std::string t = Tiny("2,3,0,'T ',1,1,1", "2,3,0,'T '," + k.codes + ",1");
    t = t.replace(t.find("0.0,0.05,100.0"), 14, k.line2);
    t = t.replace(t.find("1.0,0.0,0.0,50,50,50,0,0"), 24, k.line3 + ",50,50,50,0,0");
    t = t.replace(t.find("1.0,0.0\n0 / END OF TRANSFORMER"), 7, k.line4);
    Case c = MustRead(t);
    ASSERT_EQ(c.branch.size(), 2u) << k.codes;
    const Branch& br = c.branch[1];
    SCOPED_TRACE(k.codes + " " + k.line2 + " " + k.line3 + " " + k.line4);
    EXPECT_NEAR(br.r, k.r, 1e-15 * std::fabs(k.r));
    EXPECT_NEAR(br.x, k.x, 1e-15 * std::fabs(k.x));
    EXPECT_NEAR(br.tap, k.tap, 1e-15 * k.tap);
    EXPECT_EQ(br.shift, k.shift);
    EXPECT_EQ(br.rate_a, 50);
  }
}

// A 3-winding transformer: a star bus numbered from the next power of ten,
// three branches after the 2-winding ones, star-delta impedances.
TEST(PsseTransformers, ThreeWinding) {
  std::string t = TinyWith("TRANSFORMER",
                           "1,2,3,'X3',2,2,1,0,0,2,'THREE',4,1,1\n"
                           "0.01,0.10,200, 0.02,0.20,100, 0.03,0.30,50, 1.01,-5.0\n"
                           "140.0,132.0,10.0,100,110,120\n"
                           "138.0,0,0,200,210,220\n"
                           "13.2,13.2,-30,300,310,320\n");
  Case c = MustRead(t);
  ASSERT_EQ(c.bus.size(), 4u);
  const Bus& star = c.bus[3];
  EXPECT_EQ(star.number, 11);  // largest bus 3 -> 10 + 1
  EXPECT_EQ(star.type, kPQ);
  EXPECT_EQ(star.vm, 1.01);
  EXPECT_EQ(star.va, -5);
  EXPECT_EQ(star.base_kv, 1);
  EXPECT_EQ(star.name, "STR_PT_XF_1");
  ASSERT_EQ(c.branch.size(), 5u);
  const double kv[3] = {138, 138, 13.8};
  const double nomv[3] = {132, 138, 13.2};  // NOMV2 0: bus kV
  const double sb[3] = {200, 100, 50};
  double r[3] = {0.01, 0.02, 0.03}, x[3] = {0.1, 0.2, 0.3};
  for (int k = 0; k < 3; ++k) {
    double f = (nomv[k] * nomv[k] / sb[k]) / (kv[k] * kv[k] / 100);
    r[k] *= f;
    x[k] *= f;
  }
  const double rs[3] = {(r[0] + r[2] - r[1]) / 2, (r[0] + r[1] - r[2]) / 2,
                        (r[2] + r[1] - r[0]) / 2};
  const double xs[3] = {(x[0] + x[2] - x[1]) / 2, (x[0] + x[1] - x[2]) / 2,
                        (x[2] + x[1] - x[0]) / 2};
  const double tap[3] = {140.0 / 138, 1, 13.2 / 13.8};
  const double shift[3] = {10, 0, -30};
  for (int k = 0; k < 3; ++k) {
    const Branch& br = c.branch[2 + k];
    SCOPED_TRACE(k);
    EXPECT_EQ(br.from, k + 1);
    EXPECT_EQ(br.to, 11);
    EXPECT_NEAR(br.r, rs[k], 1e-14 * std::fabs(rs[k]));
    EXPECT_NEAR(br.x, xs[k], 1e-14 * std::fabs(xs[k]));
    EXPECT_NEAR(br.tap, tap[k], 1e-15);
    EXPECT_EQ(br.shift, shift[k]);
    EXPECT_EQ(br.rate_a, 100 * (k + 1));
    EXPECT_EQ(br.rate_c, 100 * (k + 1) + 20);
    EXPECT_EQ(br.status, k == 0 ? 0 : 1);  // STAT 4: winding 1 out
    EXPECT_EQ(br.id, "X3");
  }
  ASSERT_FALSE(c.warnings.empty());
  EXPECT_EQ(c.warnings.back(), "Added buses 11-11 as star-points for 3-winding transformers.");
}

TEST(PsseDcLines, ModesAndQLimits) {
  std::string t = TinyWith("TWO-TERMINAL DC",
                           "'DC1', 2, 5.0, 1000, 500, 0,0,0,'I',0,20,1\n"
                           "1, 2, 25.0, 15.0, 0, 3, 138, 1, 1, 1.5, 0.5, 0.00625, 0,0,0,'1',0\n"
                           "3, 2, 20.0, 18.0, 0, 3, 13.8, 1, 1, 1.5, 0.5, 0.00625, 0,0,0,'1',0\n"
                           "'DC2', 0, 5.0, -300, 500\n"
                           "2, 2, 25.0, 15.0\n"
                           "3, 2, 20.0, 18.0\n");
  Case c = MustRead(t);
  ASSERT_EQ(c.dclines.size(), 2u);
  const DcLine& d = c.dclines[0];
  EXPECT_EQ(d.from, 1);
  EXPECT_EQ(d.to, 3);
  EXPECT_EQ(d.status, 1);
  EXPECT_EQ(d.pf, 500);  // 1000 A at 500 kV
  EXPECT_EQ(d.pt, 500);
  EXPECT_EQ(d.vf, 1.02);
  EXPECT_EQ(d.vt, 1.01);
  EXPECT_DOUBLE_EQ(d.pmin, 425);
  EXPECT_DOUBLE_EQ(d.pmax, 575);
  const double deg = std::numbers::pi / 180;
  auto qmax = [&](double alpha) {
    return 500 * std::tan(std::acos(0.5 * (std::cos(alpha * deg) + 0.5)));
  };
  EXPECT_NEAR(d.qminf, 500 * std::tan(15 * deg), 1e-12);
  EXPECT_NEAR(d.qmaxf, qmax(25), 1e-12);
  EXPECT_NEAR(d.qmint, 500 * std::tan(18 * deg), 1e-12);
  EXPECT_NEAR(d.qmaxt, qmax(20), 1e-12);
  EXPECT_EQ(d.loss0, 0);
  EXPECT_EQ(d.loss1, 0);
  EXPECT_EQ(c.dclines[1].status, 0);  // MDC 0: blocked
  EXPECT_EQ(c.dclines[1].pf, 0);
}

TEST(PsseRead, SectionsWarnings) {
  // A label that does not match.
  Case c = MustRead(Tiny("0 / END OF LOAD DATA", "0 / END OF LOADS DATA"));
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0], "Section label mismatch, found 'LOADS', expected 'LOAD'");
  // Skipped sections, counted in lines.
  c = MustRead(TinyWith("ZONE", "1,'Z1'\n2,'Z2'\n"));
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0], "Skipped 2 lines of zone data.");
  // Q after the transformers: the rest is missing.
  c = MustRead(Tiny("0 / END OF TRANSFORMER DATA, BEGIN AREA DATA\n", "0\nQ\n"));
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_EQ(c.warnings[0].rfind("The data ends before the area, two-terminal DC,", 0), 0u)
      << c.warnings[0];
  EXPECT_EQ(c.branch.size(), 2u);
  // Sections after the last one.
  c = MustRead(Tiny("Q\n", "1 2 3\n0 / END OF EXTRA DATA\n0\nQ\nignored 'line\n"));
  std::vector<std::string> want = {"Found 2 additional section(s)", "  'EXTRA DATA' with 1 line(s)",
                                   "  unlabeled section (empty)"};
  EXPECT_EQ(c.warnings, want);
  // IC 1.
  c = MustRead(Tiny("0, 100.0, 33", "1, 100.0, 33"));
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_NE(c.warnings[0].find("IC = 1 indicates that this may be a change case"),
            std::string::npos);
}

// ---------------------------------------------------------------------------
// Malformed text: false, with the place.

struct Failure {
  int line;
  int column;
  std::string message;
};

Failure ReadFailure(std::string_view text) {
  Case c;
  c.name = "untouched";
  ParseError e;
  bool ok = ReadPsse(text, &c, &e);
  EXPECT_FALSE(ok);
  EXPECT_EQ(c.name, "untouched");  // *out is left alone on failure
  return {e.line, e.column, e.message};
}

#define EXPECT_FAILS_AT(text, want_line, want_column, want_substring)          \
  do {                                                                         \
    Failure f = ReadFailure(text);                                             \
    EXPECT_EQ(f.line, want_line) << f.message;                                 \
    EXPECT_EQ(f.column, want_column) << f.message;                             \
    EXPECT_NE(f.message.find(want_substring), std::string::npos) << f.message; \
  } while (0)

TEST(PsseErrors, NonNumericFieldInABusRecord) {
  EXPECT_FAILS_AT(Tiny("1,1.00,-2.0", "1,abc,-2.0"), 5, 29,
                  "expected a number for VM (bus record), got 'abc'");
  EXPECT_FAILS_AT(Tiny("2,'TWO     ', 138.0,1", "2,'TWO     ', 138.0,1.5"), 5, 21,
                  "expected an integer for IDE (bus record), got '1.5'");
  EXPECT_FAILS_AT(Tiny("2,'TWO     ', 138.0", "2,'TWO     ', '138.0'"), 5, 15,
                  "expected a number for BASKV (bus record), got the quoted string '138.0'");
  EXPECT_FAILS_AT(Tiny("2,'TWO     ', 138.0", "2,'TWO     ', 1e999"), 5, 15,
                  "expected a number for BASKV");
  EXPECT_FAILS_AT(Tiny("2,'TWO     ', 138.0", "2,'TWO     ', nan"), 5, 15,
                  "expected a number for BASKV");
  EXPECT_FAILS_AT(Tiny("2,'TWO", "-2,'TWO"), 5, 1,
                  "expected a positive bus number for I (bus record), got '-2'");
}

TEST(PsseErrors, TruncatedTransformerRecord) {
  // Line 4 (WINDV2, NOMV2) missing: the section ends at line 19.
  EXPECT_FAILS_AT(Tiny("1.0,0.0\n0 / END OF TRANSFORMER", "0 / END OF TRANSFORMER"), 19, 1,
                  "truncated 2-winding transformer record: expected line 4 of the 4-line record "
                  "that starts at line 16, got the end of the section");
  // A 3-winding one (K != 0) needs 5 lines.
  EXPECT_FAILS_AT(Tiny("2,3,0,'T '", "2,3,1,'T '"), 20, 1,
                  "expected line 5 of the 5-line record that starts at line 16");
  // The text ends inside it.
  std::string t = Tiny();
  t.resize(t.find("1.0,0.0,0.0,50"));
  EXPECT_FAILS_AT(t, 18, 1,
                  "expected line 3 of the 4-line record that starts at line 16, got "
                  "the end of the text");
  // A field missing on line 2.
  EXPECT_FAILS_AT(Tiny("0.0,0.05,100.0", "0.0"), 17, 4,
                  "expected a number for X1-2 (transformer record, line 2), got the end of the "
                  "line");
}

TEST(PsseErrors, UnknownBuses) {
  EXPECT_FAILS_AT(Tiny("1,2,'1 ',0.01", "1,7,'1 ',0.01"), 14, 3,
                  "bus 7 (J of the branch record) is not in the bus data");
  EXPECT_FAILS_AT(Tiny("3,'G2'", "9,'G2'"), 12, 1,
                  "bus 9 (I of the generator record) is not in the bus data");
  EXPECT_FAILS_AT(Tiny("2,'1 ',1,1,1,50.0", "4,'1 ',1,1,1,50.0"), 8, 1,
                  "bus 4 (I of the load record) is not in the bus data");
  EXPECT_FAILS_AT(Tiny("2,3,0,'T '", "2,5,0,'T '"), 16, 3,
                  "bus 5 (J of the transformer record) is not in the bus data");
  EXPECT_FAILS_AT(Tiny("3,'THREE ", "2,'THREE "), 6, 1, "bus 2 is defined twice (also at line 5)");
}

TEST(PsseErrors, Revision) {
  EXPECT_FAILS_AT(Tiny("0, 100.0, 33", "0, 100.0, 35"), 1, 11,
                  "PSS/E revision 35 is not supported (29-33)");
  EXPECT_FAILS_AT(Tiny("0, 100.0, 33", "0, 100.0, 26"), 1, 11,
                  "PSS/E revision 26 is not supported (29-33)");
  EXPECT_FAILS_AT(Tiny("0, 100.0, 33, 0, 1, 60.00 / PSS(R)E-33 tiny", "0, 100.0 / PSS/E-34.1"), 1,
                  18, "PSS/E revision 34 is not supported (29-33)");
  EXPECT_FAILS_AT(Tiny("0, 100.0, 33, 0, 1, 60.00 / PSS(R)E-33 tiny", "0, 100.0 / tiny"), 1, 1,
                  "the PSS/E revision is unknown");
  EXPECT_FAILS_AT(Tiny("0, 100.0, 33", "0, -100.0, 33"), 1, 4, "expected a positive SBASE");
  EXPECT_FAILS_AT(Tiny("0, 100.0, 33, 0, 1, 60.00 / PSS(R)E-33 tiny", "0 / PSS/E-33"), 1, 2,
                  "expected a number for SBASE (case identification), got the end of the line");
}

TEST(PsseErrors, EmptyText) {
  EXPECT_FAILS_AT("", 1, 1, "the text is empty");
  EXPECT_FAILS_AT("\n\n", 1, 1, "expected an integer for IC");
  EXPECT_FAILS_AT("0, 100, 33\n", 2, 1, "no bus data");
  EXPECT_FAILS_AT("0, 100, 33\na\nb\n0 / END OF BUS DATA\n", 4, 1, "no bus data");
}

TEST(PsseErrors, BinaryGarbage) {
  std::mt19937 rng(20240611);
  for (int round = 0; round < 20; ++round) {
    std::string bytes(4096, '\0');
    for (char& b : bytes) b = static_cast<char>(rng() & 0xFF);
    int line = 1, column = 1;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      unsigned char b = static_cast<unsigned char>(bytes[i]);
      if (b == '\n' || b == '\r') {
        if (b == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n') ++i;
        ++line;
        column = 1;
        continue;
      }
      if (b < 0x20 && b != '\t' && b != '\v' && b != '\f') break;
      ++column;
    }
    // Either the first control byte, or an earlier complaint on line 1.
    Case c;
    ParseError e;
    EXPECT_FALSE(ReadPsse(bytes, &c, &e));
    EXPECT_FALSE(e.message.empty());
    if (e.message.find("binary data") != std::string::npos) {
      EXPECT_EQ(e.line, line);
      EXPECT_EQ(e.column, column);
    }
  }
  EXPECT_FAILS_AT(Tiny("1.02,0.0", std::string("1.02\0,0.0", 9)), 4, 33, "binary data (byte 0x00)");
}

TEST(PsseErrors, Syntax) {
  EXPECT_FAILS_AT(Tiny("2,'TWO     '", "2,'TWO     "), 5, 3,
                  "unterminated string: the single quote has no closing quote");
  EXPECT_FAILS_AT(Tiny("2,3,0,'T ',1,1,1", "2,3,0,'T ',4,1,1"), 16, 12, "expected CW 1, 2 or 3");
  // A section cut off by the end of the text.
  std::string t = Tiny();
  t.resize(t.find("0 / END OF BRANCH"));
  EXPECT_FAILS_AT(t, 15, 1, "expected a branch record, '0' (the end of the section) or 'Q'");
}

// Mangled RAW text: whatever the reader answers, it answers.
TEST(PsseErrors, NeverCrashesOnMangledText) {
  std::string good = ReadFile(PsseDir() + "/t_psse_case3.raw");
  ASSERT_FALSE(good.empty());
  std::mt19937 rng(7);
  int ok = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string t = good;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits && !t.empty(); ++k) {
      std::size_t at = rng() % t.size();
      switch (rng() % 4) {
        case 0:
          t.erase(at, 1 + rng() % 40);
          break;
        case 1:
          t.insert(at, 1, "0Q'\"/,\n\t -+e9."[rng() % 14]);
          break;
        case 2:
          t[at] = static_cast<char>(rng() & 0xFF);
          break;
        default:
          t.resize(at);
          break;
      }
    }
    Case c;
    ParseError e;
    if (ReadPsse(t, &c, &e)) {
      ++ok;
    } else {
      EXPECT_GE(e.line, 1);
      EXPECT_GE(e.column, 1);
      EXPECT_FALSE(e.message.empty());
    }
  }
  std::cout << ok << " of 3000 mangled texts read\n";
}

// ---------------------------------------------------------------------------
// Speed: a 20,000-bus case (REV 33) reads in well under a second.

TEST(PsseSpeed, LargeCase) {
  const int n = 20000;
  std::string t = "0, 100.0, 33, 0, 1, 60.00 / PSS(R)E-33\nBIG\nCASE\n";
  char buf[256];
  for (int i = 1; i <= n; ++i) {
    std::snprintf(buf, sizeof buf, "%d,'BUS %-6d', 138.0,%d,1,1,1,1.0,0.0,1.1,0.9,1.1,0.9\n", i, i,
                  i == 1 ? 3 : 1);
    t += buf;
  }
  t += "0 / END OF BUS DATA\n";
  for (int i = 2; i <= n; i += 2) {
    std::snprintf(buf, sizeof buf, "%d,'1 ',1,1,1,10.0,5.0,1.0,0.5,0.2,0.1,1,1,0\n", i);
    t += buf;
  }
  t += "0 / END OF LOAD DATA\n0 / END OF FIXED SHUNT DATA\n";
  for (int i = 1; i <= n; i += 10) {
    std::snprintf(buf, sizeof buf,
                  "%d,'1 ',50.0,0.0,100.0,-100.0,1.0,0,100.0,0,1,0,0,1,1,100,"
                  "200,0,1,1\n",
                  i);
    t += buf;
  }
  t += "0 / END OF GENERATOR DATA\n";
  for (int i = 1; i < n; ++i) {
    std::snprintf(buf, sizeof buf,
                  "%d,%d,'1 ',0.01,0.1,0.02,100,100,100,0,0,0,0,1,1,0,1,1\n"
                  "%d,%d,'2 ',0.01,0.1,0.02,100,100,100,0,0,0,0,1,1,0,1,1\n",
                  i, i + 1, i, (i + 7) % n + 1);
    t += buf;
  }
  t += "0 / END OF BRANCH DATA\n";
  for (int i = 1; i + 2 <= n; i += 100) {
    std::snprintf(buf, sizeof buf,
                  "%d,%d,0,'T ',1,1,1,0,0,2,'T',1,1,1\n0.0,0.05,100.0\n"
                  "1.0,0.0,0.0,50,50,50,0,0,1.1,0.9,1.1,0.9,33,0,0,0,0\n1.0,0.0\n",
                  i, i + 2);
    t += buf;
  }
  t += "0 / END OF TRANSFORMER DATA\nQ\n";
  std::vector<double> ms;
  for (int k = 0; k < 3; ++k) {
    Case c;
    ParseError e;
    auto start = std::chrono::steady_clock::now();
    bool ok = ReadPsse(t, &c, &e);
    auto end = std::chrono::steady_clock::now();
    ASSERT_TRUE(ok) << e.line << ":" << e.column << ": " << e.message;
    ASSERT_EQ(c.bus.size(), static_cast<std::size_t>(n));
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(ms.begin(), ms.end());
  std::cout << t.size() << " bytes read in " << ms[1] << " ms (median of 3)\n";
  EXPECT_LT(ms[1], 2000);
}

}  // namespace
}  // namespace grid
