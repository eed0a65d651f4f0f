// MATPOWER case files (.m, case format version 2): reader and writer.
//
// A case file is a MATLAB function that fills a struct with data:
//
//   function mpc = case14
//   mpc.version = '2';
//   mpc.baseMVA = 100;
//   mpc.bus = [ 1 3 0 0 ... ; ... ];
//   mpc.bus_name = { 'Bus 1'; ... };
//
// The reader understands that data subset of MATLAB (numbers, Inf/NaN,
// matrices, cell arrays of strings, % comments, ... continuations); it does
// not evaluate code, so a case that computes its data (e.g. converts branch
// impedances from ohms with statements on mpc.branch(:, ...)) is refused
// with an error naming the statement.
#pragma once

#include <string>
#include <string_view>

#include "packs/electrical/src/case.h"

namespace grid {

// Reads a MATPOWER case (format version 2) into *out:
//   baseMVA; bus (13 columns; the result columns of a solved case are
//   ignored); gen (at least 10 columns; columns 11-21 kept in Gen::extra,
//   missing ones not invented); branch (at least 11 columns; ANGMIN/ANGMAX
//   default to -360/360 when absent; result columns 14+ ignored); dcline
//   (at least 17 columns; result columns 18+ ignored); bus_name (Bus::name).
// Case::name is the function name. Other fields (gencost, gentype, genfuel,
// areas, ...) are skipped; Case::warnings says what was dropped or assumed.
//
// On failure returns false, leaves *out unchanged and fills *error with the
// 1-based line and column (in bytes, a tab counting one) of the offending
// token and a message without the file name, e.g. "expected a number in
// mpc.branch row 4 column 3 (BR_R), got 'x'". Never throws.
bool ReadMatpower(std::string_view text, Case* out, ParseError* error);

// Writes a Case as a MATPOWER version 2 case file that ReadMatpower and
// MATPOWER read back to the same numbers: each double as the shortest text
// that round-trips, Inf as Inf, gen with 10 + (longest Gen::extra, at most
// 11) columns (a shorter extra padded with 0, MATPOWER's default), bus_name
// when any bus has a name, dcline when there are DC lines. The function
// name is Case::name made a valid MATLAB identifier ("bver_case" if empty);
// the file should be saved as <that name>.m for MATLAB to call it.
// Per-element detail MATPOWER has no place for (loads, shunts, PSS/E ids)
// is not written; the bus totals carry the loads and shunts.
std::string WriteMatpower(const Case& c);

}  // namespace grid
