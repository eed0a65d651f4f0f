// Shared output helpers for CLI subcommands.
#pragma once

#include <ostream>
#include <string>

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

}  // namespace bver::cli
