// PSS/E RAW power flow data (revisions 29 to 33): reader.
//
// ReadPsse converts a RAW file into a Case the way MATPOWER's psse2mpc
// (lib/psse2mpc.m and the psse_*.m it calls) does, so that the bus, gen,
// branch and dcline tables are psse2mpc's, row for row and value for value:
//
//   bus     sorted by number; type IDE, area, zone, VM, VA, BASKV. PD/QD the
//           in-service loads PL + IP*VM + YP*VM^2 and QL + IQ*VM - YQ*VM^2 at
//           the RAW VM. GS/BS: the bus record's GL/BL (REV <= 30) or the
//           in-service fixed shunts (REV >= 31), plus every switched shunt's
//           BINIT (field 7 for REV 29, 8 for 30-31, 10 for 32-33; modes and
//           blocks ignored; for REV >= 32 its STAT too, as psse2mpc does, with
//           a warning), plus the line shunts GI/BI (from end) and GJ/BJ (to
//           end) of the in-service branches times SBASE.
//           VMAX/VMIN: NVHI/NVLO when every bus record has them (REV >= 31),
//           else 1.1/0.9 with psse2mpc's warning.
//   gen     in file order: PG QG QT QB VS MBASE STAT PT PB (QT/QB -> QMAX/QMIN,
//           PT/PB -> PMAX/PMIN), columns 11-21 zero (Gen::extra, 11 zeros).
//   branch  the branch records (R X B RATEA-C ST, |J| as T_BUS, TAP 0), then
//           the 2-winding transformers, then 3 rows per 3-winding transformer
//           (winding 1, 2, 3 to its star bus), each block in file order.
//           Transformers follow CW 1-3 (TAP = WINDV1/WINDV2, scaled by the bus
//           and nominal kV), CZ 1-3 (impedances to the system base, CZ 3 from
//           load loss and |Z|), ANG -> SHIFT, RATA-C, STAT (3-winding: 0 all
//           off, 2/3/4 winding 2/3/1 off); B = 0 (MAG1/MAG2 ignored).
//           A 3-winding transformer gets a star bus, numbered from the next
//           power of ten above the largest bus number (10^ceil(log10(max+1))
//           + 1, + 2, ...), appended after the sorted buses: type 1 (4 when
//           STAT = 0), VM/VA = VMSTAR/ANSTAR, area/zone of its winding-1 bus,
//           BASE_KV 1, limits 1.1/0.9, name "STR_PT_XF_<k>".
//   dcline  one per two-terminal DC line (mpc.dcline): rectifier -> inverter
//           bus, status 0 when MDC = 0, PF = PT = SETVL (MDC 1) or
//           SETVL*VSCHD/1000 (MDC 2), PMIN/PMAX 0.85/1.15 PF, VF/VT the RAW VM
//           of the end buses, Q limits from the firing angles, lossless.
//
// Beyond psse2mpc's tables: Bus::name is the RAW name trimmed (psse2mpc
// keeps the padding); Gen::id and Branch::id the machine and circuit ids
// trimmed (3-winding rows carry the transformer's CKT); Case::loads the
// in-service loads (p/q as added to PD/QD); Case::shunts every element
// added to GS/BS: in-service fixed shunts (id from the record; "GL/BL" for
// a REV <= 30 bus record with a non-zero GL or BL), switched shunts (id
// "switched", g 0, b BINIT) and the non-zero line shunts of in-service
// branches (id "line <I>-<J> <CKT>", at either end, g/b times SBASE). Per
// bus, they sum to PD/QD and GS/BS (up to rounding: psse2mpc groups the sums
// differently). Case::warnings: psse2mpc's warnings ("Skipped 5 lines of
// zone data.", "Section label mismatch, ...", "Using default voltage
// magnitude limits ...", "Added buses 100001-100004 as star-points ...",
// "Found 2 additional section(s)", the change case IC != 0) and ours.
//
// Revision: the REV field (3rd) of line 1; else "PSS/E-NN", "PSS(tm)E-NN",
// "PSS(R)E-NN" or "PSS®E-NN" in line 1's comment (any case); else an error
// (psse2mpc assumes 23). Only 29-33 are read; any other REV is an error
// ("PSS/E revision 35 is not supported (29-33)"): v34/v35 files differ
// in layout and would be misread.
//
// Text: lines end at \n, \r\n or \r; fields are separated by a comma
// and/or blanks (space, tab), ",," (or a leading ",") is an empty field
// and takes PSS/E's default; a field in single or double quotes may hold
// commas, blanks and '/' (a doubled quote stands for itself and is kept as
// it is, as psse2mpc does); '/' outside quotes starts a comment. Lines 1-3
// are the case identification. A section ends at a line holding just "0"
// (blanks and a "/ comment" allowed), whose "END OF <name> DATA" comment is
// checked against the expected section, or at a "Q" in column 1, which also
// ends the data (what follows is ignored). Blank and comment-only lines in
// a section are skipped. A transformer is 4 lines (K = 0) or 5 (K != 0), a
// two-terminal DC line 3. A text that ends (or meets Q) before all of the
// revision's sections is read with a warning naming the missing ones.
//
// Where this reader differs from psse2mpc, on purpose:
//   - Errors instead of psse2mpc's crashes or silent garbage: a field that
//     is not a number (psse2mpc keeps the number sscanf finds at its start,
//     or fails), a non-integer in an integer field, an unterminated quote, a
//     bus number that is not positive, a duplicate bus number, a load,
//     shunt, generator, branch, transformer or DC line at a bus that is not
//     in the bus data (psse2mpc warns and drops such branches and
//     transformers), a truncated multi-line record, a case without buses,
//     CW or CZ outside 1-3, a CW 2/3 or CZ 2/3 transformer at a bus with
//     BASKV 0, SBASE1-2 <= 0 with CZ 2/3, |Z| < R with CZ 3, NUL and other
//     control bytes ("binary data").
//   - A missing or empty field takes PSS/E's documented default (e.g. bus
//     VM 1, gen QT 9999, branch ST 1, transformer WINDV 1 or the bus kV when
//     CW = 2, SBASE1-2 = SBASE) where psse2mpc reads NaN. Fields with no
//     default (bus numbers, X, the DC setpoints and angles) are required.
//   - NOMV = 0 means the winding's bus base kV (PSS/E's rule) in the CW 3
//     tap and the CZ 2/3 impedance base; psse2mpc uses 0 (a NaN tap, a zero
//     impedance).
//   - A load, fixed shunt or branch counts when its status is not 0;
//     psse2mpc weighs PD, GS, ... by the status value (same for 0 and 1).
//   - Transformer type: K empty or numerically 0 is 2-winding (psse2mpc
//     looks for the text "0"). A leading tab is a blank (psse2mpc's regular
//     expression makes it an empty field). DC records are read by field
//     position (psse2mpc's columns shift when a DC line carries a comment).
//   - Blank and comment-only lines inside a section are skipped (psse2mpc
//     reads them as records of empty fields, i.e. NaN rows).
//   - Sections missing at the end of the text (or after Q) are read as
//     empty, with a warning (psse2mpc fails when one it parses is missing);
//     records of a parsed section that the text ends without a "0" or Q are
//     an error (psse2mpc silently drops them).
//   - The "END OF <name> DATA" label is checked for every section
//     (psse2mpc does not warn for the transformer and two-terminal DC ones).
//   - Buses, loads, ... are looked up among the RAW buses only (not star
//     buses).
//
// MATPOWER's tokenizer test file t_psse_case.raw (not a network; psse2mpc
// fails on it) answers a ParseError at line 1, column 1 ("expected an
// integer for IC (case identification), got 'Header'"): its first line,
// "Header 1", is no case identification.
#pragma once

#include <string_view>

#include "packs/electrical/src/case.h"

namespace grid {

// Reads a PSS/E RAW file (revisions 29 to 33) into *out, as described
// above. On failure returns false, leaves *out unchanged and fills *error
// (when not null) with the 1-based line and column (in bytes, a tab counting
// one) of the offending token and a message, without the position, saying
// what was expected, e.g. "expected a number for VM (bus record), got
// 'abc'" (at line 12, column 5). Never throws.
bool ReadPsse(std::string_view text, Case* out, ParseError* error);

}  // namespace grid
