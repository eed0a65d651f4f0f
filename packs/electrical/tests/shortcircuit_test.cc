// The short circuit against an independent computation: Y built densely here
// from the formulas (not the pack's code) and inverted by LAPACK (zgesv), on
// every MATPOWER case up to 300 buses; cases worked by hand; islands, buses
// without base kV, bad cases.
#include "packs/electrical/src/shortcircuit.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <complex>
#include <map>
#include <string>
#include <vector>

#include "packs/electrical/tests/case_json.h"

extern "C" void zgesv_(int* n, int* nrhs, std::complex<double>* a, int* lda, int* ipiv, std::complex<double>* b,
                       int* ldb, int* info);

namespace grid {
namespace {

using Complex = std::complex<double>;

Case Load(const std::string& name) {
  return grid::testing::ReadCaseJson(grid::testing::TestdataDir() + "/matpower/" + name + ".json");
}

Bus MakeBus(int number, double kv) {
  Bus b;
  b.number = number;
  b.base_kv = kv;
  return b;
}

Branch MakeBranch(int from, int to, double r, double x) {
  Branch br;
  br.from = from;
  br.to = to;
  br.r = r;
  br.x = x;
  return br;
}

Gen MakeGen(int bus, double x_subtransient = 0, double mbase = 100) {
  Gen g;
  g.bus = bus;
  g.x_subtransient = x_subtransient;
  g.mbase = mbase;
  return g;
}

// Z = Y⁻¹ densely: every bus is connected and grounded in these cases.
std::vector<Complex> DenseZ(const Case& c) {
  const int n = static_cast<int>(c.bus.size());
  std::map<int, int> at;
  for (int k = 0; k < n; ++k) at[c.bus[static_cast<std::size_t>(k)].number] = k;
  std::vector<Complex> y(static_cast<std::size_t>(n) * static_cast<std::size_t>(n));
  auto Y = [&](int i, int j) -> Complex& { return y[static_cast<std::size_t>(j) * static_cast<std::size_t>(n) + static_cast<std::size_t>(i)]; };
  const double deg = 3.14159265358979323846 / 180;
  for (const Branch& br : c.branch) {
    if (br.status == 0) continue;
    int f = at[br.from], t = at[br.to];
    Complex ys = Complex(1, 0) / Complex(br.r, br.x);
    Complex tap = (br.tap == 0 ? 1.0 : br.tap) * Complex(std::cos(br.shift * deg), std::sin(br.shift * deg));
    Y(f, f) += ys / (tap * std::conj(tap));
    Y(f, t) -= ys / std::conj(tap);
    Y(t, f) -= ys / tap;
    Y(t, t) += ys;
  }
  for (const Gen& g : c.gen) {
    if (g.status <= 0) continue;
    double x = g.x_subtransient > 0 ? g.x_subtransient : 0.2;
    Y(at[g.bus], at[g.bus]) += Complex(1, 0) / Complex(0, x * c.base_mva / (g.mbase > 0 ? g.mbase : c.base_mva));
  }
  std::vector<Complex> z(static_cast<std::size_t>(n) * static_cast<std::size_t>(n));
  for (int k = 0; k < n; ++k) z[static_cast<std::size_t>(k) * static_cast<std::size_t>(n) + static_cast<std::size_t>(k)] = 1;
  std::vector<int> ipiv(static_cast<std::size_t>(n));
  int nrhs = n, lda = n, ldb = n, info = 0, nn = n;
  zgesv_(&nn, &nrhs, y.data(), &lda, ipiv.data(), z.data(), &ldb, &info);
  EXPECT_EQ(info, 0);
  return z;
}

class ShortCircuitCaseTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ShortCircuitCaseTest, AgreesWithADenseInversion) {
  const Case c = Load(GetParam());
  ShortCircuitResult r;
  std::string error;
  ASSERT_TRUE(ComputeShortCircuit(c, ShortCircuitOptions(), &r, &error)) << error;
  const std::vector<Complex> z = DenseZ(c);
  const std::size_t n = c.bus.size();
  double worst = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const Complex want = z[k * n + k];
    const Complex got(r.zkk_re[k], r.zkk_im[k]);
    const double rel = std::abs(got - want) / std::abs(want);
    worst = std::max(worst, rel);
    ASSERT_LE(rel, 1e-6) << "bus " << c.bus[k].number;
    if (c.bus[k].base_kv > 0) {
      const double ik = 1.1 * c.base_mva / (std::sqrt(3.0) * c.bus[k].base_kv * std::abs(want));
      ASSERT_LE(std::abs(r.ik_ka[k] - ik) / ik, 1e-6) << "bus " << c.bus[k].number;
    } else {
      EXPECT_TRUE(std::isnan(r.ik_ka[k]));
    }
  }
  RecordProperty("worst_relative_error", std::to_string(worst));
}

INSTANTIATE_TEST_SUITE_P(Matpower, ShortCircuitCaseTest,
                         ::testing::Values("case14", "case30", "case57", "case89pegase", "case118", "case300"));

TEST(ShortCircuitTest, TwoBusesByHand) {
  // 100 MVA base, 20 kV; a generator at bus 1 with X''d = 0.2 p.u. on
  // 100 MVA; a line x = 0.1 p.u. to bus 2.
  //   Z11 = j0.2, Z22 = j0.2 + j0.1 = j0.3
  //   Ik''1 = 1.1 * 100 / (sqrt(3) * 20 * 0.2) = 15.877 kA
  //   Ik''2 = 1.1 * 100 / (sqrt(3) * 20 * 0.3) = 10.585 kA
  Case c;
  c.bus = {MakeBus(1, 20), MakeBus(2, 20)};
  c.gen = {MakeGen(1, 0.2)};
  c.branch = {MakeBranch(1, 2, 0, 0.1)};
  ShortCircuitResult r;
  std::string error;
  ASSERT_TRUE(ComputeShortCircuit(c, ShortCircuitOptions(), &r, &error)) << error;
  EXPECT_NEAR(r.zkk_im[0], 0.2, 1e-12);
  EXPECT_NEAR(r.zkk_im[1], 0.3, 1e-12);
  EXPECT_NEAR(r.ik_ka[0], 15.877, 1e-3);
  EXPECT_NEAR(r.ik_ka[1], 10.585, 1e-3);
}

