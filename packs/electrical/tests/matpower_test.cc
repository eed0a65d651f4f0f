// The MATPOWER reader and writer against MATPOWER's own case files
// (../shared/testdata/matpower/m, with their JSON twins dumped by MATPOWER),
// psse2mpc's outputs (../shared/testdata/psse/*.m), hand-made cases and
// malformed text.
#include "packs/electrical/src/matpower.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "packs/electrical/tests/case_json.h"

namespace grid {
namespace {

using grid::testing::ReadCaseJson;
using grid::testing::TestdataDir;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The .m files of a testdata folder, by name without ".m", sorted.
std::vector<std::string> CaseNames(const std::string& folder) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    if (entry.path().extension() == ".m") names.push_back(entry.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string MatpowerDir() { return TestdataDir() + "/matpower"; }
std::string PsseDir() { return TestdataDir() + "/psse"; }

Case MustRead(const std::string& text) {
  Case c;
  ParseError e;
  EXPECT_TRUE(ReadMatpower(text, &c, &e)) << e.line << ":" << e.column << ": " << e.message;
  return c;
}

Case MustReadFile(const std::string& path) {
  Case c;
  ParseError e;
  EXPECT_TRUE(ReadMatpower(ReadFile(path), &c, &e))
      << path << ":" << e.line << ":" << e.column << ": " << e.message;
  return c;
}

// ---------------------------------------------------------------------------
// Comparing cases: the first difference, described, or "" when equal.
// `bitwise` compares doubles by their bits (a round trip must give back the
// very same doubles, -0 included); otherwise by value (the JSON twins).

class Differ {
 public:
  explicit Differ(bool bitwise) : bitwise_(bitwise) {}

  std::string Compare(const Case& a, const Case& b) {
    Num("baseMVA", a.base_mva, b.base_mva);
    Count("bus", a.bus.size(), b.bus.size());
    Count("gen", a.gen.size(), b.gen.size());
    Count("branch", a.branch.size(), b.branch.size());
    Count("dcline", a.dclines.size(), b.dclines.size());
    if (!diff_.empty()) return diff_;
    for (std::size_t i = 0; i < a.bus.size() && diff_.empty(); ++i) Buses(i, a.bus[i], b.bus[i]);
    for (std::size_t i = 0; i < a.gen.size() && diff_.empty(); ++i) Gens(i, a.gen[i], b.gen[i]);
    for (std::size_t i = 0; i < a.branch.size() && diff_.empty(); ++i) {
      Branches(i, a.branch[i], b.branch[i]);
    }
    for (std::size_t i = 0; i < a.dclines.size() && diff_.empty(); ++i) {
      DcLines(i, a.dclines[i], b.dclines[i]);
    }
    return diff_;
  }

  // Names too (the JSON twins have none).
  std::string CompareWithNames(const Case& a, const Case& b) {
    Compare(a, b);
    if (a.name != b.name) Note("name", a.name, b.name);
    for (std::size_t i = 0; i < a.bus.size() && diff_.empty(); ++i) {
      if (a.bus[i].name != b.bus[i].name) {
        Note("bus[" + std::to_string(i) + "].name", a.bus[i].name, b.bus[i].name);
      }
    }
    return diff_;
  }

  // Only the first `n` extra gen columns of `b` count (a JSON twin of a
  // solved case has the result columns 22-25 too, which the reader drops).
  void LimitExtra(std::size_t n) { extra_limit_ = n; }

 private:
  void Note(const std::string& what, const std::string& a, const std::string& b) {
    if (diff_.empty()) diff_ = what + ": '" + a + "' vs '" + b + "'";
  }
  void Count(const std::string& what, std::size_t a, std::size_t b) {
    if (a != b) Note(what + " count", std::to_string(a), std::to_string(b));
  }
  void Num(const std::string& what, double a, double b) {
    bool same =
        bitwise_ ? std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b) : a == b;
    if (!same) {
      std::ostringstream sa, sb;
      sa.precision(17);
      sb.precision(17);
      sa << a;
      sb << b;
      Note(what, sa.str(), sb.str());
    }
  }
  void Int(const std::string& what, int a, int b) {
    if (a != b) Note(what, std::to_string(a), std::to_string(b));
  }

  void Buses(std::size_t i, const Bus& a, const Bus& b) {
    std::string p = "bus[" + std::to_string(i) + "].";
    Int(p + "number", a.number, b.number);
    Int(p + "type", a.type, b.type);
    Num(p + "pd", a.pd, b.pd);
    Num(p + "qd", a.qd, b.qd);
    Num(p + "gs", a.gs, b.gs);
    Num(p + "bs", a.bs, b.bs);
    Int(p + "area", a.area, b.area);
    Num(p + "vm", a.vm, b.vm);
    Num(p + "va", a.va, b.va);
    Num(p + "base_kv", a.base_kv, b.base_kv);
    Int(p + "zone", a.zone, b.zone);
    Num(p + "vmax", a.vmax, b.vmax);
    Num(p + "vmin", a.vmin, b.vmin);
  }

  void Gens(std::size_t i, const Gen& a, const Gen& b) {
    std::string p = "gen[" + std::to_string(i) + "].";
    Int(p + "bus", a.bus, b.bus);
    Num(p + "pg", a.pg, b.pg);
    Num(p + "qg", a.qg, b.qg);
    Num(p + "qmax", a.qmax, b.qmax);
    Num(p + "qmin", a.qmin, b.qmin);
    Num(p + "vg", a.vg, b.vg);
    Num(p + "mbase", a.mbase, b.mbase);
    Int(p + "status", a.status, b.status);
    Num(p + "pmax", a.pmax, b.pmax);
    Num(p + "pmin", a.pmin, b.pmin);
    std::size_t nb = std::min(b.extra.size(), extra_limit_);
    Count(p + "extra", a.extra.size(), nb);
    for (std::size_t k = 0; k < a.extra.size() && k < nb; ++k) {
      Num(p + "extra[" + std::to_string(k) + "]", a.extra[k], b.extra[k]);
    }
  }

  void Branches(std::size_t i, const Branch& a, const Branch& b) {
    std::string p = "branch[" + std::to_string(i) + "].";
    Int(p + "from", a.from, b.from);
    Int(p + "to", a.to, b.to);
    Num(p + "r", a.r, b.r);
    Num(p + "x", a.x, b.x);
    Num(p + "b", a.b, b.b);
    Num(p + "rate_a", a.rate_a, b.rate_a);
    Num(p + "rate_b", a.rate_b, b.rate_b);
    Num(p + "rate_c", a.rate_c, b.rate_c);
    Num(p + "tap", a.tap, b.tap);
    Num(p + "shift", a.shift, b.shift);
    Int(p + "status", a.status, b.status);
    Num(p + "angmin", a.angmin, b.angmin);
    Num(p + "angmax", a.angmax, b.angmax);
  }

  void DcLines(std::size_t i, const DcLine& a, const DcLine& b) {
    std::string p = "dcline[" + std::to_string(i) + "].";
    Int(p + "from", a.from, b.from);
    Int(p + "to", a.to, b.to);
    Int(p + "status", a.status, b.status);
    const double av[] = {a.pf,   a.pt,    a.qf,    a.qt,    a.vf,    a.vt,    a.pmin,
                         a.pmax, a.qminf, a.qmaxf, a.qmint, a.qmaxt, a.loss0, a.loss1};
    const double bv[] = {b.pf,   b.pt,    b.qf,    b.qt,    b.vf,    b.vt,    b.pmin,
                         b.pmax, b.qminf, b.qmaxf, b.qmint, b.qmaxt, b.loss0, b.loss1};
    for (std::size_t k = 0; k < std::size(av); ++k) {
      Num(p + "column " + std::to_string(k + 4), av[k], bv[k]);
    }
  }

  bool bitwise_;
  std::size_t extra_limit_ = std::numeric_limits<std::size_t>::max();
  std::string diff_;
};

// A case read, written and read again is the same case, and writing it
// again gives the same text.
void ExpectRoundTrip(const Case& c) {
  std::string text = WriteMatpower(c);
  Case back;
  ParseError e;
  ASSERT_TRUE(ReadMatpower(text, &back, &e)) << e.line << ":" << e.column << ": " << e.message;
  EXPECT_EQ(Differ(true).CompareWithNames(c, back), "");
  EXPECT_EQ(WriteMatpower(back), text);
}

// ---------------------------------------------------------------------------
// MATPOWER's cases.

TEST(MatpowerCases, AllElevenAreThere) {
  std::vector<std::string> names = CaseNames(MatpowerDir() + "/m");
  for (const char* want :
       {"case14", "case30", "case57", "case118", "case89pegase", "case300", "case1354pegase",
        "case2383wp", "case_ACTIVSg2000", "case9241pegase", "case_ACTIVSg10k"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  }
}

class MatpowerCaseTest : public ::testing::TestWithParam<std::string> {};

TEST_P(MatpowerCaseTest, ReadsAsItsJsonTwin) {
  const std::string& name = GetParam();
  Case c = MustReadFile(MatpowerDir() + "/m/" + name + ".m");
  Case json = ReadCaseJson(MatpowerDir() + "/" + name + ".json");
  EXPECT_EQ(c.name, name);
  EXPECT_FALSE(c.bus.empty());
  Differ d(false);
  d.LimitExtra(11);  // columns 11-21
  EXPECT_EQ(d.Compare(c, json), "");
  for (const Gen& g : c.gen) ASSERT_EQ(g.extra.size(), 11u);
}

TEST_P(MatpowerCaseTest, RoundTrips) {
  ExpectRoundTrip(MustReadFile(MatpowerDir() + "/m/" + GetParam() + ".m"));
}

INSTANTIATE_TEST_SUITE_P(Testdata, MatpowerCaseTest,
                         ::testing::ValuesIn(CaseNames(MatpowerDir() + "/m")),
                         [](const auto& info) { return info.param; });

TEST(MatpowerCases, KeepsBusNamesAndIgnoresSolvedColumns) {
  Case c14 = MustReadFile(MatpowerDir() + "/m/case14.m");
  EXPECT_EQ(c14.bus[0].name, "Bus 1     HV");
  EXPECT_EQ(c14.bus[13].name, "Bus 14    LV");

  Case c10k = MustReadFile(MatpowerDir() + "/m/case_ACTIVSg10k.m");
  EXPECT_EQ(c10k.bus.back().name, "EL PASO 38 1");
  std::string warnings;
  for (const std::string& w : c10k.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("mpc.bus: columns 14-17"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("mpc.gen: columns 22-25"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("mpc.branch: columns 14-21"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("mpc.gencost, mpc.gentype, mpc.genfuel"), std::string::npos) << warnings;
}

// ---------------------------------------------------------------------------
// psse2mpc's outputs: bus_name and dcline.

class PsseCaseTest : public ::testing::TestWithParam<std::string> {};

TEST_P(PsseCaseTest, RoundTrips) {
  Case c = MustReadFile(PsseDir() + "/" + GetParam() + ".m");
  for (const Bus& b : c.bus) EXPECT_FALSE(b.name.empty());
  ExpectRoundTrip(c);
}

// The .m files are psse2mpc's output printed with 8 significant digits, the
// JSON twins its doubles: equal to that precision.
TEST_P(PsseCaseTest, MatchesItsJsonTwinToPrintedPrecision) {
  Case c = MustReadFile(PsseDir() + "/" + GetParam() + ".m");
  Case json = ReadCaseJson(PsseDir() + "/" + GetParam() + ".json");
  ASSERT_EQ(c.bus.size(), json.bus.size());
  ASSERT_EQ(c.gen.size(), json.gen.size());
  ASSERT_EQ(c.branch.size(), json.branch.size());
  auto near = [](double a, double b) { return a == b || std::fabs(a - b) <= 1e-6 * std::fabs(b); };
  for (std::size_t i = 0; i < c.bus.size(); ++i) {
    EXPECT_EQ(c.bus[i].number, json.bus[i].number);
    EXPECT_TRUE(near(c.bus[i].va, json.bus[i].va)) << i;
  }
  for (std::size_t i = 0; i < c.branch.size(); ++i) {
    EXPECT_EQ(c.branch[i].to, json.branch[i].to);
    EXPECT_TRUE(near(c.branch[i].b, json.branch[i].b)) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Testdata, PsseCaseTest, ::testing::ValuesIn(CaseNames(PsseDir())),
                         [](const auto& info) { return info.param; });

TEST(PsseCases, ReadsDcLines) {
  Case c = MustReadFile(PsseDir() + "/t_psse_case3.m");
  ASSERT_EQ(c.dclines.size(), 2u);
  const DcLine& d = c.dclines[1];
  EXPECT_EQ(d.from, 301);
  EXPECT_EQ(d.to, 3022);
  EXPECT_EQ(d.status, 1);
  EXPECT_EQ(d.pf, 1500);
  EXPECT_EQ(d.pmax, 1725);
  EXPECT_EQ(d.qminf, 210.811252);
  EXPECT_EQ(d.qmaxt, 1446.42017);
  EXPECT_EQ(d.loss1, 0);
  EXPECT_EQ(c.bus[0].name, "NUC-A       ");  // verbatim, padding kept
}

// ---------------------------------------------------------------------------
// Speed: the PEGASE import must stay far below its 5 s budget.

double MedianParseMs(const std::string& text) {
  std::vector<double> ms;
  for (int i = 0; i < 5; ++i) {
    Case c;
    ParseError e;
    auto start = std::chrono::steady_clock::now();
    bool ok = ReadMatpower(text, &c, &e);
    auto end = std::chrono::steady_clock::now();
    EXPECT_TRUE(ok) << e.message;
    ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

TEST(MatpowerSpeed, ReadsTheLargestCasesQuickly) {
  for (const char* name : {"case9241pegase", "case_ACTIVSg10k"}) {
    std::string text = ReadFile(MatpowerDir() + "/m/" + name + ".m");
    double ms = MedianParseMs(text);
    std::cout << name << ": " << text.size() << " bytes parsed in " << ms << " ms (median of 5)\n";
    RecordProperty(std::string(name) + "_ms", std::to_string(ms));
    // Tens of ms optimised; the bound leaves room for sanitizer builds.
    EXPECT_LT(ms, 2000) << name;
  }
}

// ---------------------------------------------------------------------------
// Reading: what MATLAB's syntax allows.

// A small valid case, one value per line number the error tests below use:
//   line 5-7 the buses, 10-11 the gens, 14-15 the branches.
constexpr const char* kTiny =
    "function mpc = tiny\n"                                  // 1
    "mpc.version = '2';\n"                                   // 2
    "mpc.baseMVA = 100;\n"                                   // 3
    "mpc.bus = [\n"                                          // 4
    "  1 3 0 0 0 0 1 1 0 230 1 1.1 0.9;\n"                   // 5
    "  2 1 90 30 0 0 1 1 0 230 1 1.1 0.9;\n"                 // 6
    "  3 2 0 0 0 0 1 1 0 230 1 1.1 0.9;\n"                   // 7
    "];\n"                                                   // 8
    "mpc.gen = [\n"                                          // 9
    "  1 0 0 300 -300 1 100 1 250 10;\n"                     // 10
    "  3 85 0 300 -300 1 100 1 270 10;\n"                    // 11
    "];\n"                                                   // 12
    "mpc.branch = [\n"                                       // 13
    "  1 2 0.01 0.085 0.176 250 250 250 0 0 1 -360 360;\n"   // 14
    "  2 3 0.017 0.092 0.158 250 250 250 0 0 1 -360 360;\n"  // 15
    "];\n";                                                  // 16

// kTiny with the first `from` replaced by `to`.
std::string Tiny(const std::string& from = "", const std::string& to = "") {
  std::string t = kTiny;
  if (from.empty()) return t;
  std::size_t at = t.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) t.replace(at, from.size(), to);
  return t;
}

TEST(MatpowerRead, TinyCase) {
  Case c = MustRead(Tiny());
  EXPECT_EQ(c.name, "tiny");
  EXPECT_EQ(c.base_mva, 100);
  ASSERT_EQ(c.bus.size(), 3u);
  EXPECT_EQ(c.bus[1].pd, 90);
  EXPECT_EQ(c.bus[2].type, kPV);
  ASSERT_EQ(c.gen.size(), 2u);
  EXPECT_TRUE(c.gen[0].extra.empty());  // 10 columns: none invented
  EXPECT_EQ(c.gen[1].pmax, 270);
  ASSERT_EQ(c.branch.size(), 2u);
  EXPECT_EQ(c.branch[1].x, 0.092);
  EXPECT_TRUE(c.warnings.empty());
}

TEST(MatpowerRead, MatlabSyntax) {
  // Commas, one-line rows, '...' continuations, '+', Inf, exponents,
  // comments holding brackets, CRLF line ends, "2", and a closing 'end'.
  std::string text =
      "% header\r\n"
      "function mpc = syntax()\r\n"
      "mpc.version = \"2\";  % comment ]\r\n"
      "mpc.baseMVA = 1e2;\r\n"
      "mpc.bus = [1, 3, 0, 0, 0, 0, 1, 1, 0, 230, 1, 1.1, 0.9; 2 1 +9.5e+1 ...  more ]\r\n"
      "   30 0 0 1 1 0 230 1 1.1 0.9\r\n"
      "\r\n"
      "  % a comment row ]\r\n"
      "];\r\n"
      "mpc.gen = [1 0 0 Inf -Inf 1 100 1 Inf 0 ]  ;\r\n"
      "mpc.branch = [1 2 .01 0.085 1e-999 1e999 250 250 0 0 1];\r\n"
      "mpc.areas = [1 1];\r\n"
      "mpc.reserves.zones = [1 1 1];\r\n"
      "mpc.userfcn = struct('f', {{'a]%', \"b}\"}}, 'x', [1; 2]);\r\n"
      "mpc.gencost = [\r\n 2 0 0 3 0.1 1 0;\r\n];\r\n"
      "end\r\n";
  Case c = MustRead(text);
  EXPECT_EQ(c.name, "syntax");
  ASSERT_EQ(c.bus.size(), 2u);
  EXPECT_EQ(c.bus[1].pd, 95);
  EXPECT_EQ(c.bus[1].qd, 30);
  EXPECT_EQ(c.bus[1].vmin, 0.9);
  EXPECT_EQ(c.gen[0].qmax, kInf);
  EXPECT_EQ(c.gen[0].qmin, -kInf);
  EXPECT_EQ(c.gen[0].pmax, kInf);
  ASSERT_EQ(c.branch.size(), 1u);
  EXPECT_EQ(c.branch[0].r, 0.01);
  EXPECT_EQ(c.branch[0].b, 0);  // MATLAB's underflow and overflow
  EXPECT_EQ(c.branch[0].rate_a, kInf);
  EXPECT_EQ(c.branch[0].angmin, -360);  // 11 columns: MATPOWER's defaults
  EXPECT_EQ(c.branch[0].angmax, 360);
  std::string warnings;
  for (const std::string& w : c.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("ANGMIN/ANGMAX"), std::string::npos) << warnings;
  EXPECT_NE(warnings.find("mpc.areas, mpc.reserves.zones, mpc.userfcn, mpc.gencost"),
            std::string::npos)
      << warnings;
}

TEST(MatpowerRead, FieldsInAnyOrderAndQuotesInNames) {
  std::string text = Tiny("mpc.bus = [", "mpc.bus_name = {'a''b', \"c\"\n 'd % e'};\nmpc.bus = [");
  Case c = MustRead(text);
  EXPECT_EQ(c.bus[0].name, "a'b");
  EXPECT_EQ(c.bus[1].name, "c");
  EXPECT_EQ(c.bus[2].name, "d % e");
}

TEST(MatpowerRead, ScriptWithoutFunctionLine) {
  Case c = MustRead(Tiny("function mpc = tiny\n", "% a script\n"));
  EXPECT_EQ(c.name, "");
  EXPECT_EQ(c.bus.size(), 3u);
}

TEST(MatpowerRead, NullPointersAreAnswered) {
  EXPECT_FALSE(ReadMatpower(Tiny(), nullptr, nullptr));
  Case c;
  EXPECT_TRUE(ReadMatpower(Tiny(), &c, nullptr));
  EXPECT_FALSE(ReadMatpower("", &c, nullptr));
}

// ---------------------------------------------------------------------------
// Reading: malformed text gives false and the place.

struct Failure {
  int line;
  int column;
  std::string message;
};

Failure ReadFailure(std::string_view text) {
  Case c;
  c.name = "untouched";
  ParseError e;
  bool ok = ReadMatpower(text, &c, &e);
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

TEST(MatpowerErrors, BlockComments) {
  Case c = MustRead(Tiny("mpc.gen = [",
                         "%{\nmpc.gen = [ x\n  %{\n nested\n  %}\nmpc.bus = 0;\n %} \n"
                         "mpc.gen = ["));
  EXPECT_EQ(c.gen.size(), 2u);
  EXPECT_FAILS_AT(Tiny("mpc.gen = [", "%{ not a block\nmpc.gen = x\nmpc.gen = ["), 10, 11,
                  "expected '[' to start the mpc.gen matrix, got 'x'");
}

TEST(MatpowerErrors, NonNumericTokenInABusRow) {
  EXPECT_FAILS_AT(Tiny("  2 1 90 30", "  2 1 9x 30"), 6, 7,
                  "expected a number in mpc.bus row 2 column 3 (PD), got '9x'");
}

TEST(MatpowerErrors, RowWithTooFewColumns) {
  // Row 3 lacks VMIN: reported at its ';' (column 30).
  EXPECT_FAILS_AT(Tiny("  3 2 0 0 0 0 1 1 0 230 1 1.1 0.9;", "  3 2 0 0 0 0 1 1 0 230 1 1.1;"), 7,
                  30, "expected 13 columns in mpc.bus row 3 (as in the rows above), got 12");
  // The first gen row sets the width, and needs MATPOWER's 10.
  EXPECT_FAILS_AT(Tiny("  1 0 0 300 -300 1 100 1 250 10;", "  1 0 0 300 -300 1 100 1 250;"), 10, 29,
                  "expected at least 10 columns in mpc.gen row 1, got 9");
}

TEST(MatpowerErrors, RowWithTooManyColumns) {
  // At the first surplus element.
  EXPECT_FAILS_AT(Tiny("-360 360;\n];", "-360 360 7 8;\n];"), 15, 52,
                  "expected 13 columns in mpc.branch row 2 (as in the rows above), got 15");
}

TEST(MatpowerErrors, UnterminatedMatrix) {
  // Followed by the next statement: reported there.
  EXPECT_FAILS_AT(Tiny("];\nmpc.gen", "mpc.gen"), 8, 1,
                  "unterminated mpc.bus: expected ']' (for the '[' at line 4 column 11) before "
                  "'mpc.gen'");
  // Running to the end of the text: reported at the end.
  std::string text = Tiny();
  text.resize(text.find("];"));
  EXPECT_FAILS_AT(text, 8, 1, "unterminated mpc.bus: the '[' at line 4 column 11 has no ']'");
  EXPECT_FAILS_AT(Tiny("mpc.bus = [", "mpc.bus_name = {'a'; 'b'\nmpc.bus = ["), 5, 1,
                  "unterminated mpc.bus_name");
  EXPECT_FAILS_AT(Tiny("mpc.bus = [", "mpc.gencost = [1 2\nmpc.bus = ["), 5, 1,
                  "unterminated mpc.gencost");
}

TEST(MatpowerErrors, MissingFields) {
  std::string no_gen = Tiny(
      "mpc.gen = [\n  1 0 0 300 -300 1 100 1 250 10;\n"
      "  3 85 0 300 -300 1 100 1 270 10;\n];\n",
      "");
  EXPECT_FAILS_AT(no_gen, 13, 1, "missing mpc.gen");
  EXPECT_FAILS_AT(Tiny("mpc.baseMVA = 100;\n", ""), 16, 1, "missing mpc.baseMVA");
  EXPECT_FAILS_AT(Tiny("mpc.version = '2';\n", ""), 16, 1, "missing mpc.version");
  EXPECT_FAILS_AT(Tiny("mpc.bus = [", "mpc.bus_old = ["), 17, 1, "missing mpc.bus");
}

TEST(MatpowerErrors, BranchOrGenToAnUnknownBus) {
  EXPECT_FAILS_AT(Tiny("  2 3 0.017", "  2 7 0.017"), 15, 5,
                  "bus 7 in mpc.branch row 2 column 2 (T_BUS) is not in mpc.bus");
  EXPECT_FAILS_AT(Tiny("  3 85", "  9 85"), 11, 3,
                  "bus 9 in mpc.gen row 2 column 1 (GEN_BUS) is not in mpc.bus");
}

TEST(MatpowerErrors, DuplicateBusNumber) {
  EXPECT_FAILS_AT(Tiny("  3 2 0", "  2 2 0"), 7, 3,
                  "duplicate bus number 2 in mpc.bus row 3 (also in row 2)");
}

TEST(MatpowerErrors, Version1) {
  EXPECT_FAILS_AT(Tiny("'2'", "'1'"), 2, 15, "version 1 is not supported");
  EXPECT_FAILS_AT(
      Tiny("function mpc = tiny", "function [baseMVA, bus, gen, branch, areas, gencost] = tiny"), 1,
      10, "version 1");
  EXPECT_FAILS_AT("baseMVA = 100;\nbus = [\n];\n", 1, 1, "version 1");
  EXPECT_FAILS_AT(Tiny("'2'", "'3'"), 2, 15, "expected MATPOWER case format version '2'");
}

TEST(MatpowerErrors, EmptyText) {
  EXPECT_FAILS_AT("", 1, 1, "empty");
  EXPECT_FAILS_AT("% only\n% comments\n", 3, 1, "no case data");
}

TEST(MatpowerErrors, RandomBinaryBytes) {
  std::mt19937 rng(20240611);
  std::string bytes(4096, '\0');
  for (char& b : bytes) b = static_cast<char>(rng() & 0xFF);
  // Expected: the first control byte that no text file holds.
  int line = 1, column = 1;
  for (unsigned char b : bytes) {
    if (b < 0x20 && b != '\t' && b != '\n' && b != '\r' && b != '\v' && b != '\f') break;
    if (b == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  EXPECT_FAILS_AT(bytes, line, column, "binary data");
  EXPECT_FAILS_AT(Tiny("  1 3 0 0", std::string("  1 3 0\0 0", 10)), 5, 8,
                  "binary data (byte 0x00)");
}

TEST(MatpowerErrors, BadValues) {
  EXPECT_FAILS_AT(Tiny("  2 1 90", "  2.5 1 90"), 6, 3,
                  "expected an integer in mpc.bus row 2 column 1 (BUS_I), got '2.5'");
  EXPECT_FAILS_AT(Tiny("  2 1 90", "  2 7 90"), 6, 5, "expected a bus type 1 (PQ)");
  EXPECT_FAILS_AT(Tiny("  2 1 90 30 0 0 1 1", "  2 1 90 30 0 0 1 NaN"), 6, 19,
                  "expected a number in mpc.bus row 2 column 8 (VM), got 'NaN'");
  EXPECT_FAILS_AT(Tiny("  1 3 0", "  0 3 0"), 5, 3, "expected a positive bus number");
  EXPECT_FAILS_AT(Tiny("100;", "-1;"), 3, 15, "expected a positive mpc.baseMVA");
  EXPECT_FAILS_AT(Tiny("mpc.bus = [", "mpc.bus_name = {'a'; 'b'};\nmpc.bus = ["), 4, 1,
                  "mpc.bus_name has 2 names but mpc.bus has 3 rows");
  EXPECT_FAILS_AT(Tiny("mpc.bus = [", "mpc.bus_name = {'a'; 7};\nmpc.bus = ["), 4, 22,
                  "expected a quoted name in mpc.bus_name entry 2, got '7'");
  EXPECT_FAILS_AT(Tiny("mpc.bus = [", "mpc.bus_name = {'a\n};\nmpc.bus = ["), 4, 17,
                  "unterminated string");
}

TEST(MatpowerErrors, CodeIsNotRun) {
  EXPECT_FAILS_AT(Tiny("];\n", "];\nmpc.branch(:, 3) = 0;\n"), 9, 11,
                  "expected '=' after mpc.branch");
  EXPECT_FAILS_AT(Tiny("];\n", "];\ndefine_constants;\n"), 9, 1, "unsupported statement");
  EXPECT_FAILS_AT(Tiny("mpc.baseMVA = 100;", "mpc.baseMVA = 100 * 2;"), 3, 19,
                  "expected ';' or the end of the line after mpc.baseMVA");
}

// Mangled case text: whatever the reader answers, it answers.
TEST(MatpowerErrors, NeverCrashesOnMangledText) {
  std::string good = ReadFile(MatpowerDir() + "/m/case14.m");
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string t = good;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits && !t.empty(); ++k) {
      std::size_t at = rng() % t.size();
      switch (rng() % 4) {
        case 0:
          t.erase(at, 1 + rng() % 40);
          break;
        case 1:
          t.insert(at, 1, "[]{}'\";%.,\n\tx-+e9"[rng() % 18]);
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
    if (!ReadMatpower(t, &c, &e)) {
      EXPECT_GE(e.line, 1);
      EXPECT_GE(e.column, 1);
      EXPECT_FALSE(e.message.empty());
    }
  }
}

// ---------------------------------------------------------------------------
// Writing.

Case Handmade() {
  Case c;
  c.name = "handmade";
  c.base_mva = 100;
  Bus a;
  a.number = 1;
  a.type = kRef;
  a.name = "O'Brien ] % {";
  a.pd = 0.1;
  a.qd = 1.0 / 3;
  a.gs = 5e-324;
  a.bs = -0.0;
  a.vm = std::numeric_limits<double>::max();
  a.va = 1e-300;
  a.base_kv = 123456789012345680000.0;
  Bus b;
  b.number = 7;
  b.pd = -2.5e-7;
  c.bus = {a, b};
  Gen g0;
  g0.bus = 1;
  g0.extra = {1, 2, std::nan("")};
  Gen g1;
  g1.bus = 7;
  g1.pmin = -kInf;
  c.gen = {g0, g1};
  Branch br;
  br.from = 1;
  br.to = 7;
  br.x = 0.1 + 0.2;
  c.branch = {br};
  DcLine d;
  d.from = 7;
  d.to = 1;
  d.loss1 = 0.01;
  c.dclines = {d};
  return c;
}

TEST(MatpowerWrite, ExactNumbersNamesAndInf) {
  Case c = Handmade();
  std::string text = WriteMatpower(c);
  EXPECT_EQ(text.rfind("function mpc = handmade\n", 0), 0u) << text;
  EXPECT_NE(text.find("BVER"), std::string::npos);
  EXPECT_NE(text.find("mpc.version = '2';"), std::string::npos);
  EXPECT_NE(text.find("%\tbus_i\ttype\tPd\tQd\tGs\tBs\tarea\tVm\tVa\tbaseKV\tzone\tVmax\tVmin\n"),
            std::string::npos);
  EXPECT_NE(text.find("\t1\t3\t0.1\t0.3333333333333333\t5e-324\t-0\t1\t1.7976931348623157e+308"
                      "\t1e-300\t123456789012345683968\t1\t1.1\t0.9;\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\t0.30000000000000004\t"), std::string::npos);
  EXPECT_NE(text.find("\tInf\t-Inf\t"), std::string::npos);
  EXPECT_NE(text.find("\t'O''Brien ] % {';\n"), std::string::npos);
  EXPECT_NE(text.find("\t'';\n"), std::string::npos);  // bus 7 has no name
  EXPECT_NE(text.find("mpc.dcline = ["), std::string::npos);

  Case back = MustRead(text);
  // Gen 2 had no extra columns; the matrix is rectangular, so it gets 0s.
  ASSERT_EQ(back.gen[1].extra.size(), 3u);
  EXPECT_EQ(back.gen[1].extra[2], 0);
  EXPECT_TRUE(std::isnan(back.gen[0].extra[2]));
  back.gen[1].extra.clear();
  c.gen[0].extra[2] = back.gen[0].extra[2] = 0;  // NaN != NaN
  EXPECT_EQ(Differ(true).CompareWithNames(c, back), "");
}

TEST(MatpowerWrite, NoNamesNoDcLinesNoExtraColumns) {
  Case c = MustRead(Tiny());
  std::string text = WriteMatpower(c);
  EXPECT_EQ(text.find("bus_name"), std::string::npos);
  EXPECT_EQ(text.find("dcline"), std::string::npos);
  EXPECT_NE(text.find("%\tbus\tPg\tQg\tQmax\tQmin\tVg\tmBase\tstatus\tPmax\tPmin\n"),
            std::string::npos);
  ExpectRoundTrip(c);
}

TEST(MatpowerWrite, FunctionNameIsAMatlabIdentifier) {
  Case c = MustRead(Tiny());
  c.name = "my case-1.raw";
  EXPECT_EQ(WriteMatpower(c).rfind("function mpc = my_case_1_raw\n", 0), 0u);
  c.name = "9bus";
  EXPECT_EQ(WriteMatpower(c).rfind("function mpc = case_9bus\n", 0), 0u);
  c.name = "";
  EXPECT_EQ(WriteMatpower(c).rfind("function mpc = bver_case\n", 0), 0u);
  EXPECT_EQ(MustRead(WriteMatpower(c)).name, "bver_case");
}

}  // namespace
}  // namespace grid
