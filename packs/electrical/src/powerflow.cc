// The power flow: MATPOWER's runpf (legacy core) in C++ with KLU. MATPOWER
// 8's default MP-Core path gives the same results to rounding except for
// how it shares Q among the generators of a bus that all have a zero Q
// range; PowerFlowOptions::mp_core_q_split reproduces that too.
//
// Speed: Ybus and the Jacobian are built straight into CSC with a fixed
// pattern, the Jacobian's values written through a precomputed position
// map; KLU orders it by AMD on the bus graph (each bus's unknowns together),
// factors once and refactors on the same pivots afterwards.
//
// Layout of a solve:
//   BuildNetwork  ext2int + toggle_dcline + islands: the energized buses,
//                 renumbered; in-service gens and DC line terminals ("units")
//   BuildYbus     makeYbus, straight into CSC
//   AcSolve       runpf's Q-limit loop around newtonpf and pfsoln
//   DcSolve       makeBdc + dcpf
// and the result is mapped back to case order.
#include "packs/electrical/src/powerflow.h"

#include <amd.h>
#include <klu.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdio>
#include <exception>
#include <limits>
#include <new>
#include <numeric>
#include <unordered_map>
#include <utility>

namespace grid {
namespace {

using Complex = std::complex<double>;
using Clock = std::chrono::steady_clock;

constexpr double kPi = 3.14159265358979323846;
constexpr double kRadPerDeg = kPi / 180;
constexpr double kEps = std::numeric_limits<double>::epsilon();  // MATLAB's eps
constexpr double kQViolation = 5e-6;  // mpopt.opf.violation, MVAr: runpf's Q-limit test
constexpr double kDcMaxAngle = 1e5;   // dcpf's |Va| threshold for declaring failure

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string Format(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

// "3, 7, 12" (at most `limit` numbers, then ", ...").
std::string BusList(const Case& c, const std::vector<int>& buses, std::size_t limit = 20) {
  std::string s;
  for (std::size_t k = 0; k < buses.size() && k < limit; ++k) {
    if (k > 0) s += ", ";
    s += std::to_string(c.bus[static_cast<std::size_t>(buses[k])].number);
  }
  if (buses.size() > limit) s += ", ...";
  return s;
}

// ---------------------------------------------------------------------------
// The energized network.

// An in-service generator as the solver sees it: a real gen, or one end of a
// DC line (toggle_dcline's dummy generators, which follow the real gens).
struct Unit {
  int bus = 0;      // internal bus
  int gen = -1;     // case gen index; -1 for a DC line terminal
  int dcline = -1;  // case DC line index of a terminal
  bool from_end = false;
  double pg = 0, qg = 0;      // MW, MVAr
  double qmax = 0, qmin = 0;  // MVAr, may be infinite
  double vg = 1;              // p.u.
};

struct NetBranch {
  int f = 0, t = 0;  // internal buses
  int index = 0;     // case branch index
  Complex yff, yft, ytf, ytt;
};

// ext2int's view of the case plus the island split: internal bus k is case
// bus ext[k]; only buses of islands with generation are kept.
struct Network {
  double base_mva = 100;
  int nb = 0;
  std::vector<int> ext;     // internal -> case bus index
  std::vector<int> island;  // internal bus -> island id
  std::vector<int> type;    // MATPOWER's bus table BUS_TYPE (after toggle_dcline)
  std::vector<double> pd, qd, gs, bs, vm0, va0;  // MW, MVAr, p.u., radians
  std::vector<Unit> units;
  std::vector<NetBranch> branches;  // in service
};

int Find(std::vector<int>& parent, int x) {
  while (parent[static_cast<std::size_t>(x)] != x) {
    int& p = parent[static_cast<std::size_t>(x)];
    p = parent[static_cast<std::size_t>(p)];
    x = p;
  }
  return x;
}

// Case bus indices -> the energized network. Fills out->deenergized_buses
// and warnings.
struct Indices {
  const std::vector<int>& gen_bus;
  const std::vector<int>& br_from;
  const std::vector<int>& br_to;
  const std::vector<int>& dc_from;
  const std::vector<int>& dc_to;
};

void BuildNetwork(const Case& c, const Indices& ix, const PowerFlowOptions& o, Network* net,
                  PowerFlowResult* out) {
  const int nbus = static_cast<int>(c.bus.size());
  std::vector<char> active(c.bus.size());
  for (std::size_t b = 0; b < c.bus.size(); ++b) active[b] = c.bus[b].type != kIsolated;
  auto branch_on = [&](std::size_t l) {
    return c.branch[l].status != 0 && static_cast<int>(l) != o.outage_branch &&
           active[static_cast<std::size_t>(ix.br_from[l])] && active[static_cast<std::size_t>(ix.br_to[l])];
  };
  auto gen_on = [&](std::size_t g) { return c.gen[g].status > 0 && static_cast<int>(g) != o.outage_gen; };
  const bool warm = o.start_vm != nullptr && o.start_va_deg != nullptr &&
                    o.start_vm->size() == c.bus.size() && o.start_va_deg->size() == c.bus.size();

  // Islands over the in-service branches.
  std::vector<int> parent(c.bus.size());
  std::iota(parent.begin(), parent.end(), 0);
  for (std::size_t l = 0; l < c.branch.size(); ++l) {
    if (!branch_on(l)) continue;
    int a = Find(parent, ix.br_from[l]), b = Find(parent, ix.br_to[l]);
    if (a != b) parent[static_cast<std::size_t>(a)] = b;
  }
  std::vector<char> has_gen(c.bus.size(), 0);  // by island root
  for (std::size_t g = 0; g < c.gen.size(); ++g) {
    int b = ix.gen_bus[g];
    if (gen_on(g) && active[static_cast<std::size_t>(b)]) {
      has_gen[static_cast<std::size_t>(Find(parent, b))] = 1;
    }
  }
  std::vector<char> dc_on(c.dclines.size(), 0);
  for (std::size_t d = 0; d < c.dclines.size(); ++d) {
    if (c.dclines[d].status <= 0) continue;
    int f = ix.dc_from[d], t = ix.dc_to[d];
    if (!active[static_cast<std::size_t>(f)] || !active[static_cast<std::size_t>(t)]) {
      out->warnings.push_back(
          "DC line " + std::to_string(d + 1) + " (" + std::to_string(c.dclines[d].from) + "-" +
          std::to_string(c.dclines[d].to) + ") ends at an isolated bus; left out");
      continue;
    }
    dc_on[d] = 1;
    has_gen[static_cast<std::size_t>(Find(parent, f))] = 1;
    has_gen[static_cast<std::size_t>(Find(parent, t))] = 1;
  }

  // Internal numbering: energized buses in case order.
  std::vector<int> internal(c.bus.size(), -1);
  std::unordered_map<int, int> island_id;
  for (int b = 0; b < nbus; ++b) {
    if (!active[static_cast<std::size_t>(b)]) continue;
    int root = Find(parent, b);
    if (!has_gen[static_cast<std::size_t>(root)]) {
      out->deenergized_buses.push_back(b);
      continue;
    }
    const Bus& bus = c.bus[static_cast<std::size_t>(b)];
    internal[static_cast<std::size_t>(b)] = net->nb++;
    net->ext.push_back(b);
    net->island.push_back(
        island_id.emplace(root, static_cast<int>(island_id.size())).first->second);
    net->type.push_back(bus.type);
    net->pd.push_back(bus.pd);
    net->qd.push_back(bus.qd);
    net->gs.push_back(bus.gs);
    net->bs.push_back(bus.bs);
    double vm = bus.vm, va_deg = bus.va;
    if (warm && (*o.start_vm)[static_cast<std::size_t>(b)] > 0) {  // energized in the start solution
      vm = (*o.start_vm)[static_cast<std::size_t>(b)];
      va_deg = (*o.start_va_deg)[static_cast<std::size_t>(b)];
    }
    if (!(vm > 0) || !std::isfinite(vm)) {
      out->warnings.push_back("bus " + std::to_string(bus.number) + " has VM " + Format("%g", vm) +
                              "; starting it from 1 p.u.");
      vm = 1;
    }
    net->vm0.push_back(vm);
    net->va0.push_back(std::isfinite(va_deg) ? va_deg * kRadPerDeg : 0.0);
  }
  if (!out->deenergized_buses.empty()) {
    out->warnings.push_back(std::to_string(out->deenergized_buses.size()) +
                            " bus(es) in islands without any in-service generator are "
                            "de-energized: " +
                            BusList(c, out->deenergized_buses));
  }
  net->base_mva = c.base_mva;

  for (std::size_t g = 0; g < c.gen.size(); ++g) {
    const Gen& gen = c.gen[g];
    int b = internal[static_cast<std::size_t>(ix.gen_bus[g])];
    if (!gen_on(g) || b < 0) continue;
    Unit u;
    u.bus = b;
    u.gen = static_cast<int>(g);
    u.pg = gen.pg;
    u.qg = gen.qg;
    u.qmax = gen.qmax;
    u.qmin = gen.qmin;
    u.vg = gen.vg;
    net->units.push_back(u);
  }
  // toggle_dcline: all "from" dummies, then all "to" dummies; the terminal
  // buses become PV unless REF.
  for (int end = 0; end < 2; ++end) {
    for (std::size_t d = 0; d < c.dclines.size(); ++d) {
      if (!dc_on[d]) continue;
      const DcLine& dl = c.dclines[d];
      Unit u;
      u.dcline = static_cast<int>(d);
      u.from_end = end == 0;
      if (u.from_end) {
        u.bus = internal[static_cast<std::size_t>(ix.dc_from[d])];
        u.pg = -dl.pf;
        u.qg = dl.qf;
        u.vg = dl.vf;
        u.qmin = dl.qminf;
        u.qmax = dl.qmaxf;
      } else {
        u.bus = internal[static_cast<std::size_t>(ix.dc_to[d])];
        u.pg = dl.pf - (dl.loss0 + dl.loss1 * dl.pf);
        u.qg = dl.qt;
        u.vg = dl.vt;
        u.qmin = dl.qmint;
        u.qmax = dl.qmaxt;
      }
      if (net->type[static_cast<std::size_t>(u.bus)] != kRef) {
        net->type[static_cast<std::size_t>(u.bus)] = kPV;
      }
      net->units.push_back(u);
    }
  }

  for (std::size_t l = 0; l < c.branch.size(); ++l) {
    if (!branch_on(l)) continue;
    int f = internal[static_cast<std::size_t>(ix.br_from[l])];
    int t = internal[static_cast<std::size_t>(ix.br_to[l])];
    if (f < 0) continue;  // a de-energized island (both ends are in it)
    const Branch& br = c.branch[l];
    NetBranch nbr;
    nbr.f = f;
    nbr.t = t;
    nbr.index = static_cast<int>(l);
    // makeYbus: series admittance, line charging, complex tap at the from end.
    Complex ys = 1.0 / Complex(br.r, br.x);
    Complex tap = std::polar(br.tap != 0 ? br.tap : 1.0, br.shift * kRadPerDeg);
    nbr.ytt = ys + Complex(0, br.b / 2);
    nbr.yff = nbr.ytt / std::norm(tap);
    nbr.yft = -ys / std::conj(tap);
    nbr.ytf = -ys / tap;
    net->branches.push_back(nbr);
  }
}

// ---------------------------------------------------------------------------
// Sparse matrices.

// A square CSC matrix; complex values as two arrays (im unused for real ones).
// Every diagonal entry is present (structurally), row indices sorted.
struct Sparse {
  int n = 0;
  std::vector<int> p, i;
  std::vector<double> re, im;
  std::vector<int> diag;  // position of (k, k)
};

// The pattern of a bus matrix (Ybus, Bbus): the diagonal and both
// off-diagonals of each branch. pos gets, per branch, the positions of
// (f,f), (f,t), (t,f), (t,t).
void BusMatrixPattern(int n, const std::vector<NetBranch>& branches, Sparse* m,
                      std::vector<int>* pos) {
  m->n = n;
  std::vector<int> start(static_cast<std::size_t>(n) + 1, 0);
  for (int k = 0; k < n; ++k) start[static_cast<std::size_t>(k) + 1] = 1;
  for (const NetBranch& b : branches) {
    ++start[static_cast<std::size_t>(b.f) + 1];  // row t in column f
    ++start[static_cast<std::size_t>(b.t) + 1];  // row f in column t
  }
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<int> rows(static_cast<std::size_t>(start.back()));
  std::vector<int> fill(start.begin(), start.end() - 1);
  for (int k = 0; k < n; ++k)
    rows[static_cast<std::size_t>(fill[static_cast<std::size_t>(k)]++)] = k;
  for (const NetBranch& b : branches) {
    rows[static_cast<std::size_t>(fill[static_cast<std::size_t>(b.f)]++)] = b.t;
    rows[static_cast<std::size_t>(fill[static_cast<std::size_t>(b.t)]++)] = b.f;
  }
  // Sort each column, drop the duplicates of parallel branches, compact.
  m->p.assign(static_cast<std::size_t>(n) + 1, 0);
  m->i.clear();
  m->i.reserve(rows.size());
  m->diag.assign(static_cast<std::size_t>(n), 0);
  for (int k = 0; k < n; ++k) {
    auto first = rows.begin() + start[static_cast<std::size_t>(k)];
    auto last = rows.begin() + start[static_cast<std::size_t>(k) + 1];
    std::sort(first, last);
    last = std::unique(first, last);
    for (auto it = first; it != last; ++it) {
      if (*it == k) m->diag[static_cast<std::size_t>(k)] = static_cast<int>(m->i.size());
      m->i.push_back(*it);
    }
    m->p[static_cast<std::size_t>(k) + 1] = static_cast<int>(m->i.size());
  }
  auto at = [m](int row, int col) {
    auto first = m->i.begin() + m->p[static_cast<std::size_t>(col)];
    auto last = m->i.begin() + m->p[static_cast<std::size_t>(col) + 1];
    return static_cast<int>(std::lower_bound(first, last, row) - m->i.begin());
  };
  pos->resize(4 * branches.size());
  for (std::size_t l = 0; l < branches.size(); ++l) {
    const NetBranch& b = branches[l];
    (*pos)[4 * l + 0] = m->diag[static_cast<std::size_t>(b.f)];
    (*pos)[4 * l + 1] = at(b.f, b.t);
    (*pos)[4 * l + 2] = at(b.t, b.f);
    (*pos)[4 * l + 3] = m->diag[static_cast<std::size_t>(b.t)];
  }
  m->re.assign(m->i.size(), 0.0);
  m->im.assign(m->i.size(), 0.0);
}

// makeYbus.
void BuildYbus(const Network& net, Sparse* y) {
  std::vector<int> pos;
  BusMatrixPattern(net.nb, net.branches, y, &pos);
  for (std::size_t l = 0; l < net.branches.size(); ++l) {
    const NetBranch& b = net.branches[l];
    const Complex v[4] = {b.yff, b.yft, b.ytf, b.ytt};
    for (int k = 0; k < 4; ++k) {
      y->re[static_cast<std::size_t>(pos[4 * l + k])] += v[k].real();
      y->im[static_cast<std::size_t>(pos[4 * l + k])] += v[k].imag();
    }
  }
  for (int k = 0; k < net.nb; ++k) {
    y->re[static_cast<std::size_t>(y->diag[static_cast<std::size_t>(k)])] +=
        net.gs[static_cast<std::size_t>(k)] / net.base_mva;
    y->im[static_cast<std::size_t>(y->diag[static_cast<std::size_t>(k)])] +=
        net.bs[static_cast<std::size_t>(k)] / net.base_mva;
  }
}

// KLU with its own workspace: analyze once per pattern, factor once, then
// refactor (same pivots) while the pivots stay sound.
class Klu {
 public:
  Klu() {
    klu_defaults(&common_);
    // The matrices are built here, sorted and without duplicates, and the
    // power-flow Jacobian is well scaled and irreducible: skip KLU's input
    // check + row scaling and its BTF pass (about 15% of a large solve).
    common_.scale = -1;
    common_.btf = 0;
  }
  ~Klu() { Reset(); }
  Klu(const Klu&) = delete;
  Klu& operator=(const Klu&) = delete;

  void Reset() {
    if (numeric_ != nullptr) klu_free_numeric(&numeric_, &common_);
    if (symbolic_ != nullptr) klu_free_symbolic(&symbolic_, &common_);
  }

  bool Analyze(int n, std::vector<int>& p, std::vector<int>& i) {
    Reset();
    symbolic_ = klu_analyze(n, p.data(), i.data(), &common_);
    return symbolic_ != nullptr;
  }

  // With a fill-reducing order of the columns (applied to the rows too).
  bool AnalyzeGiven(int n, std::vector<int>& p, std::vector<int>& i, std::vector<int>& order) {
    Reset();
    symbolic_ = klu_analyze_given(n, p.data(), i.data(), order.data(), order.data(), &common_);
    return symbolic_ != nullptr;
  }

  // False when the matrix is singular (or KLU failed).
  bool Factor(std::vector<int>& p, std::vector<int>& i, std::vector<double>& x) {
    if (numeric_ != nullptr) {
      if (klu_refactor(p.data(), i.data(), x.data(), symbolic_, numeric_, &common_) &&
          common_.status == KLU_OK && klu_rcond(symbolic_, numeric_, &common_) &&
          std::isfinite(common_.rcond) && common_.rcond > 1e-14 &&
          common_.rcond > 1e-6 * rcond_full_) {
        return true;
      }
      // The old pivots went bad: pivot afresh.
      klu_free_numeric(&numeric_, &common_);
    }
    numeric_ = klu_factor(p.data(), i.data(), x.data(), symbolic_, &common_);
    if (numeric_ == nullptr || common_.status != KLU_OK) return false;
    klu_rcond(symbolic_, numeric_, &common_);
    rcond_full_ = common_.rcond;
    return std::isfinite(rcond_full_) && rcond_full_ > 0;
  }

  bool Solve(int n, double* b) {
    return klu_solve(symbolic_, numeric_, n, 1, b, &common_) && common_.status == KLU_OK;
  }

 private:
  klu_common common_;
  klu_symbolic* symbolic_ = nullptr;
  klu_numeric* numeric_ = nullptr;
  double rcond_full_ = 0;
};

// The least-squares solution of the dense m x n system a x = b (row-major,
// m >= n, full column rank), by Householder QR; exact when square.
std::vector<double> LeastSquares(std::vector<double> a, std::size_t m, std::size_t n,
                                 std::vector<double> b) {
  for (std::size_t k = 0; k < n && k < m; ++k) {
    double norm = 0;
    for (std::size_t i = k; i < m; ++i) norm = std::hypot(norm, a[i * n + k]);
    if (norm == 0) continue;
    const double alpha = a[k * n + k] > 0 ? -norm : norm;
    std::vector<double> v(m - k);
    for (std::size_t i = k; i < m; ++i) v[i - k] = a[i * n + k];
    v[0] -= alpha;
    double vv = 0;
    for (double e : v) vv += e * e;
    if (vv == 0) continue;
    for (std::size_t c = k; c < n; ++c) {
      double dot = 0;
      for (std::size_t i = k; i < m; ++i) dot += v[i - k] * a[i * n + c];
      const double f = 2 * dot / vv;
      for (std::size_t i = k; i < m; ++i) a[i * n + c] -= f * v[i - k];
    }
    double dot = 0;
    for (std::size_t i = k; i < m; ++i) dot += v[i - k] * b[i];
    const double f = 2 * dot / vv;
    for (std::size_t i = k; i < m; ++i) b[i] -= f * v[i - k];
  }
  std::vector<double> x(n, 0.0);
  for (std::size_t k = std::min(n, m); k-- > 0;) {
    double s = b[k];
    for (std::size_t c = k + 1; c < n; ++c) s -= a[k * n + c] * x[c];
    x[k] = a[k * n + k] != 0 ? s / a[k * n + k] : 0.0;
  }
  return x;
}

// ---------------------------------------------------------------------------
// Bus types.

struct BusTypes {
  std::vector<int> ref, pv, pq;
  bool ok = true;  // false: no REF and no PV bus with a generator
};

// bustypes: REF/PV buses with an in-service unit are ref/pv, the rest pq;
// without a ref, the first pv bus becomes it.
BusTypes ComputeBusTypes(const Network& net) {
  std::vector<char> has_unit(static_cast<std::size_t>(net.nb), 0);
  for (const Unit& u : net.units) has_unit[static_cast<std::size_t>(u.bus)] = 1;
  BusTypes t;
  for (int b = 0; b < net.nb; ++b) {
    int type = net.type[static_cast<std::size_t>(b)];
    if (!has_unit[static_cast<std::size_t>(b)] || type == kPQ) {
      t.pq.push_back(b);
    } else if (type == kRef) {
      t.ref.push_back(b);
    } else if (type == kPV) {
      t.pv.push_back(b);
    }
  }
  if (t.ref.empty()) {
    if (t.pv.empty()) {
      t.ok = false;
    } else {
      t.ref.push_back(t.pv.front());
      t.pv.erase(t.pv.begin());
    }
  }
  return t;
}

// Islands without a reference bus: a message naming the first, or "".
std::string IslandsWithoutRef(const Case& c, const Network& net, const BusTypes& t) {
  int islands = 0;
  for (int k : net.island) islands = std::max(islands, k + 1);
  std::vector<char> has_ref(static_cast<std::size_t>(islands), 0);
  for (int r : t.ref)
    has_ref[static_cast<std::size_t>(net.island[static_cast<std::size_t>(r)])] = 1;
  int missing = 0, first = -1;
  for (int k = 0; k < islands; ++k) {
    if (has_ref[static_cast<std::size_t>(k)]) continue;
    if (first < 0) first = k;
    ++missing;
  }
  if (missing == 0) return "";
  std::vector<int> buses;
  for (int b = 0; b < net.nb; ++b) {
    if (net.island[static_cast<std::size_t>(b)] == first)
      buses.push_back(net.ext[static_cast<std::size_t>(b)]);
  }
  std::string msg = "island of " + std::to_string(buses.size()) +
                    (buses.size() == 1 ? " bus (" : " buses (") + BusList(c, buses) +
                    ") has no reference bus";
  if (missing > 1) msg += " (and " + std::to_string(missing - 1) + " more such islands)";
  msg += "; its generators cannot balance it. Make one of its generator buses REF (type 3)";
  return msg;
}

// AMD on the bus graph (Ybus's pattern): the Jacobian's fill-reducing
// order, found on a matrix a quarter of the Jacobian's size. The identity if
// AMD fails.
std::vector<int> BusOrder(const Sparse& y) {
  std::vector<int> order(static_cast<std::size_t>(y.n));
  if (y.n > 0 && amd_order(y.n, y.p.data(), y.i.data(), order.data(), nullptr, nullptr) < AMD_OK) {
    std::iota(order.begin(), order.end(), 0);
  }
  return order;
}

// ---------------------------------------------------------------------------
// Newton-Raphson (newtonpf), polar coordinates, power balance.

struct NewtonOutcome {
  bool converged = false;
  int iterations = 0;
  enum Failure { kNone, kMaxIterations, kSingular, kNonFinite } failure = kNone;
  double norm = 0;     // final infinity norm of F
  int worst_bus = -1;  // internal bus of the largest |F| entry
};

class Newton {
 public:
  // bus_order: a fill-reducing order of the buses (AMD on Ybus); each bus's
  // unknowns are ordered together by it.
  Newton(const Sparse& y, int nb, const std::vector<int>& bus_order)
      : y_(y), nb_(nb), bus_order_(bus_order) {
    const std::size_t n = static_cast<std::size_t>(nb);
    vm.resize(n);
    va.resize(n);
    vre_.resize(n);
    vim_.resize(n);
    ire_.resize(n);
    iim_.resize(n);
    sre.resize(n);
    sim.resize(n);
    sbus_re.resize(n);
    sbus_im.resize(n);
    prow_.resize(n);
    qrow_.resize(n);
  }

  // Voltages (read and written by the caller between runs).
  std::vector<double> vm, va;
  // Specified injections Sbus, p.u. (set by the caller).
  std::vector<double> sbus_re, sbus_im;
  // Calculated injections V conj(Ybus V) at the current voltages, p.u.
  std::vector<double> sre, sim;

  // Sets the equations for these bus types: the Jacobian pattern and its
  // symbolic analysis.
  bool SetBusTypes(const BusTypes& t, PowerFlowResult* out);
  NewtonOutcome Run(const PowerFlowOptions& o, PowerFlowResult* out);

 private:
  void SyncRectangular();
  double Mismatch(int* worst);
  void FillJacobian();

  const Sparse& y_;
  int nb_;
  const std::vector<int>& bus_order_;
  std::vector<int> col_order_;
  std::vector<double> vre_, vim_, ire_, iim_;
  // Equation (and unknown) numbering: P of pv then pq buses, then Q of pq
  // buses, as MATPOWER's [pv; pq] / pq blocks. -1: no such equation.
  std::vector<int> prow_, qrow_;
  std::vector<int> pvpq_, pq_;
  int n_ = 0;
  std::vector<int> jp_, ji_;
  std::vector<double> jx_;  // one extra slot at the end: the sink for absent entries
  std::vector<int> jpos_;   // per Ybus entry: P/Va, Q/Va, P/Vm, Q/Vm positions in jx_
  std::vector<double> f_, dx_, vm_prev_, va_prev_;
  Klu klu_;
  bool analyzed_ = false;
};

bool Newton::SetBusTypes(const BusTypes& t, PowerFlowResult* out) {
  auto t0 = Clock::now();
  std::fill(prow_.begin(), prow_.end(), -1);
  std::fill(qrow_.begin(), qrow_.end(), -1);
  pvpq_.assign(t.pv.begin(), t.pv.end());
  pvpq_.insert(pvpq_.end(), t.pq.begin(), t.pq.end());
  pq_ = t.pq;
  const int npvpq = static_cast<int>(pvpq_.size());
  for (int r = 0; r < npvpq; ++r)
    prow_[static_cast<std::size_t>(pvpq_[static_cast<std::size_t>(r)])] = r;
  for (std::size_t r = 0; r < pq_.size(); ++r) {
    qrow_[static_cast<std::size_t>(pq_[r])] = npvpq + static_cast<int>(r);
  }
  n_ = npvpq + static_cast<int>(pq_.size());

  // Column of Va_k is prow_[k], column of Vm_k is qrow_[k]; the rows of
  // column k's entries follow Ybus column k.
  const std::size_t ny = y_.i.size();
  jp_.assign(static_cast<std::size_t>(n_) + 1, 0);
  std::vector<int> col_bus(static_cast<std::size_t>(n_));
  std::vector<char> col_vm(static_cast<std::size_t>(n_));
  for (int b = 0; b < nb_; ++b) {
    if (prow_[static_cast<std::size_t>(b)] >= 0) {
      col_bus[static_cast<std::size_t>(prow_[static_cast<std::size_t>(b)])] = b;
      col_vm[static_cast<std::size_t>(prow_[static_cast<std::size_t>(b)])] = 0;
    }
    if (qrow_[static_cast<std::size_t>(b)] >= 0) {
      col_bus[static_cast<std::size_t>(qrow_[static_cast<std::size_t>(b)])] = b;
      col_vm[static_cast<std::size_t>(qrow_[static_cast<std::size_t>(b)])] = 1;
    }
  }
  // Rows come out sorted without a sort: Ybus columns are sorted by bus,
  // and pv P rows < pq P rows < Q rows, each increasing with the bus.
  const int npv = static_cast<int>(t.pv.size());
  jpos_.assign(4 * ny, -1);
  ji_.clear();
  for (int c = 0; c < n_; ++c) {
    const std::size_t k = static_cast<std::size_t>(col_bus[static_cast<std::size_t>(c)]);
    const int kind = col_vm[static_cast<std::size_t>(c)] ? 2 : 0;
    const int e0 = y_.p[k], e1 = y_.p[k + 1];
    for (int pass = 0; pass < 3; ++pass) {
      for (int e = e0; e < e1; ++e) {
        const std::size_t i = static_cast<std::size_t>(y_.i[static_cast<std::size_t>(e)]);
        const int row = pass == 2 ? qrow_[i] : prow_[i];
        if (row < 0 || (pass == 0 && row >= npv) || (pass == 1 && row < npv)) continue;
        jpos_[4 * static_cast<std::size_t>(e) + static_cast<std::size_t>(kind + (pass == 2))] =
            static_cast<int>(ji_.size());
        ji_.push_back(row);
      }
    }
    jp_[static_cast<std::size_t>(c) + 1] = static_cast<int>(ji_.size());
  }
  // Entries without an equation or unknown (ref rows and columns) go to the sink.
  const int sink = static_cast<int>(ji_.size());
  for (int& pos : jpos_) {
    if (pos < 0) pos = sink;
  }
  jx_.assign(ji_.size() + 1, 0.0);
  f_.assign(static_cast<std::size_t>(n_), 0.0);
  dx_.assign(static_cast<std::size_t>(n_), 0.0);
  col_order_.clear();
  for (int b : bus_order_) {
    if (prow_[static_cast<std::size_t>(b)] >= 0)
      col_order_.push_back(prow_[static_cast<std::size_t>(b)]);
    if (qrow_[static_cast<std::size_t>(b)] >= 0)
      col_order_.push_back(qrow_[static_cast<std::size_t>(b)]);
  }
  analyzed_ = n_ == 0 || klu_.AnalyzeGiven(n_, jp_, ji_, col_order_);
  out->timing.factorize_ms += MsSince(t0);
  return analyzed_;
}

void Newton::SyncRectangular() {
  for (int b = 0; b < nb_; ++b) {
    const std::size_t k = static_cast<std::size_t>(b);
    vre_[k] = vm[k] * std::cos(va[k]);
    vim_[k] = vm[k] * std::sin(va[k]);
  }
}

// S = V conj(Ybus V); F from S - Sbus; returns norm(F, inf) (NaN if any
// entry is NaN) and the bus of its largest entry.
double Newton::Mismatch(int* worst) {
  std::fill(ire_.begin(), ire_.end(), 0.0);
  std::fill(iim_.begin(), iim_.end(), 0.0);
  const int* yp = y_.p.data();
  const int* yi = y_.i.data();
  const double* yr = y_.re.data();
  const double* yim = y_.im.data();
  for (int k = 0; k < nb_; ++k) {
    const double vr = vre_[static_cast<std::size_t>(k)], vi = vim_[static_cast<std::size_t>(k)];
    for (int e = yp[k]; e < yp[k + 1]; ++e) {
      const int i = yi[e];
      ire_[static_cast<std::size_t>(i)] += yr[e] * vr - yim[e] * vi;
      iim_[static_cast<std::size_t>(i)] += yr[e] * vi + yim[e] * vr;
    }
  }
  double norm = 0;
  *worst = -1;
  for (int b = 0; b < nb_; ++b) {
    const std::size_t k = static_cast<std::size_t>(b);
    sre[k] = vre_[k] * ire_[k] + vim_[k] * iim_[k];
    sim[k] = vim_[k] * ire_[k] - vre_[k] * iim_[k];
    if (prow_[k] >= 0) {
      const double p = sre[k] - sbus_re[k];
      f_[static_cast<std::size_t>(prow_[k])] = p;
      if (!(std::fabs(p) <= norm)) {
        norm = std::fabs(p);
        *worst = b;
      }
    }
    if (qrow_[k] >= 0) {
      const double q = sim[k] - sbus_im[k];
      f_[static_cast<std::size_t>(qrow_[k])] = q;
      if (!(std::fabs(q) <= norm)) {
        norm = std::fabs(q);
        *worst = b;
      }
    }
  }
  return norm;
}

// dSbus_dV: per Ybus entry (i, k), t = V_i conj(Y_ik V_k);
//   dS_i/dVa_k = -j t (+ j S_i on the diagonal),
//   dS_i/dVm_k = t / |V_k| (+ S_i / |V_i| on the diagonal).
// P rows take the real parts, Q rows the imaginary parts.
void Newton::FillJacobian() {
  const int* yp = y_.p.data();
  const int* yi = y_.i.data();
  const double* yr = y_.re.data();
  const double* yim = y_.im.data();
  const int* pos = jpos_.data();
  double* jx = jx_.data();
  for (int b : pvpq_) {
    const std::size_t k = static_cast<std::size_t>(b);
    const double vr = vre_[k], vi = vim_[k], inv = 1.0 / vm[k];
    for (int e = yp[b]; e < yp[b + 1]; ++e) {
      const std::size_t i = static_cast<std::size_t>(yi[e]);
      const double ar = yr[e] * vr - yim[e] * vi;  // a = Y_ik V_k
      const double ai = yr[e] * vi + yim[e] * vr;
      const double tr = vre_[i] * ar + vim_[i] * ai;  // t = V_i conj(a)
      const double ti = vim_[i] * ar - vre_[i] * ai;
      const int* ps = pos + 4 * e;
      jx[ps[0]] = ti;
      jx[ps[1]] = -tr;
      jx[ps[2]] = tr * inv;
      jx[ps[3]] = ti * inv;
    }
    const int* ps = pos + 4 * y_.diag[k];
    jx[ps[0]] -= sim[k];
    jx[ps[1]] += sre[k];
    jx[ps[2]] += sre[k] * inv;
    jx[ps[3]] += sim[k] * inv;
  }
}

NewtonOutcome Newton::Run(const PowerFlowOptions& o, PowerFlowResult* out) {
  auto t_start = Clock::now();
  double factor_ms = 0;
  NewtonOutcome r;
  SyncRectangular();
  r.norm = Mismatch(&r.worst_bus);
  out->mismatch.push_back(r.norm);
  r.converged = r.norm < o.tolerance;
  vm_prev_.resize(vm.size());
  va_prev_.resize(va.size());
  while (!r.converged && r.iterations < o.max_iterations) {
    ++r.iterations;
    FillJacobian();
    auto t0 = Clock::now();
    bool factored = analyzed_ && klu_.Factor(jp_, ji_, jx_);
    if (factored) ++out->timing.factorizations;
    std::copy(f_.begin(), f_.end(), dx_.begin());
    bool solved = factored && klu_.Solve(n_, dx_.data());
    factor_ms += MsSince(t0);
    if (!solved) {
      r.failure = NewtonOutcome::kSingular;
      break;
    }
    vm_prev_ = vm;
    va_prev_ = va;
    const int npvpq = static_cast<int>(pvpq_.size());
    for (int c = 0; c < npvpq; ++c)
      va[static_cast<std::size_t>(pvpq_[static_cast<std::size_t>(c)])] -=
          dx_[static_cast<std::size_t>(c)];
    for (std::size_t c = 0; c < pq_.size(); ++c) {
      vm[static_cast<std::size_t>(pq_[c])] -= dx_[static_cast<std::size_t>(npvpq) + c];
    }
    // V = Vm exp(j Va); Vm = |V|, Va = angle(V), as newtonpf (a negative
    // Vm flips to the opposite angle; angles wrap to (-pi, pi]).
    for (int b : pvpq_) {
      const std::size_t k = static_cast<std::size_t>(b);
      if (vm[k] < 0) {
        vm[k] = -vm[k];
        va[k] += kPi;
      }
      if (va[k] > kPi || va[k] <= -kPi) va[k] = std::atan2(std::sin(va[k]), std::cos(va[k]));
    }
    SyncRectangular();
    r.norm = Mismatch(&r.worst_bus);
    if (!std::isfinite(r.norm)) {
      // Keep the last finite iterate.
      vm = vm_prev_;
      va = va_prev_;
      SyncRectangular();
      r.norm = Mismatch(&r.worst_bus);
      r.failure = NewtonOutcome::kNonFinite;
      break;
    }
    out->mismatch.push_back(r.norm);
    r.converged = r.norm < o.tolerance;
  }
  if (!r.converged && r.failure == NewtonOutcome::kNone) r.failure = NewtonOutcome::kMaxIterations;
  out->timing.factorize_ms += factor_ms;
  out->timing.iterate_ms += MsSince(t_start) - factor_ms;
  return r;
}

// ---------------------------------------------------------------------------
// The AC power flow: runpf's loop.

class AcSolve {
 public:
  AcSolve(const Case& c, Network& net, const Sparse& y, const PowerFlowOptions& o,
          PowerFlowResult* out)
      : c_(c), net_(net), y_(y), o_(o), out_(out), newton_(y, net.nb, bus_order_) {}

  // Fills vm/va (internal, in newton_), units' pg/qg, out's status fields.
  // False: refused before solving (out->message says why).
  bool Run();
  const std::vector<double>& vm() const { return newton_.vm; }
  const std::vector<double>& va() const { return newton_.va; }
  const std::vector<int>& ref() const { return types_.ref; }

 private:
  void MakeSbus();
  void StartVoltages();
  void PfSoln();
  void ShareQLegacy(const std::vector<int>& on);
  void ShareQMpCore();
  bool EnforceQLimits(bool* repeat);
  void Fail(const std::string& message) {
    out_->converged = false;
    out_->message = message;
  }
  void FailNewton(const NewtonOutcome& r);

  const Case& c_;
  Network& net_;
  const Sparse& y_;
  const PowerFlowOptions& o_;
  PowerFlowResult* out_;
  std::vector<int> bus_order_;
  Newton newton_;
  BusTypes types_;
  std::vector<char> limited_;  // per unit
};

void AcSolve::MakeSbus() {
  const double base = net_.base_mva;
  for (int b = 0; b < net_.nb; ++b) {
    newton_.sbus_re[static_cast<std::size_t>(b)] = -net_.pd[static_cast<std::size_t>(b)] / base;
    newton_.sbus_im[static_cast<std::size_t>(b)] = -net_.qd[static_cast<std::size_t>(b)] / base;
  }
  for (const Unit& u : net_.units) {
    newton_.sbus_re[static_cast<std::size_t>(u.bus)] += u.pg / base;
    newton_.sbus_im[static_cast<std::size_t>(u.bus)] += u.qg / base;
  }
}

// runpf's V0: the case voltages (or flat), VG at voltage-controlled buses
// (the last unit at a bus wins, as MATLAB's indexed assignment).
void AcSolve::StartVoltages() {
  std::vector<double>& vm = newton_.vm;
  std::vector<double>& va = newton_.va;
  if (o_.flat_start) {
    // Each island at its reference bus's angle, so a solution is the same
    // as from the case start.
    std::vector<double> island_angle(static_cast<std::size_t>(net_.nb), 0.0);
    for (auto it = types_.ref.rbegin(); it != types_.ref.rend(); ++it) {
      island_angle[static_cast<std::size_t>(net_.island[static_cast<std::size_t>(*it)])] =
          net_.va0[static_cast<std::size_t>(*it)];
    }
    for (int b = 0; b < net_.nb; ++b) {
      vm[static_cast<std::size_t>(b)] = 1;
      va[static_cast<std::size_t>(b)] =
          island_angle[static_cast<std::size_t>(net_.island[static_cast<std::size_t>(b)])];
    }
  } else {
    vm = net_.vm0;
    va = net_.va0;
  }
  for (double& a : va) {
    if (a > kPi || a <= -kPi) a = std::atan2(std::sin(a), std::cos(a));  // angle(V0)
  }
  std::vector<char> is_pq(static_cast<std::size_t>(net_.nb), 0);
  for (int b : types_.pq) is_pq[static_cast<std::size_t>(b)] = 1;
  for (const Unit& u : net_.units) {
    if (!is_pq[static_cast<std::size_t>(u.bus)]) vm[static_cast<std::size_t>(u.bus)] = u.vg;
  }
}

// pfsoln: Qg of the units at ref/pv buses from the solved injection,
// shared among the units of a bus in proportion to their Q ranges; Pg of
// the first unit at each ref bus.
void AcSolve::PfSoln() {
  const double base = net_.base_mva;
  std::vector<int> on;  // units not at PQ-type buses
  for (std::size_t k = 0; k < net_.units.size(); ++k) {
    if (net_.type[static_cast<std::size_t>(net_.units[k].bus)] != kPQ)
      on.push_back(static_cast<int>(k));
  }
  for (int k : on) {
    Unit& u = net_.units[static_cast<std::size_t>(k)];
    const std::size_t b = static_cast<std::size_t>(u.bus);
    u.qg = newton_.sim[b] * base + net_.qd[b];
  }
  if (o_.mp_core_q_split) {
    ShareQMpCore();
  } else if (on.size() > 1) {
    ShareQLegacy(on);
  }
  for (int r : types_.ref) {
    int first = -1;
    double others = 0;
    for (int k : on) {
      const Unit& u = net_.units[static_cast<std::size_t>(k)];
      if (u.bus != r) continue;
      if (first < 0) {
        first = k;
      } else {
        others += u.pg;
      }
    }
    if (first < 0) continue;
    net_.units[static_cast<std::size_t>(first)].pg =
        newton_.sre[static_cast<std::size_t>(r)] * base + net_.pd[static_cast<std::size_t>(r)] -
        others;
  }
}

// pfsoln's sharing of a bus's Q among its units: equal shares first, then in
// proportion to the Q ranges (infinite limits replaced by the finite proxy
// M); a bus whose units have no range at all gives each the same share of
// the violation.
void AcSolve::ShareQLegacy(const std::vector<int>& on) {
  const std::size_t nb = static_cast<std::size_t>(net_.nb);
  std::vector<int> ngg(nb, 0);
  std::vector<double> m_bus(nb, 0.0), qtot(nb, 0.0), qmin_tot(nb, 0.0), qmax_tot(nb, 0.0);
  for (int k : on) ++ngg[static_cast<std::size_t>(net_.units[static_cast<std::size_t>(k)].bus)];
  std::vector<double> qmin(on.size()), qmax(on.size());
  for (std::size_t j = 0; j < on.size(); ++j) {
    Unit& u = net_.units[static_cast<std::size_t>(on[j])];
    const std::size_t b = static_cast<std::size_t>(u.bus);
    u.qg /= ngg[b];
    // The finite proxy M for infinite limits: per bus, the sum over its
    // units of |Qg| plus the finite |limits|.
    double m = std::fabs(u.qg);
    if (!std::isinf(u.qmax)) m += std::fabs(u.qmax);
    if (!std::isinf(u.qmin)) m += std::fabs(u.qmin);
    m_bus[b] += m;
  }
  for (std::size_t j = 0; j < on.size(); ++j) {
    const Unit& u = net_.units[static_cast<std::size_t>(on[j])];
    const std::size_t b = static_cast<std::size_t>(u.bus);
    auto proxy = [&](double lim) {
      return std::isinf(lim) ? (lim > 0 ? m_bus[b] : -m_bus[b]) : lim;
    };
    qmin[j] = proxy(u.qmin);
    qmax[j] = proxy(u.qmax);
    qtot[b] += u.qg;
    qmin_tot[b] += qmin[j];
    qmax_tot[b] += qmax[j];
  }
  for (std::size_t j = 0; j < on.size(); ++j) {
    Unit& u = net_.units[static_cast<std::size_t>(on[j])];
    const std::size_t b = static_cast<std::size_t>(u.bus);
    if (std::fabs(qmin_tot[b] - qmax_tot[b]) < 10 * kEps) {
      // No range at this bus: the same share of the violation each.
      u.qg = qmin[j] + (qtot[b] - qmin_tot[b]) / ngg[b];
    } else {
      u.qg = qmin[j] +
             (qtot[b] - qmin_tot[b]) / (qmax_tot[b] - qmin_tot[b] + kEps) * (qmax[j] - qmin[j]);
    }
  }
}

// MATPOWER 8's MP-Core sharing (mp.mm_shared_pfcpf_ac/update_z), for
// PowerFlowOptions::mp_core_q_split. One linear system over the units at
// ref/pv buses: per bus, the units' Q add up to the bus's need; per bus with
// several units, each unit other than the one with the largest range (the
// "pivot") sits at the same relative place in its range as the pivot. Where
// all units of a bus have zero range, update_z takes the pivot from an
// empty sparse row, i.e. the case's first in-service unit, keeps a row for
// every unit, and the system becomes overdetermined: Octave's backslash
// answers in the least-squares sense, which leaves those buses (and the
// first unit's) unbalanced. This reproduces that.
void AcSolve::ShareQMpCore() {
  const double base = net_.base_mva;
  const std::size_t nu = net_.units.size();
  std::vector<int> rpv = types_.ref;
  rpv.insert(rpv.end(), types_.pv.begin(), types_.pv.end());
  std::vector<int> node(static_cast<std::size_t>(net_.nb), -1);  // bus -> rpv row
  for (std::size_t k = 0; k < rpv.size(); ++k)
    node[static_cast<std::size_t>(rpv[k])] = static_cast<int>(k);
  std::vector<std::vector<int>> at(rpv.size());  // units per rpv row, ascending
  for (std::size_t s = 0; s < nu; ++s) {
    int row = node[static_cast<std::size_t>(net_.units[s].bus)];
    if (row >= 0) at[static_cast<std::size_t>(row)].push_back(static_cast<int>(s));
  }
  std::vector<double> need(rpv.size()), mn(nu), mx(nu), range(nu), m_node(rpv.size(), 0.0);
  for (std::size_t s = 0; s < nu; ++s) {
    mn[s] = net_.units[s].qmin / base;
    mx[s] = net_.units[s].qmax / base;
  }
  for (std::size_t k = 0; k < rpv.size(); ++k) {
    const std::size_t b = static_cast<std::size_t>(rpv[k]);
    need[k] = newton_.sim[b] + net_.qd[b] / base;
    for (int s : at[k]) {
      double m = std::fabs(need[k] / static_cast<double>(at[k].size()));
      if (!std::isinf(mx[static_cast<std::size_t>(s)]))
        m += std::fabs(mx[static_cast<std::size_t>(s)]);
      if (!std::isinf(mn[static_cast<std::size_t>(s)]))
        m += std::fabs(mn[static_cast<std::size_t>(s)]);
      m_node[k] += m;
    }
  }
  for (std::size_t k = 0; k < rpv.size(); ++k) {
    for (int s : at[k]) {
      double& lo = mn[static_cast<std::size_t>(s)];
      double& hi = mx[static_cast<std::size_t>(s)];
      if (std::isinf(lo)) lo = lo > 0 ? m_node[k] : -m_node[k];
      if (std::isinf(hi)) hi = hi > 0 ? m_node[k] : -m_node[k];
    }
  }
  for (std::size_t s = 0; s < nu; ++s) range[s] = mx[s] - mn[s];
  // Pivot per row: the first unit of largest (nonzero) range; an all-zero
  // row yields state 1, MATLAB's index of the max of an empty sparse row.
  std::vector<int> pivot(rpv.size(), 0);
  for (std::size_t k = 0; k < rpv.size(); ++k) {
    double best = 0;
    int j = -1;
    for (int s : at[k]) {
      double r = range[static_cast<std::size_t>(s)];
      if (r != 0 && (j < 0 || r > best)) {
        best = r;
        j = s;
      }
    }
    if (j >= 0 && std::fabs(best) >= 10 * kEps) {
      pivot[k] = j;
    } else {
      pivot[k] = j >= 0 ? j : 0;
      for (int s : at[k]) range[static_cast<std::size_t>(s)] = 1;  // rmax(i0) = 1
    }
  }
  // The equations, as sparse rows over units.
  struct Row {
    std::vector<std::pair<int, double>> a;
    double rhs = 0;
  };
  std::vector<Row> rows;
  std::vector<char> column(nu, 0);  // units at ref/pv buses: the unknowns
  for (std::size_t k = 0; k < rpv.size(); ++k) {
    Row r;
    for (int s : at[k]) {
      r.a.emplace_back(s, 1.0);
      column[static_cast<std::size_t>(s)] = 1;
    }
    r.rhs = need[k];
    rows.push_back(std::move(r));
  }
  for (std::size_t k = 0; k < rpv.size(); ++k) {
    if (at[k].size() < 2) continue;
    const int j = pivot[k];
    for (int s : at[k]) {
      if (s == j) continue;
      const double rr = range[static_cast<std::size_t>(s)] / range[static_cast<std::size_t>(j)];
      Row r;
      r.a.emplace_back(s, 1.0);
      if (column[static_cast<std::size_t>(j)]) r.a.emplace_back(j, -rr);
      r.rhs = mn[static_cast<std::size_t>(s)] - rr * mn[static_cast<std::size_t>(j)];
      rows.push_back(std::move(r));
    }
  }
  // Independent blocks (units linked by a row), each solved densely.
  std::vector<int> parent(nu);
  std::iota(parent.begin(), parent.end(), 0);
  for (const Row& r : rows) {
    for (std::size_t e = 1; e < r.a.size(); ++e) {
      int a = Find(parent, r.a[0].first), b = Find(parent, r.a[e].first);
      if (a != b) parent[static_cast<std::size_t>(a)] = b;
    }
  }
  std::unordered_map<int, std::vector<int>> block_units, block_rows;
  for (std::size_t s = 0; s < nu; ++s) {
    if (column[s]) block_units[Find(parent, static_cast<int>(s))].push_back(static_cast<int>(s));
  }
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (!rows[k].a.empty())
      block_rows[Find(parent, rows[k].a[0].first)].push_back(static_cast<int>(k));
  }
  std::vector<int> col_of(nu, -1);
  for (auto& [root, units] : block_units) {
    const std::vector<int>& rws = block_rows[root];
    const std::size_t n = units.size(), m = rws.size();
    for (std::size_t c = 0; c < n; ++c)
      col_of[static_cast<std::size_t>(units[c])] = static_cast<int>(c);
    std::vector<double> a(m * n, 0.0), b(m);
    for (std::size_t i = 0; i < m; ++i) {
      const Row& r = rows[static_cast<std::size_t>(rws[i])];
      for (const auto& [s, v] : r.a)
        a[i * n + static_cast<std::size_t>(col_of[static_cast<std::size_t>(s)])] += v;
      b[i] = r.rhs;
    }
    std::vector<double> x = LeastSquares(a, m, n, b);
    for (std::size_t c = 0; c < n; ++c)
      net_.units[static_cast<std::size_t>(units[c])].qg = x[c] * base;
  }
}

void AcSolve::FailNewton(const NewtonOutcome& r) {
  std::string why;
  switch (r.failure) {
    case NewtonOutcome::kSingular:
      why =
          "did not converge: the Jacobian is singular at iteration " + std::to_string(r.iterations);
      break;
    case NewtonOutcome::kNonFinite:
      why = "did not converge in " + std::to_string(out_->iterations) +
            " iterations (the iterate became non-finite and was discarded)";
      break;
    default:
      why = "did not converge in " + std::to_string(out_->iterations) + " iterations";
  }
  out_->worst_bus = r.worst_bus >= 0 ? net_.ext[static_cast<std::size_t>(r.worst_bus)] : -1;
  if (out_->worst_bus >= 0) {
    why += "; largest mismatch " + Format("%.3g", r.norm) + " p.u. at bus " +
           std::to_string(c_.bus[static_cast<std::size_t>(out_->worst_bus)].number);
  }
  Fail(why);
}

// One step of runpf's enforce_q_lims = 1 loop after a converged round.
// *repeat: solve again. False: stop as not converged (message set).
bool AcSolve::EnforceQLimits(bool* repeat) {
  *repeat = false;
  std::vector<int> mx, mn;
  for (std::size_t k = 0; k < net_.units.size(); ++k) {
    const Unit& u = net_.units[k];
    if (u.qg > u.qmax + kQViolation) mx.push_back(static_cast<int>(k));
    if (u.qg < u.qmin - kQViolation) mn.push_back(static_cast<int>(k));
  }
  if (mx.empty() && mn.empty()) return true;
  std::vector<int> infeasible;
  std::set_union(mx.begin(), mx.end(), mn.begin(), mn.end(), std::back_inserter(infeasible));
  std::vector<int> remaining;  // units at PV/REF buses
  for (std::size_t k = 0; k < net_.units.size(); ++k) {
    int type = net_.type[static_cast<std::size_t>(net_.units[k].bus)];
    if (type == kPV || type == kRef) remaining.push_back(static_cast<int>(k));
  }
  if (infeasible == remaining && (mx.empty() || mn.empty())) {
    Fail("did not converge: all " + std::to_string(infeasible.size()) +
         " remaining generators exceed their " + (mn.empty() ? "upper" : "lower") +
         " Q limits (infeasible problem)");
    return false;
  }
  for (int k : mx)
    net_.units[static_cast<std::size_t>(k)].qg = net_.units[static_cast<std::size_t>(k)].qmax;
  for (int k : mn)
    net_.units[static_cast<std::size_t>(k)].qg = net_.units[static_cast<std::size_t>(k)].qmin;
  std::vector<int> fixed = mx;
  fixed.insert(fixed.end(), mn.begin(), mn.end());
  for (int k : fixed) {
    const int b = net_.units[static_cast<std::size_t>(k)].bus;
    if (types_.ref.size() > 1 && net_.type[static_cast<std::size_t>(b)] == kRef) {
      Fail("cannot enforce the Q limits of generators at reference bus " +
           std::to_string(
               c_.bus[static_cast<std::size_t>(net_.ext[static_cast<std::size_t>(b)])].number) +
           " with several reference buses (as MATPOWER)");
      return false;
    }
  }
  for (int k : fixed) {
    net_.type[static_cast<std::size_t>(net_.units[static_cast<std::size_t>(k)].bus)] = kPQ;
    limited_[static_cast<std::size_t>(k)] = 1;
  }
  std::vector<int> ref_before = types_.ref;
  types_ = ComputeBusTypes(net_);
  if (!types_.ok) {
    Fail(
        "did not converge: every generator is held at a Q limit; no bus is left to hold the "
        "voltage and balance the power");
    return false;
  }
  if (types_.ref != ref_before) {
    for (int r : types_.ref) net_.type[static_cast<std::size_t>(r)] = kRef;
    for (int v : types_.pv) net_.type[static_cast<std::size_t>(v)] = kPV;
  }
  *repeat = true;
  return true;
}

bool AcSolve::Run() {
  types_ = ComputeBusTypes(net_);
  if (!types_.ok) {
    Fail("no bus can be the reference: no REF or PV bus has an in-service generator");
    return false;
  }
  if (std::string msg = IslandsWithoutRef(c_, net_, types_); !msg.empty()) {
    Fail(msg);
    return false;
  }
  auto t0 = Clock::now();
  bus_order_ = BusOrder(y_);
  out_->timing.factorize_ms += MsSince(t0);
  const std::vector<int> ref0 = types_.ref;
  limited_.assign(net_.units.size(), 0);
  StartVoltages();
  out_->converged = true;
  bool repeat = true;
  while (repeat) {
    repeat = false;
    MakeSbus();
    if (!newton_.SetBusTypes(types_, out_)) {
      Fail("did not converge: KLU could not analyze the Jacobian");
      break;
    }
    NewtonOutcome r = newton_.Run(o_, out_);
    out_->iterations += r.iterations;
    out_->max_mismatch = r.norm;
    PfSoln();
    if (!r.converged) {
      FailNewton(r);
      break;
    }
    if (o_.enforce_q_limits && !EnforceQLimits(&repeat)) break;
  }
  // The reference angle: when Q limits moved the reference, shift the
  // angles back so the original reference keeps its angle.
  if (types_.ref != ref0 && ref0.size() == 1) {
    const std::size_t r0 = static_cast<std::size_t>(ref0[0]);
    const double shift = newton_.va[r0] - net_.va0[r0];
    for (double& a : newton_.va) a -= shift;
  }
  for (std::size_t k = 0; k < net_.units.size(); ++k) {
    if (limited_[k] && net_.units[k].gen >= 0) out_->limited_gens.push_back(net_.units[k].gen);
  }
  return true;
}

// ---------------------------------------------------------------------------
// DC power flow: makeBdc + dcpf.

// False + *error only for a branch the DC model cannot represent. An empty
// *va: refused before solving (out->message says why).
bool DcSolve(const Case& c, Network& net, PowerFlowResult* out, std::vector<double>* va,
             std::vector<double>* pf_branch, std::vector<int>* ref, std::string* error) {
  auto t0 = Clock::now();
  const double base = net.base_mva;
  for (const NetBranch& b : net.branches) {
    const Branch& br = c.branch[static_cast<std::size_t>(b.index)];
    if (br.x == 0) {
      *error = "branch " + std::to_string(b.index + 1) + " (" + std::to_string(br.from) + "-" +
               std::to_string(br.to) +
               ") has no reactance (x = 0): the DC model cannot represent it";
      return false;
    }
  }
  Sparse bbus;
  std::vector<int> pos;
  BusMatrixPattern(net.nb, net.branches, &bbus, &pos);
  const std::size_t nb = static_cast<std::size_t>(net.nb);
  std::vector<double> bser(net.branches.size()), pfinj(net.branches.size()), pbus(nb, 0.0);
  for (std::size_t l = 0; l < net.branches.size(); ++l) {
    const NetBranch& b = net.branches[l];
    const Branch& br = c.branch[static_cast<std::size_t>(b.index)];
    const double bs = 1.0 / br.x / (br.tap != 0 ? br.tap : 1.0);
    bser[l] = bs;
    bbus.re[static_cast<std::size_t>(pos[4 * l + 0])] += bs;
    bbus.re[static_cast<std::size_t>(pos[4 * l + 1])] -= bs;
    bbus.re[static_cast<std::size_t>(pos[4 * l + 2])] -= bs;
    bbus.re[static_cast<std::size_t>(pos[4 * l + 3])] += bs;
    pfinj[l] = bs * (-br.shift * kRadPerDeg);
    pbus[static_cast<std::size_t>(b.f)] -= pfinj[l];  // Pbus = P - Pbusinj - Gs
    pbus[static_cast<std::size_t>(b.t)] += pfinj[l];
  }
  for (std::size_t b = 0; b < nb; ++b) pbus[b] += (-net.pd[b] - net.gs[b]) / base;
  for (const Unit& u : net.units) pbus[static_cast<std::size_t>(u.bus)] += u.pg / base;
  out->timing.ybus_ms += MsSince(t0);

  BusTypes t = ComputeBusTypes(net);
  if (!t.ok) {
    out->message = "no bus can be the reference: no REF or PV bus has an in-service generator";
    return true;
  }
  if (std::string msg = IslandsWithoutRef(c, net, t); !msg.empty()) {
    out->message = msg;
    return true;
  }
  *ref = t.ref;
  // B(pvpq, pvpq) in CSC, pv then pq as dcpf.
  auto t1 = Clock::now();
  std::vector<int> idx(nb, -1), order;
  order.insert(order.end(), t.pv.begin(), t.pv.end());
  order.insert(order.end(), t.pq.begin(), t.pq.end());
  for (std::size_t k = 0; k < order.size(); ++k)
    idx[static_cast<std::size_t>(order[k])] = static_cast<int>(k);
  const int n = static_cast<int>(order.size());
  std::vector<int> ap(static_cast<std::size_t>(n) + 1, 0), ai;
  std::vector<double> ax, rhs(static_cast<std::size_t>(n));
  std::vector<std::pair<int, double>> col;
  *va = net.va0;
  for (int k = 0; k < n; ++k) {
    const int b = order[static_cast<std::size_t>(k)];
    col.clear();
    for (int e = bbus.p[static_cast<std::size_t>(b)]; e < bbus.p[static_cast<std::size_t>(b) + 1];
         ++e) {
      const int i = idx[static_cast<std::size_t>(bbus.i[static_cast<std::size_t>(e)])];
      if (i >= 0) col.emplace_back(i, bbus.re[static_cast<std::size_t>(e)]);
    }
    std::sort(col.begin(), col.end());
    for (const auto& [i, v] : col) {
      ai.push_back(i);
      ax.push_back(v);
    }
    ap[static_cast<std::size_t>(k) + 1] = static_cast<int>(ai.size());
    rhs[static_cast<std::size_t>(k)] = pbus[static_cast<std::size_t>(b)];
  }
  // - B(pvpq, ref) Va0(ref); B is symmetric, so walk the ref columns.
  for (int r : t.ref) {
    for (int e = bbus.p[static_cast<std::size_t>(r)]; e < bbus.p[static_cast<std::size_t>(r) + 1];
         ++e) {
      const int i = idx[static_cast<std::size_t>(bbus.i[static_cast<std::size_t>(e)])];
      if (i >= 0)
        rhs[static_cast<std::size_t>(i)] -=
            bbus.re[static_cast<std::size_t>(e)] * net.va0[static_cast<std::size_t>(r)];
    }
  }
  bool ok = true;
  if (n > 0) {
    Klu klu;
    ok = klu.Analyze(n, ap, ai) && klu.Factor(ap, ai, ax);
    if (ok) ++out->timing.factorizations;
    ok = ok && klu.Solve(n, rhs.data());
  }
  out->timing.factorize_ms += MsSince(t1);
  auto t2 = Clock::now();
  out->iterations = 1;
  if (ok) {
    for (int k = 0; k < n; ++k)
      (*va)[static_cast<std::size_t>(order[static_cast<std::size_t>(k)])] =
          rhs[static_cast<std::size_t>(k)];
    for (double a : *va) ok = ok && std::isfinite(a) && std::fabs(a) <= kDcMaxAngle;
  }
  if (!ok) {
    *va = net.va0;
    out->message = "DC power flow failed: the B matrix is singular or the angles are unbounded";
  }
  // Residual of B Va = Pbus at the non-reference buses, and the slack.
  std::vector<double> bva(nb, 0.0);
  for (std::size_t k = 0; k < nb; ++k) {
    for (int e = bbus.p[k]; e < bbus.p[k + 1]; ++e) {
      bva[static_cast<std::size_t>(bbus.i[static_cast<std::size_t>(e)])] +=
          bbus.re[static_cast<std::size_t>(e)] * (*va)[k];
    }
  }
  double norm = 0;
  int worst = -1;
  for (int b : order) {
    double d = std::fabs(bva[static_cast<std::size_t>(b)] - pbus[static_cast<std::size_t>(b)]);
    if (!(d <= norm)) {
      norm = d;
      worst = b;
    }
  }
  out->mismatch.push_back(norm);
  out->max_mismatch = norm;
  if (!ok && worst >= 0) out->worst_bus = net.ext[static_cast<std::size_t>(worst)];
  out->converged = ok;
  if (ok) {
    for (int r : t.ref) {
      for (Unit& u : net.units) {
        if (u.bus != r) continue;
        u.pg += (bva[static_cast<std::size_t>(r)] - pbus[static_cast<std::size_t>(r)]) * base;
        break;
      }
    }
  }
  pf_branch->resize(net.branches.size());
  for (std::size_t l = 0; l < net.branches.size(); ++l) {
    const NetBranch& b = net.branches[l];
    (*pf_branch)[l] =
        (bser[l] * ((*va)[static_cast<std::size_t>(b.f)] - (*va)[static_cast<std::size_t>(b.t)]) +
         pfinj[l]) *
        base;
  }
  out->timing.iterate_ms += MsSince(t2);
  return true;
}

// ---------------------------------------------------------------------------
// Results in case order.

double Finite(double v) { return std::isfinite(v) ? v : 0.0; }

void WriteUnits(const Case& c, const Network& net, PowerFlowResult* out) {
  for (std::size_t g = 0; g < c.gen.size(); ++g) {
    // In service at a bus the solver did not see (isolated): 0, as runpf.
    out->pg[g] = 0;
    out->qg[g] = 0;
  }
  for (const Unit& u : net.units) {
    if (u.gen >= 0) {
      out->pg[static_cast<std::size_t>(u.gen)] = Finite(u.pg);
      out->qg[static_cast<std::size_t>(u.gen)] = Finite(u.qg);
    } else if (u.from_end) {
      out->dcline_qf[static_cast<std::size_t>(u.dcline)] = Finite(u.qg);
    } else {
      out->dcline_qt[static_cast<std::size_t>(u.dcline)] = Finite(u.qg);
    }
  }
}

void ResetResult(const Case& c, PowerFlowResult* out) {
  *out = PowerFlowResult();
  out->vm.assign(c.bus.size(), 0.0);
  out->va_deg.assign(c.bus.size(), 0.0);
  out->pg.assign(c.gen.size(), 0.0);
  out->qg.assign(c.gen.size(), 0.0);
  out->p_from.assign(c.branch.size(), 0.0);
  out->q_from.assign(c.branch.size(), 0.0);
  out->p_to.assign(c.branch.size(), 0.0);
  out->q_to.assign(c.branch.size(), 0.0);
  out->dcline_qf.assign(c.dclines.size(), 0.0);
  out->dcline_qt.assign(c.dclines.size(), 0.0);
}

// Internal voltages (p.u., radians) into case order.
void WriteVoltages(const Network& net, const std::vector<double>& vm, const std::vector<double>& va,
                   PowerFlowResult* out) {
  for (std::size_t b = 0; b < static_cast<std::size_t>(net.nb); ++b) {
    const std::size_t k = static_cast<std::size_t>(net.ext[b]);
    out->vm[k] = Finite(vm[b]);
    out->va_deg[k] = Finite(va[b] / kRadPerDeg);
  }
}

// pfsoln's branch flows: Sf = V_f conj(Yf V), St = V_t conj(Yt V).
void WriteAcFlows(const Network& net, const std::vector<double>& vm, const std::vector<double>& va,
                  PowerFlowResult* out) {
  const double base = net.base_mva;
  for (const NetBranch& br : net.branches) {
    const std::size_t f = static_cast<std::size_t>(br.f), t = static_cast<std::size_t>(br.t);
    const Complex vf = std::polar(vm[f], va[f]), vt = std::polar(vm[t], va[t]);
    const Complex sf = vf * std::conj(br.yff * vf + br.yft * vt) * base;
    const Complex st = vt * std::conj(br.ytf * vf + br.ytt * vt) * base;
    const std::size_t i = static_cast<std::size_t>(br.index);
    out->p_from[i] = Finite(sf.real());
    out->q_from[i] = Finite(sf.imag());
    out->p_to[i] = Finite(st.real());
    out->q_to[i] = Finite(st.imag());
  }
}

void SolveAc(const Case& c, Network& net, const PowerFlowOptions& o, PowerFlowResult* out,
             std::vector<int>* ref) {
  auto t0 = Clock::now();
  Sparse y;
  BuildYbus(net, &y);
  out->timing.ybus_ms += MsSince(t0);
  AcSolve ac(c, net, y, o, out);
  if (!ac.Run()) return;  // refused before solving: nothing to write
  WriteVoltages(net, ac.vm(), ac.va(), out);
  WriteAcFlows(net, ac.vm(), ac.va(), out);
  *ref = ac.ref();
}

bool SolveDc(const Case& c, Network& net, PowerFlowResult* out, std::vector<int>* ref,
             std::string* error) {
  std::vector<double> va, pf;
  if (!DcSolve(c, net, out, &va, &pf, ref, error)) return false;
  if (va.empty()) return true;  // refused before solving
  WriteVoltages(net, std::vector<double>(static_cast<std::size_t>(net.nb), 1.0), va, out);
  for (std::size_t l = 0; l < net.branches.size(); ++l) {
    const std::size_t i = static_cast<std::size_t>(net.branches[l].index);
    out->p_from[i] = Finite(pf[l]);
    out->p_to[i] = -Finite(pf[l]);
  }
  return true;
}

}  // namespace

bool PowerFlowSolver::Prepare(const Case& c, std::string* error) {
  prepared_ = false;
  try {
    if (c.bus.empty()) {
      *error = "the case has no buses";
      return false;
    }
    if (!(c.base_mva > 0)) {
      *error = "baseMVA must be positive, not " + Format("%g", c.base_mva);
      return false;
    }
    std::unordered_map<int, int> index;
    index.reserve(c.bus.size());
    for (std::size_t b = 0; b < c.bus.size(); ++b) {
      const Bus& bus = c.bus[b];
      if (!index.emplace(bus.number, static_cast<int>(b)).second) {
        *error = "duplicate bus number " + std::to_string(bus.number) + " (rows " +
                 std::to_string(index[bus.number] + 1) + " and " + std::to_string(b + 1) + ")";
        return false;
      }
      if (bus.type < kPQ || bus.type > kIsolated) {
        *error = "bus " + std::to_string(bus.number) + " has an invalid type " +
                 std::to_string(bus.type);
        return false;
      }
    }
    auto lookup = [&](int number, const std::string& what, int* out) {
      auto it = index.find(number);
      if (it == index.end()) {
        *error = what + " names bus " + std::to_string(number) + ", which is not in the case";
        return false;
      }
      *out = it->second;
      return true;
    };
    gen_bus_.assign(c.gen.size(), 0);
    for (std::size_t g = 0; g < c.gen.size(); ++g) {
      if (!lookup(c.gen[g].bus, "generator " + std::to_string(g + 1), &gen_bus_[g])) return false;
    }
    br_from_.assign(c.branch.size(), 0);
    br_to_.assign(c.branch.size(), 0);
    for (std::size_t l = 0; l < c.branch.size(); ++l) {
      const Branch& br = c.branch[l];
      const std::string what = "branch " + std::to_string(l + 1) + " (" + std::to_string(br.from) +
                               "-" + std::to_string(br.to) + ")";
      if (!lookup(br.from, what, &br_from_[l]) || !lookup(br.to, what, &br_to_[l])) return false;
      const bool on = br.status != 0 &&
                      c.bus[static_cast<std::size_t>(br_from_[l])].type != kIsolated &&
                      c.bus[static_cast<std::size_t>(br_to_[l])].type != kIsolated;
      if (on && br.r == 0 && br.x == 0) {
        *error = what + " is in service with zero impedance (r = x = 0)";
        return false;
      }
    }
    dc_from_.assign(c.dclines.size(), 0);
    dc_to_.assign(c.dclines.size(), 0);
    for (std::size_t d = 0; d < c.dclines.size(); ++d) {
      const DcLine& dl = c.dclines[d];
      const std::string what = "DC line " + std::to_string(d + 1) + " (" + std::to_string(dl.from) +
                               "-" + std::to_string(dl.to) + ")";
      if (!lookup(dl.from, what, &dc_from_[d]) || !lookup(dl.to, what, &dc_to_[d])) return false;
    }
    case_ = c;
    prepared_ = true;
    return true;
  } catch (const std::exception& e) {
    *error = std::string("cannot prepare the power flow: ") + e.what();
    return false;
  }
}

bool PowerFlowSolver::Solve(const PowerFlowOptions& o, PowerFlowResult* out,
                            std::string* error) const {
  if (!prepared_) {
    *error = "the power flow was not prepared";
    return false;
  }
  try {
    const Case& c = case_;
    ResetResult(c, out);
    auto t0 = Clock::now();
    Network net;
    BuildNetwork(c, Indices{gen_bus_, br_from_, br_to_, dc_from_, dc_to_}, o, &net, out);
    out->timing.ybus_ms = MsSince(t0);
    if (net.nb == 0) {
      out->message = "nothing to solve: no island has an in-service generator";
      return true;
    }

    std::vector<int> ref;
    if (o.dc) {
      if (!SolveDc(c, net, out, &ref, error)) return false;
    } else {
      SolveAc(c, net, o, out, &ref);
    }
    WriteUnits(c, net, out);
    for (int r : ref) out->ref_buses.push_back(net.ext[static_cast<std::size_t>(r)]);
    std::sort(out->limited_gens.begin(), out->limited_gens.end());
    if (out->converged) out->worst_bus = -1;
    return true;
  } catch (const std::bad_alloc&) {
    *error = "out of memory solving the power flow";
    return false;
  } catch (const std::exception& e) {
    *error = std::string("power flow failed: ") + e.what();
    return false;
  }
}

bool SolvePowerFlow(const Case& c, const PowerFlowOptions& o, PowerFlowResult* out,
                    std::string* error) {
  PowerFlowSolver solver;
  if (!solver.Prepare(c, error)) return false;
  return solver.Solve(o, out, error);
}

}  // namespace grid
