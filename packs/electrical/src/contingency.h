// N-1 contingency analysis: every in-service branch and every in-service
// generator taken out alone, each outage solved by the AC power flow of
// powerflow.h starting from the base case's solution, and the violations
// it leaves: bus voltages outside [VMIN, VMAX], branch flows above RATE_A.
//
// An outage that splits the network (a bridge of the in-service network
// graph) is flagged `islanding` and still solved: the islands without
// generation are de-energized and their load counted as lost; the rest is
// solved as usual.
//
// The outage list is deterministic (branches, then generators, case order),
// so a study can be cut into parts (part_index of part_count, contiguous
// slices) run anywhere and concatenated back into exactly the single run's
// list.
#pragma once

#include <string>
#include <vector>

#include "packs/electrical/src/case.h"
#include "packs/electrical/src/powerflow.h"

namespace grid {

struct ContingencyOptions {
  PowerFlowOptions pf;        // the base case's and every outage's options (outage fields ignored)
  bool branches = true;       // outage every in-service branch
  bool generators = true;     // outage every in-service generator
  int part_index = 0;         // this part of the outage list ...
  int part_count = 1;         // ... cut into this many contiguous slices
  int threads = 1;            // solver threads (each outage is independent)
  bool keep_solutions = false;  // keep each outage's vm / va (tests)
};

struct Violation {
  enum Kind { kVoltage, kThermal } kind = kVoltage;
  int index = -1;      // case index of the bus (voltage) or the branch (thermal)
  double value = 0;    // p.u. (voltage) or MVA (thermal: the larger end's |S|)
  double limit = 0;    // the VMIN or VMAX crossed, or RATE_A
};

struct OutageResult {
  enum Type { kBranch, kGenerator } type = kBranch;
  int index = -1;            // case index of the branch or generator
  int from = 0, to = 0;      // bus numbers (a generator: its bus, twice)
  bool islanding = false;    // the outage splits the network (a bridge)
  bool converged = false;
  int iterations = 0;
  int deenergized_buses = 0;   // beyond those already de-energized in the base case
  double lost_load_mw = 0;     // demand of those buses
  std::string message;         // why it did not converge
  double min_vm = 0;           // lowest energized bus voltage after it (converged), p.u.
  double max_loading_pct = -1; // highest loading of a rated branch after it (converged); < 0: none rated
  std::vector<Violation> violations;
  std::vector<double> vm, va_deg;  // only with keep_solutions
};

struct ContingencyResult {
  PowerFlowResult base;               // the base case, solved
  std::vector<Violation> base_violations;
  int total_outages = 0;              // in the whole list, all parts
  int first_outage = 0;               // position of outages[0] in the whole list
  std::vector<OutageResult> outages;  // this part's
  struct {
    double base_ms = 0;
    double outages_ms = 0;  // wall time of the outage solves
  } timing;
};

// False + *error when the case cannot be set up (see PowerFlowSolver::
// Prepare), the options are out of range, or the base case does not
// converge (an N-1 needs a base solution).
bool RunContingencies(const Case& c, const ContingencyOptions& o, ContingencyResult* out,
                      std::string* error);

// The bridges of the in-service network graph (non-isolated buses,
// in-service branches between them), as a flag per branch (case order).
// Parallel branches are never bridges. Needs bus numbers to be valid.
std::vector<char> Bridges(const Case& c);

// The violations of a solved case: energized buses outside [VMIN, VMAX],
// in-service branches above RATE_A (RATE_A > 0). `outage_branch` is
// skipped. Tolerance: 1e-6 p.u. and 1e-6 MVA.
std::vector<Violation> Violations(const Case& c, const PowerFlowResult& r, int outage_branch = -1);

}  // namespace grid
