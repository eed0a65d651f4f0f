// AC (Newton-Raphson, polar, power balance) and DC power flow of a
// grid::Case, reproducing MATPOWER's runpf: ext2int's filtering, bustypes,
// newtonpf, pfsoln, the enforce_q_lims loop, toggle_dcline's DC line model
// and dcpf. The sparse LU is SuiteSparse KLU.
//
// Beyond MATPOWER, the network is split into islands over the in-service
// branches: an island without any in-service generator (or DC line
// terminal) is de-energized (Vm = Va = 0, listed, warned about) and the rest
// is solved without it; an island with generators but no reference bus is
// refused with converged = false and a message naming its buses.
//
// Thread-safe: no global state; one KLU workspace per solve.
#pragma once

#include <string>
#include <vector>

#include "packs/electrical/src/case.h"

namespace grid {

struct PowerFlowOptions {
  bool enforce_q_limits = false;  // MATPOWER's pf.enforce_q_lims = 1
  // Vm = 1 and Va = the angle of the island's reference bus everywhere,
  // then VG at the voltage-controlled buses. Otherwise (MATPOWER's start)
  // the case's VM/VA, with VG at the voltage-controlled buses.
  bool flat_start = false;
  bool dc = false;          // DC power flow (makeBdc + dcpf)
  double tolerance = 1e-8;  // on the infinity norm of the mismatch, p.u.
  int max_iterations = 10;  // Newton iterations per Q-limit round
  // How the Q of a bus is shared among several generators there. false:
  // MATPOWER's pfsoln (legacy core): equal shares, then in proportion to the
  // Q ranges; every bus balances. true: MATPOWER 8's default MP-Core path
  // (update_z), which agrees except where all generators of a bus have a
  // zero Q range: there it solves an overdetermined system in the
  // least-squares sense and leaves those buses' Q unbalanced (MVAr-sized
  // errors in case_ACTIVSg10k, which also change which generators hit their
  // limits). Only to reproduce MATPOWER 8.1's published results.
  bool mp_core_q_split = false;
  // N-1: solve as if this branch (generator) were out of service; a case
  // index, -1 for none. The case itself is not changed.
  int outage_branch = -1;
  int outage_gen = -1;
  // A warm start (both or neither; case order, p.u. and degrees, e.g. a
  // base case's solution): energized buses start from these instead of the
  // case's VM/VA (entries <= 0 are ignored). VG still sets the voltage of
  // voltage-controlled buses, as in MATPOWER's start. Not owned.
  const std::vector<double>* start_vm = nullptr;
  const std::vector<double>* start_va_deg = nullptr;
};

struct PowerFlowResult {
  bool converged = false;
  int iterations = 0;  // Newton iterations (sum over Q-limit rounds); 1 for DC
  // Per bus, case order. De-energized and isolated buses: 0, 0.
  std::vector<double> vm, va_deg;
  // Per gen, case order, MW / MVAr (out of service: 0).
  std::vector<double> pg, qg;
  // Per branch, case order, MW / MVAr (out of service: 0).
  std::vector<double> p_from, q_from, p_to, q_to;
  // Per DC line, case order: the terminals' reactive injections, MVAr
  // (out of service: 0).
  std::vector<double> dcline_qf, dcline_qt;
  // Infinity norm of the mismatch (p.u.) before each Newton iteration and
  // at the end, Q-limit rounds one after the other.
  std::vector<double> mismatch;
  double max_mismatch = 0;             // final
  int worst_bus = -1;                  // case index of the worst bus (when not converged)
  std::vector<int> limited_gens;       // case indices of gens held at a Q limit
  std::vector<int> deenergized_buses;  // case indices of buses in islands without generation
  std::vector<int> ref_buses;          // case indices of the reference bus(es) used
  std::string message;                 // why it did not converge (empty when fine)
  std::vector<std::string> warnings;
  struct {
    double ybus_ms = 0;       // topology, islands, Ybus (or Bbus)
    double factorize_ms = 0;  // KLU analyze + factor + refactor
    double iterate_ms = 0;    // the rest of the iterations: mismatch, Jacobian, solves, updates
    int factorizations = 0;   // numeric factorizations (factor or refactor)
  } timing;
};

// A case checked and indexed once, solved any number of times (a benchmark
// times Solve alone: it builds Ybus and runs Newton each call). Solve is
// const and may run on several threads at once.
class PowerFlowSolver {
 public:
  // Keeps a copy of c. False + *error when the case cannot be set up: no
  // buses, duplicate bus numbers, a gen, branch or DC line naming an unknown
  // bus, an in-service branch with r = x = 0.
  bool Prepare(const Case& c, std::string* error);

  // True with the result (converged or not) in *out; false + *error only
  // when nothing could be attempted (not prepared, a DC power flow over a
  // branch without reactance, out of memory). Never throws.
  bool Solve(const PowerFlowOptions& o, PowerFlowResult* out, std::string* error) const;

  const Case& network() const { return case_; }

 private:
  bool prepared_ = false;
  Case case_;
  // Case bus indices of each gen's bus, each branch's ends, each DC line's ends.
  std::vector<int> gen_bus_, br_from_, br_to_, dc_from_, dc_to_;
};

// Prepare + Solve. False + *error for a case it cannot even set up (see
// PowerFlowSolver::Prepare); non-convergence is not an error: true with
// converged = false, message and worst_bus.
bool SolvePowerFlow(const Case& c, const PowerFlowOptions& o, PowerFlowResult* out,
                    std::string* error);

}  // namespace grid
