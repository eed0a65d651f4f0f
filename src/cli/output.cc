#include "src/cli/output.h"

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

}  // namespace bver::cli
