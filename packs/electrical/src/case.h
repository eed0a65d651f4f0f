// The in-memory network model of the electrical pack: MATPOWER's case
// (version 2) layout, one struct per row, values in MATPOWER's units
// (MW, MVAr, p.u. on the system base, kV, degrees).
//
// Bus PD/QD/GS/BS are the bus totals, as MATPOWER keeps them. Where a source
// knows the individual loads and shunts (PSS/E), `loads` and `shunts` list
// them too; the invariant is that the in-service loads (shunts) at a bus sum
// to its PD/QD (GS/BS). A reader that knows no individual elements leaves
// both lists empty.
//
// Plain data; no dependency on the BVER kernel, so the parsers, the solver
// and their tests build on their own.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace grid {

// MATPOWER's bus types.
enum BusType : int { kPQ = 1, kPV = 2, kRef = 3, kIsolated = 4 };

inline constexpr double kInf = std::numeric_limits<double>::infinity();

struct Bus {
  int number = 0;       // BUS_I, the external number (positive)
  int type = kPQ;       // BUS_TYPE
  double pd = 0;        // PD, MW
  double qd = 0;        // QD, MVAr
  double gs = 0;        // GS, MW demanded at V = 1 p.u.
  double bs = 0;        // BS, MVAr injected at V = 1 p.u.
  int area = 1;         // BUS_AREA
  double vm = 1;        // VM, p.u.
  double va = 0;        // VA, degrees
  double base_kv = 0;   // BASE_KV, kV
  int zone = 1;         // ZONE
  double vmax = 1.1;    // VMAX, p.u.
  double vmin = 0.9;    // VMIN, p.u.
  std::string name;     // mpc.bus_name, or the PSS/E bus name; may be empty
};

struct Gen {
  int bus = 0;            // GEN_BUS (external number)
  double pg = 0;          // PG, MW
  double qg = 0;          // QG, MVAr
  double qmax = kInf;     // QMAX, MVAr (may be +Inf)
  double qmin = -kInf;    // QMIN, MVAr (may be -Inf)
  double vg = 1;          // VG, p.u.
  double mbase = 100;     // MBASE, MVA
  int status = 1;         // GEN_STATUS (> 0 in service)
  double pmax = kInf;     // PMAX, MW
  double pmin = 0;        // PMIN, MW
  // Columns 11..21 (PC1 .. APF), kept as read so an export writes them back.
  std::vector<double> extra;
  std::string id;         // PSS/E machine id; may be empty
  // Subtransient reactance X''d, p.u. on MBASE; 0 = not given (MATPOWER has
  // no such column; the short circuit then assumes 0.2).
  double x_subtransient = 0;
};

struct Branch {
  int from = 0;         // F_BUS
  int to = 0;           // T_BUS
  double r = 0;         // BR_R, p.u.
  double x = 0;         // BR_X, p.u.
  double b = 0;         // BR_B, total line charging, p.u.
  double rate_a = 0;    // RATE_A, MVA (0 = unlimited)
  double rate_b = 0;    // RATE_B, MVA
  double rate_c = 0;    // RATE_C, MVA
  double tap = 0;       // TAP, off-nominal ratio at the from end (0 = a line, ratio 1)
  double shift = 0;     // SHIFT, degrees
  int status = 1;       // BR_STATUS
  double angmin = -360; // ANGMIN, degrees
  double angmax = 360;  // ANGMAX, degrees
  std::string id;       // PSS/E circuit id; may be empty
  // What it is as stored in BVER: "line" or "transformer"; empty when a
  // reader built the case (then tap/shift and the end buses' base kV tell).
  std::string kind;
  // A transformer's rated winding voltages (kV) at the from and to ends;
  // 0 = not given.
  double from_kv = 0, to_kv = 0;
};

struct Load {
  int bus = 0;
  std::string id;   // PSS/E load id
  double p = 0;     // MW (constant power equivalent)
  double q = 0;     // MVAr
  int status = 1;
};

struct Shunt {
  int bus = 0;
  std::string id;   // PSS/E shunt id, or "switched"
  double g = 0;     // MW at V = 1 p.u.
  double b = 0;     // MVAr at V = 1 p.u.
  int status = 1;
};

// A two-terminal DC line in MATPOWER's dcline layout (idx_dcline columns
// 1-17), modelled in the power flow as toggle_dcline does: a dummy generator
// at each end (PG = -PF at the from bus, PT = PF - (LOSS0 + LOSS1 * PF) at
// the to bus) holding VF / VT within the Q limits.
struct DcLine {
  int from = 0;          // F_BUS
  int to = 0;            // T_BUS
  int status = 1;        // BR_STATUS
  double pf = 0;         // PF, MW leaving the from bus
  double pt = 0;         // PT, MW arriving at the to bus
  double qf = 0;         // QF, MVAr injected at the from bus
  double qt = 0;         // QT, MVAr injected at the to bus
  double vf = 1;         // VF, p.u.
  double vt = 1;         // VT, p.u.
  double pmin = 0;       // PMIN, MW
  double pmax = 0;       // PMAX, MW
  double qminf = 0, qmaxf = 0;  // QMINF, QMAXF, MVAr
  double qmint = 0, qmaxt = 0;  // QMINT, QMAXT, MVAr
  double loss0 = 0;      // LOSS0, MW
  double loss1 = 0;      // LOSS1, MW/MW
};

struct Case {
  double base_mva = 100;
  std::vector<Bus> bus;
  std::vector<Gen> gen;
  std::vector<Branch> branch;
  std::vector<Load> loads;    // optional detail, see above
  std::vector<Shunt> shunts;  // optional detail, see above
  std::vector<DcLine> dclines;
  std::string name;           // the case's name (the .m function name), may be empty
  std::vector<std::string> warnings;  // what a reader dropped or assumed
};

// Where a reader stopped: 1-based line and column of the offending token.
struct ParseError {
  int line = 0;
  int column = 0;
  std::string message;
};

}  // namespace grid
