// The initial symmetrical three-phase short-circuit current at every bus by
// the equivalent voltage source at the fault (IEC 60909), exactly this model
// so it can be checked (docs/electrical.md works a case by hand):
//
//   Ik''_k = c * S_base / (sqrt(3) * U_n,k * |Z_kk|)   kA
//
// U_n,k the bus's BASE_KV, Z_kk the k-th diagonal entry of Z = Y^-1 (p.u. on
// the system base), Y built from every in-service branch's series impedance
// r + jx with its tap ratio and phase shift (MATPOWER's makeYbus with the
// line charging left out) and, at each in-service generator's bus, its
// subtransient reactance to ground (X''d on MBASE). Loads, bus shunts, line
// charging and DC lines are neglected.
//
// Numerics: Y is factored once (CXSparse, complex LU with AMD ordering) and
// each diagonal entry of its inverse comes from two sparse triangular solves
// with a unit right-hand side (cs_ci_spsolve), which touch only the
// elimination paths of that bus, so all N diagonals cost far less than N
// dense solves.
#pragma once

#include <string>
#include <vector>

#include "packs/electrical/src/case.h"

namespace grid {

struct ShortCircuitOptions {
  double c = 1.1;                       // the voltage factor c (IEC 60909 c_max for U_n > 1 kV)
  double default_x_subtransient = 0.2;  // X''d (p.u. on MBASE) of a generator without one
};

struct ShortCircuitResult {
  // Per bus, case order. NaN where there is no value: no path to ground
  // (zkk and ik), or no base kV (ik only).
  std::vector<double> ik_ka, zkk_re, zkk_im, zkk_abs;
  std::vector<int> no_ground_buses;   // case indices: isolated, or in an island without a generator
  std::vector<int> no_base_kv_buses;  // case indices: BASE_KV <= 0 (Zkk known, no kA)
  std::vector<std::string> warnings;
  struct {
    double ybus_ms = 0, factor_ms = 0, diagonal_ms = 0;
  } timing;
};

// False + *error when the case cannot be studied: no buses, duplicate bus
// numbers, an element naming an unknown bus, an in-service branch with
// r = x = 0, options out of range, a singular admittance matrix.
bool ComputeShortCircuit(const Case& c, const ShortCircuitOptions& o, ShortCircuitResult* out, std::string* error);

}  // namespace grid
