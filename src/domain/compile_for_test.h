// Helpers the domain tests share: compile YAML text, list a status's violations.
#pragma once

#include <string>

#include "bver/status.h"
#include "src/domain/compiler.h"

namespace bver::domain::testing {

inline Result<Platform> CompileText(const std::string& text) {
  BVER_ASSIGN_OR_RETURN(SourceDocument doc, ParseYaml(text, "test.yaml"));
  return Compile(doc);
}

// Every violation as "path: message" lines, for matching.
inline std::string AllErrors(const Status& s) {
  std::string out;
  for (const Violation& v : s.violations()) out += v.path + ": " + v.message + "\n";
  return out;
}

}  // namespace bver::domain::testing
