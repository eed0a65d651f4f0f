#include "src/cli/output.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "src/core/status_map.h"

namespace bver::cli {

nlohmann::json StatusToJson(const Status& status) {
  nlohmann::json violations = nlohmann::json::array();
  for (const Violation& v : status.violations()) {
    violations.push_back({{"path", v.path}, {"rule", v.rule}, {"message", v.message}});
  }
  return {{"error",
           {{"code", std::string(StatusCodeName(status.code()))},
            {"message", status.message()},
            {"violations", violations}}}};
}

int Output::Fail(const Status& status) const {
  if (json) {
    out << StatusToJson(status).dump() << "\n";
  } else {
    err << "error: " << status.message() << "\n";
    for (const Violation& v : status.violations()) {
      err << "  " << (v.path.empty() ? std::string("(root)") : v.path) << ": " << v.message;
      if (!v.rule.empty()) err << " [" << v.rule << "]";
      err << "\n";
    }
  }
  return core::ExitCodeFor(status.code());
}

void Output::Json(const nlohmann::json& value) const { out << value.dump() << "\n"; }

bool CanAsk() { return ::isatty(STDIN_FILENO) && ::isatty(STDERR_FILENO); }

bool Confirm(std::ostream& err, const std::string& question, const std::vector<std::string>& accepted) {
  err << question << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  const std::size_t first = answer.find_first_not_of(" \t\r");
  if (first == std::string::npos) return false;
  answer = answer.substr(first, answer.find_last_not_of(" \t\r") - first + 1);
  return std::find(accepted.begin(), accepted.end(), answer) != accepted.end();
}

}  // namespace bver::cli
