// grid.resolve and grid.substation: from the words and the nameplates
// engineers use to the references of a network (docs/electrical.md).
#include <string>
#include <vector>

#include "bver/plugin/plugin.hpp"
#include "packs/electrical/plugin/common.h"
#include "packs/electrical/plugin/studies.h"
#include "packs/electrical/src/resolve.h"
#include "packs/electrical/src/substation.h"

namespace grid_plugin {

using bver::plugin::Error;

json Resolve(const json& request) {
  const json& input = request.at("input");
  const std::string net = input.at("network").get<std::string>();
  std::vector<std::string> queries;
  if (input.contains("query")) queries.push_back(input["query"].get<std::string>());
  if (input.contains("queries")) {
    for (const json& q : input["queries"]) queries.push_back(q.get<std::string>());
  }
  if (queries.empty()) throw Error("invalid_argument", "input: give query (one name) or queries (a list of names)");
  grid::EquipmentIndex index;
  std::string error;
  if (!index.Build(Related(request, net), &error)) {
    throw Error("failed_precondition", "network " + net + ": " + error);
  }
  const int max_candidates = input.value("max_candidates", 5);
  json pointers = json::array();
  json matches = json::array();
  for (const std::string& q : queries) {
    grid::ResolveMatch m = index.Resolve(q, max_candidates);
    if (!m.pointer.empty()) pointers.push_back(m.pointer);
    json candidates = json::array();
    for (const grid::ResolveCandidate& c : m.candidates) {
      candidates.push_back({{"pointer", c.pointer}, {"pinned", c.pinned}, {"label", c.label}, {"score", c.score}});
    }
    json e = {{"query", q}, {"confidence", m.confidence}, {"candidates", std::move(candidates)}};
    if (!m.pointer.empty()) e["pointer"] = m.pointer;
    if (!m.message.empty()) e["message"] = m.message;
    matches.push_back(std::move(e));
  }
  return {{"pointers", std::move(pointers)}, {"matches", std::move(matches)}};
}

json Substation(const json& request) {
  const json& input = request.at("input");
  const std::string net = input.at("network").get<std::string>();
  const json& network = Resolved(request, net);
  json creates, summary;
  std::string error;
  if (!grid::SubstationCreates(input, network.at("body"), grid::Unpinned(net).substr(std::string("bver://grid/network/").size()),
                               Related(request, net), &creates, &summary, &error)) {
    throw Error("invalid_argument", error + " (nothing was created)");
  }
  const std::string line = "substation " + summary.value("substation", std::string()) + ": " +
                           std::to_string(creates.size()) + " element(s) created, " +
                           std::to_string(summary.value("already_there", 0)) + " already there";
  return {{"changeset", {{"creates", std::move(creates)}, {"patches", json::array()}, {"deletes", json::array()}}},
          {"summary", line},
          {"details", std::move(summary)}};
}

}  // namespace grid_plugin
