// grid.substation: a substation from nameplate data -- voltage levels,
// transformers (MVA, impedance %, X/R), lines (length, per-km R, X, C),
// generators, loads -- as per-unit elements connected into a network.
// docs/electrical.md gives the conversions.
//
// Ids derive from the network and the substation (`<net>-<sub>-<kv>kv`,
// `<net>-<sub>-<name>`), and elements that already exist (in `related`) are
// not created again, so a rerun creates nothing new -- as the substation
// example's starter did.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace grid {

// `input` as grid.substation's (examples/grid/bver.yaml), `network_body` the
// network's body (base_mva), `network_id` its id, `related` its elements
// ({pointer, kind, body}). Fills *creates ([{repo, kind?, id, body}]) and
// *summary. False + *error naming the field (input.lines[0].length_km) and
// why; nothing is created then.
bool SubstationCreates(const nlohmann::json& input, const nlohmann::json& network_body, const std::string& network_id,
                       const nlohmann::json& related, nlohmann::json* creates, nlohmann::json* summary,
                       std::string* error);

}  // namespace grid
