// libFuzzer target: arbitrary bytes as a PSS/E RAW file (grid.import's
// reader, packs/electrical/src/psse.cc).
//
// Invariants checked (a violation aborts, which libFuzzer reports):
//  - reading never crashes, leaks, hangs or trips UBSan;
//  - a failure names a line and a column >= 1 and says something;
//  - a success gives a case whose generators and branches name its buses.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string_view>

#include "packs/electrical/src/psse.h"

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
  if (!grid::ReadPsse(text, &c, &e)) {
    Check(e.line >= 1 && e.column >= 1, "a failure names line and column");
    Check(!e.message.empty(), "a failure says what was wrong");
    return 0;
  }
  std::set<int> buses;
  for (const grid::Bus& b : c.bus) buses.insert(b.number);
  for (const grid::Gen& g : c.gen) Check(buses.count(g.bus) == 1, "a generator names a bus of the case");
  for (const grid::Branch& b : c.branch) {
    Check(buses.count(b.from) == 1 && buses.count(b.to) == 1, "a branch names buses of the case");
  }
  return 0;
}