TEST(ShortCircuitTest, MachineBaseAndTransformerTap) {
  // The generator's X''d = 0.25 on a 50 MVA machine: 0.25 * 100 / 50 = 0.5
  // p.u. on the 100 MVA base (Z11 = j0.5). A transformer x = 0.1 with the
  // off-nominal tap t = 1.05 at its from end, to bus 2 at 10 kV. With
  // Y = [[y/t² + yg, -y/t], [-y/t, y]], det = y·yg and
  //   Z22 = (y/t² + yg) / (y·yg) = zg/t² + z = j(0.5/1.1025 + 0.1) = j0.553515
  //   Ik''2 = 1.1 * 100 / (sqrt(3) * 10 * 0.553515) = 11.4737 kA
  Case c;
  c.bus = {MakeBus(1, 110), MakeBus(2, 10)};
  c.gen = {MakeGen(1, 0.25, 50)};
  Branch t = MakeBranch(1, 2, 0, 0.1);
  t.tap = 1.05;
  c.branch = {t};
  ShortCircuitResult r;
  std::string error;
  ASSERT_TRUE(ComputeShortCircuit(c, ShortCircuitOptions(), &r, &error)) << error;
  EXPECT_NEAR(r.zkk_im[0], 0.5, 1e-12);
  EXPECT_NEAR(r.zkk_im[1], 0.5 / (1.05 * 1.05) + 0.1, 1e-12);
  EXPECT_NEAR(r.ik_ka[1], 11.4737, 1e-3);
}

TEST(ShortCircuitTest, IslandsIsolatedBusesAndMissingBaseKv) {
  Case c;
  c.bus = {MakeBus(1, 20), MakeBus(2, 0), MakeBus(3, 20), MakeBus(4, 20), MakeBus(5, 20)};
  c.bus[4].type = kIsolated;
  c.gen = {MakeGen(1), MakeGen(3)};
  c.gen[1].status = 0;  // bus 3-4 is an island without a generator in service
  c.branch = {MakeBranch(1, 2, 0.01, 0.1), MakeBranch(3, 4, 0.01, 0.1), MakeBranch(1, 5, 0.01, 0.1)};
  Branch off = MakeBranch(2, 3, 0.01, 0.1);
  off.status = 0;
  c.branch.push_back(off);
  ShortCircuitResult r;
  std::string error;
  ASSERT_TRUE(ComputeShortCircuit(c, ShortCircuitOptions(), &r, &error)) << error;
  EXPECT_EQ(r.no_ground_buses, (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(r.no_base_kv_buses, (std::vector<int>{1}));
  EXPECT_TRUE(std::isfinite(r.ik_ka[0]));
  EXPECT_TRUE(std::isnan(r.ik_ka[1]));
  EXPECT_NEAR(r.zkk_abs[1], std::abs(Complex(0.01, 0.3)), 1e-12);
  EXPECT_TRUE(std::isnan(r.zkk_abs[2]));
  EXPECT_FALSE(r.warnings.empty());
}

TEST(ShortCircuitTest, BadCasesAreErrors) {
  ShortCircuitResult r;
  std::string error;
  EXPECT_FALSE(ComputeShortCircuit(Case(), ShortCircuitOptions(), &r, &error));
  Case c;
  c.bus = {MakeBus(1, 20), MakeBus(2, 20)};
  c.gen = {MakeGen(1)};
  c.branch = {MakeBranch(1, 2, 0, 0)};
  EXPECT_FALSE(ComputeShortCircuit(c, ShortCircuitOptions(), &r, &error));
  EXPECT_NE(error.find("zero impedance"), std::string::npos) << error;
  c.branch = {MakeBranch(1, 7, 0, 0.1)};
  EXPECT_FALSE(ComputeShortCircuit(c, ShortCircuitOptions(), &r, &error));
  EXPECT_NE(error.find("bus 7"), std::string::npos) << error;
  c.branch = {MakeBranch(1, 2, 0, 0.1)};
  c.bus[1].number = 1;
  EXPECT_FALSE(ComputeShortCircuit(c, ShortCircuitOptions(), &r, &error));
  EXPECT_NE(error.find("twice"), std::string::npos) << error;
  c.bus[1].number = 2;
  ShortCircuitOptions o;
  o.c = -1;
  EXPECT_FALSE(ComputeShortCircuit(c, o, &r, &error));
}

TEST(LargeShortCircuitTest, Case9241pegaseEveryBus) {
  const Case c = Load("case9241pegase");
  ShortCircuitResult r;
  std::string error;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(ComputeShortCircuit(c, ShortCircuitOptions(), &r, &error)) << error;
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  int finite = 0;
  for (std::size_t k = 0; k < c.bus.size(); ++k) {
    if (std::isfinite(r.ik_ka[k])) {
      ++finite;
      EXPECT_GT(r.ik_ka[k], 0);
    }
  }
  EXPECT_EQ(finite + static_cast<int>(r.no_ground_buses.size() + r.no_base_kv_buses.size()),
            static_cast<int>(c.bus.size()));
  EXPECT_GT(finite, 9000);
  RecordProperty("ms", std::to_string(ms));
}

}  // namespace
}  // namespace grid
