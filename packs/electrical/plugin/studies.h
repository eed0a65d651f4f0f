// The electrical plugin's capabilities beyond import, export and power flow
// (docs/electrical.md): each takes the request and returns the output.
#pragma once

#include <nlohmann/json.hpp>

namespace grid_plugin {

// studies.cc
nlohmann::json Contingency(const nlohmann::json& request);   // grid.contingency (simulator)
nlohmann::json ShortCircuit(const nlohmann::json& request);  // grid.shortcircuit (simulator)
nlohmann::json Check(const nlohmann::json& request);         // grid.check (validator)
nlohmann::json Evaluate(const nlohmann::json& request);      // grid.evaluate (evaluator)

// design.cc
nlohmann::json Resolve(const nlohmann::json& request);    // grid.resolve (resolver)
nlohmann::json Substation(const nlohmann::json& request); // grid.substation (generator)

}  // namespace grid_plugin
