// The `bver` command line. Each subcommand is a thin call into a module;
// this folder owns only argument parsing and output (human by default,
// --json for scripts).
//
// Exit codes (src/core/status_map.h): 0 ok, 1 a domain error (invalid input,
// not found, conflict, refused destructive plan), 2 usage, 3 environment or
// internal failure.
#pragma once

#include <iosfwd>

namespace bver::cli {

// Runs the command line; returns the process exit code. Output goes to
// `out` and diagnostics to `err`.
int Run(int argc, const char* const* argv, std::ostream& out, std::ostream& err);

}  // namespace bver::cli
