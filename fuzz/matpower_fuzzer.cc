// libFuzzer target: arbitrary bytes as a MATPOWER case file (grid.import's
// reader, packs/electrical/src/matpower.cc).
//
// Invariants checked (a violation aborts, which libFuzzer reports):
//  - reading never crashes, leaks, hangs or trips UBSan;
//  - a failure names a line and a column >= 1 and says something;
//  - a success writes back (WriteMatpower) to text that reads again to the
//    same numbers of buses, generators and branches.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "packs/electrical/src/matpower.h"

namespace {

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "invariant failed: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  grid::Case c;
  grid::ParseError e;
  if (!grid::ReadMatpower(text, &c, &e)) {
    Check(e.line >= 1 && e.column >= 1, "a failure names line and column");
    Check(!e.message.empty(), "a failure says what was wrong");
    return 0;
  }
  grid::Case again;
  Check(grid::ReadMatpower(grid::WriteMatpower(c), &again, &e), "what was written reads back");
  Check(again.bus.size() == c.bus.size() && again.gen.size() == c.gen.size() &&
            again.branch.size() == c.branch.size(),
        "the written case has the same elements");
  return 0;
}
