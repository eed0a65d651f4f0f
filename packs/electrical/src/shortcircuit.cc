#include "packs/electrical/src/shortcircuit.h"

#include <cs.h>

#include <chrono>
#include <cmath>
#include <complex>
#include <limits>
#include <memory>
#include <numeric>
#include <unordered_map>

namespace grid {
namespace {

using Complex = std::complex<double>;
using Clock = std::chrono::steady_clock;

constexpr double kRadPerDeg = 3.14159265358979323846 / 180;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Owners of CXSparse objects.
struct MatrixFree {
  void operator()(cs_ci* m) const { cs_ci_spfree(m); }
};
struct SymbolicFree {
  void operator()(cs_cis* s) const { cs_ci_sfree(s); }
};
struct NumericFree {
  void operator()(cs_cin* n) const { cs_ci_nfree(n); }
};
using Matrix = std::unique_ptr<cs_ci, MatrixFree>;

int Find(std::vector<int>& parent, int x) {
  while (parent[static_cast<std::size_t>(x)] != x) {
    parent[static_cast<std::size_t>(x)] = parent[static_cast<std::size_t>(parent[static_cast<std::size_t>(x)])];
    x = parent[static_cast<std::size_t>(x)];
  }
  return x;
}

}  // namespace

bool ComputeShortCircuit(const Case& c, const ShortCircuitOptions& o, ShortCircuitResult* out, std::string* error) {
  *out = ShortCircuitResult();
  if (c.bus.empty()) {
    *error = "the network has no buses";
    return false;
  }
  if (!(o.c > 0) || !(o.default_x_subtransient > 0) || !(c.base_mva > 0)) {
    *error = "c, the default X''d and the base MVA must be positive";
    return false;
  }
  auto t0 = Clock::now();
  const std::size_t n = c.bus.size();
  std::unordered_map<int, int> index;
  for (std::size_t b = 0; b < n; ++b) {
    if (!index.emplace(c.bus[b].number, static_cast<int>(b)).second) {
      *error = "bus number " + std::to_string(c.bus[b].number) + " appears twice";
      return false;
    }
  }
  auto bus_of = [&](int number, const std::string& what, int* at) {
    auto it = index.find(number);
    if (it == index.end()) {
      *error = what + " names bus " + std::to_string(number) + ", which is not in the network";
      return false;
    }
    *at = it->second;
    return true;
  };
  std::vector<char> active(n);
  for (std::size_t b = 0; b < n; ++b) active[b] = c.bus[b].type != kIsolated;

  // Branches in service between active buses; islands over them.
  std::vector<int> from(c.branch.size()), to(c.branch.size());
  std::vector<char> on(c.branch.size(), 0);
  std::vector<int> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  for (std::size_t l = 0; l < c.branch.size(); ++l) {
    const Branch& br = c.branch[l];
    const std::string what = "branch " + std::to_string(l + 1) + " (" + std::to_string(br.from) + "-" +
                             std::to_string(br.to) + ")";
    if (!bus_of(br.from, what, &from[l]) || !bus_of(br.to, what, &to[l])) return false;
    on[l] = br.status != 0 && active[static_cast<std::size_t>(from[l])] && active[static_cast<std::size_t>(to[l])];
    if (!on[l]) continue;
    if (br.r == 0 && br.x == 0) {
      *error = what + " is in service with zero impedance (r = x = 0)";
      return false;
    }
    int a = Find(parent, from[l]), b = Find(parent, to[l]);
    if (a != b) parent[static_cast<std::size_t>(a)] = b;
  }
  std::vector<int> gen_bus(c.gen.size());
  std::vector<char> grounded(n, 0);  // by island root
  for (std::size_t g = 0; g < c.gen.size(); ++g) {
    if (!bus_of(c.gen[g].bus, "generator " + std::to_string(g + 1), &gen_bus[g])) return false;
    if (c.gen[g].status > 0 && active[static_cast<std::size_t>(gen_bus[g])]) {
      grounded[static_cast<std::size_t>(Find(parent, gen_bus[g]))] = 1;
    }
  }

  // Internal numbering: the buses of grounded islands.
  out->ik_ka.assign(n, kNaN);
  out->zkk_re.assign(n, kNaN);
  out->zkk_im.assign(n, kNaN);
  out->zkk_abs.assign(n, kNaN);
  std::vector<int> internal(n, -1), ext;
  for (std::size_t b = 0; b < n; ++b) {
    if (active[b] && grounded[static_cast<std::size_t>(Find(parent, static_cast<int>(b)))]) {
      internal[b] = static_cast<int>(ext.size());
      ext.push_back(static_cast<int>(b));
    } else {
      out->no_ground_buses.push_back(static_cast<int>(b));
    }
  }
  if (!out->no_ground_buses.empty()) {
    out->warnings.push_back(std::to_string(out->no_ground_buses.size()) +
                            " bus(es) are isolated or in an island without a generator: no short-circuit current");
  }
  const int m = static_cast<int>(ext.size());
  if (m == 0) {
    out->timing.ybus_ms = MsSince(t0);
    return true;
  }

  // Y as triplets (duplicates summed by compression).
  Matrix triplets(cs_ci_spalloc(m, m, static_cast<int>(4 * c.branch.size() + c.gen.size() + n), 1, 1));
  if (!triplets) {
    *error = "out of memory building the admittance matrix";
    return false;
  }
  auto add = [&](int i, int j, Complex v) { cs_ci_entry(triplets.get(), i, j, v); };
  for (std::size_t l = 0; l < c.branch.size(); ++l) {
    if (!on[l]) continue;
    const int f = internal[static_cast<std::size_t>(from[l])], t = internal[static_cast<std::size_t>(to[l])];
    if (f < 0) continue;  // an island without a generator (both ends are in it)
    const Branch& br = c.branch[l];
    const Complex ys = 1.0 / Complex(br.r, br.x);
    const Complex tap = std::polar(br.tap != 0 ? br.tap : 1.0, br.shift * kRadPerDeg);
    add(f, f, ys / std::norm(tap));
    add(f, t, -ys / std::conj(tap));
    add(t, f, -ys / tap);
    add(t, t, ys);
  }
  for (std::size_t g = 0; g < c.gen.size(); ++g) {
    const int b = internal[static_cast<std::size_t>(gen_bus[g])];
    if (c.gen[g].status <= 0 || b < 0) continue;
    const double x = c.gen[g].x_subtransient > 0 ? c.gen[g].x_subtransient : o.default_x_subtransient;
    const double mbase = c.gen[g].mbase > 0 ? c.gen[g].mbase : c.base_mva;
    add(b, b, 1.0 / Complex(0, x * c.base_mva / mbase));
  }
  for (int k = 0; k < m; ++k) add(k, k, 0.0);  // every diagonal present
  Matrix y(cs_ci_compress(triplets.get()));
  if (!y || !cs_ci_dupl(y.get())) {
    *error = "out of memory building the admittance matrix";
    return false;
  }
  out->timing.ybus_ms = MsSince(t0);

  // L U = P Y Q, AMD on Y + Y', a diagonal pivot preferred.
  auto t1 = Clock::now();
  std::unique_ptr<cs_cis, SymbolicFree> s(cs_ci_sqr(1, y.get(), 0));
  std::unique_ptr<cs_cin, NumericFree> lu(s ? cs_ci_lu(y.get(), s.get(), 0.001) : nullptr);
  if (!lu) {
    *error = "the admittance matrix is singular (a part of the network without a path to ground?)";
    return false;
  }
  Matrix ut(cs_ci_transpose(lu->U, -1));  // Uᵀ, not conjugated
  Matrix unit(cs_ci_spalloc(m, m, m, 1, 0));
  if (!ut || !unit) {
    *error = "out of memory factoring the admittance matrix";
    return false;
  }
  for (int k = 0; k < m; ++k) {
    unit->p[k] = k;
    unit->i[k] = k;
    unit->x[k] = 1.0;
  }
  unit->p[m] = m;
  std::vector<int> qinv(static_cast<std::size_t>(m));
  for (int k = 0; k < m; ++k) qinv[static_cast<std::size_t>(s->q != nullptr ? s->q[k] : k)] = k;
  out->timing.factor_ms = MsSince(t1);

  // (Y⁻¹)_kk = e_{qinv[k]}ᵀ U⁻¹ L⁻¹ e_{pinv[k]} = w·z with
  // z = L⁻¹ e_{pinv[k]} and w = U⁻ᵀ e_{qinv[k]}; both sparse.
  auto t2 = Clock::now();
  std::vector<int> xi_z(2 * static_cast<std::size_t>(m)), xi_w(2 * static_cast<std::size_t>(m));
  std::vector<Complex> z(static_cast<std::size_t>(m)), w(static_cast<std::size_t>(m));
  std::vector<char> in_w(static_cast<std::size_t>(m), 0);
  const double sqrt3 = std::sqrt(3.0);
  for (int k = 0; k < m; ++k) {
    const int top_z = cs_ci_spsolve(lu->L, unit.get(), lu->pinv[k], xi_z.data(), z.data(), nullptr, 1);
    const int top_w = cs_ci_spsolve(ut.get(), unit.get(), qinv[static_cast<std::size_t>(k)], xi_w.data(), w.data(),
                                    nullptr, 1);
    Complex zkk = 0;
    for (int p = top_w; p < m; ++p) in_w[static_cast<std::size_t>(xi_w[static_cast<std::size_t>(p)])] = 1;
    for (int p = top_z; p < m; ++p) {
      const std::size_t j = static_cast<std::size_t>(xi_z[static_cast<std::size_t>(p)]);
      if (in_w[j]) zkk += w[j] * z[j];
    }
    for (int p = top_w; p < m; ++p) in_w[static_cast<std::size_t>(xi_w[static_cast<std::size_t>(p)])] = 0;
    const std::size_t b = static_cast<std::size_t>(ext[static_cast<std::size_t>(k)]);
    out->zkk_re[b] = zkk.real();
    out->zkk_im[b] = zkk.imag();
    out->zkk_abs[b] = std::abs(zkk);
    const double kv = c.bus[b].base_kv;
    if (kv > 0) {
      out->ik_ka[b] = o.c * c.base_mva / (sqrt3 * kv * std::abs(zkk));
    } else {
      out->no_base_kv_buses.push_back(static_cast<int>(b));
    }
  }
  if (!out->no_base_kv_buses.empty()) {
    out->warnings.push_back(std::to_string(out->no_base_kv_buses.size()) +
                            " bus(es) have no base kV: their Zkk is known, their current in kA is not");
  }
  out->timing.diagonal_ms = MsSince(t2);
  return true;
}

}  // namespace grid
