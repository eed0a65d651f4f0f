// Shared output helpers for CLI subcommands.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bver/status.h"

namespace bver::cli {

struct Output {
  std::ostream& out;
  std::ostream& err;
  bool json = false;

  // Prints a failed Status (as {"error": ...} on stdout with --json, as
  // text on stderr otherwise) and returns its exit code.
  int Fail(const Status& status) const;
  // Prints a JSON document on one line.
  void Json(const nlohmann::json& value) const;
};

nlohmann::json StatusToJson(const Status& status);

// Whether a person can be asked: standard input and standard error are
// terminals. Commands that destroy data ask only then, and otherwise want
// --yes.
bool CanAsk();

// Prints `question` on `err`, reads one line from standard input and
// answers whether it is one of `accepted` (blanks around it ignored).
bool Confirm(std::ostream& err, const std::string& question, const std::vector<std::string>& accepted);

}  // namespace bver::cli
