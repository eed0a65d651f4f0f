// grid.check's rules: modelling errors a network should not be simulated
// with, each finding naming the offending element (and attribute) by
// pointer. docs/electrical.md has the table of rules.
//
// Per rule at most CheckOptions::max_findings_per_rule findings, then one
// summary finding with the count, so a 10,000-bus network missing its
// ratings gives a readable answer.
#pragma once

#include <string>
#include <vector>

#include "packs/electrical/src/case.h"
#include "packs/electrical/src/model.h"

namespace grid {

struct Finding {
  std::string severity;  // error | warning | info
  std::string rule;      // a stable dotted id, e.g. "generator.q_limits"
  std::string pointer;   // the element (bver://...~N, @field for an attribute), or a label when unknown
  std::string message;
};

struct CheckOptions {
  int max_findings_per_rule = 50;
  double max_impedance_pu = 10;   // |z| above: implausible (a typo of the base or the unit)
  double max_transformer_r_over_x = 1;  // r/x above on a transformer: implausible
  double min_tap = 0.5, max_tap = 1.5;
  double min_vset = 0.8, max_vset = 1.2;
  double kv_tolerance = 0.05;     // winding kV vs bus base kV, relative (taps absorb the rest)
};

struct CheckReport {
  bool passed = true;  // no error finding
  std::vector<Finding> findings;
  struct {
    int islands = 0, energized_islands = 0, errors = 0, warnings = 0, infos = 0;
  } summary;
};

// Never throws; any Case (elements naming unknown buses, NaN values) gives
// findings, not a crash.
CheckReport CheckNetwork(const Case& c, const ElementPointers& p, const CheckOptions& o = {});

}  // namespace grid
