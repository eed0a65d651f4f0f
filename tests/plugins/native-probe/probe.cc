// A native test plugin exercising plugin.hpp and the host callbacks:
//   test.resolve  resolves input.pointer through the host and logs a line
//   test.throw    logs, then throws a std::runtime_error (caught at the boundary)
//   test.refuse   throws bver::plugin::Error("not_found", ...)
#include <stdexcept>

#include "bver/plugin/plugin.hpp"

namespace {

nlohmann::json Probe(const nlohmann::json& request) {
  const std::string cap = request.at("capability");
  if (cap == "test.resolve") {
    std::string pointer = request.at("input").at("pointer");
    bver::plugin::Log(BVER_LOG_INFO, "resolving " + pointer);
    std::string error;
    auto ref = bver::plugin::Resolve(pointer, &error);
    return {{"metrics", {{"found", ref.has_value()}, {"ref", ref ? *ref : nlohmann::json(nullptr)}, {"error", error}}}};
  }
  if (cap == "test.throw") {
    bver::plugin::Log(BVER_LOG_WARN, "about to throw");
    throw std::runtime_error("something broke inside");
  }
  throw bver::plugin::Error("not_found", "no such thing as " + cap);
}

}  // namespace

BVER_PLUGIN("native-probe", "0.1.0", Probe)
