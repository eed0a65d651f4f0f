// The bridge between the pack's in-memory Case and BVER references in
// namespace grid (examples/grid/bver.yaml declares the repos; see
// docs/electrical.md for every field and its unit).
//
//   Case  --ImportChangeset-->  creates of grid/network, bus, branch, generator,
//                               load, shunt, dcline (ids derived from the network id)
//   related references  --CaseFromReferences-->  Case + the pointer of each element
//
// Plain JSON in and out, no store: the native plugin calls these with the
// request it was given.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "packs/electrical/src/case.h"

namespace grid {

// The pointer of each element of a Case, by its index in the Case's lists.
struct ElementPointers {
  std::string network;             // bver://grid/network/ID (pinned when read back)
  std::vector<std::string> bus, branch, gen, load, shunt, dcline;
  std::size_t elements() const {
    return bus.size() + branch.size() + gen.size() + load.size() + shunt.size() + dcline.size();
  }
};

// The body of the network reference for `c`.
nlohmann::json NetworkBody(const Case& c, const std::string& name, const nlohmann::json& source);

// Every create of an import of `c` as network `network_id`, in one list
// (network first, then buses, branches, generators, loads, shunts, DC lines).
// Loads and shunts come from Case::loads / Case::shunts when the reader
// filled them, else one per bus with a non-zero PD/QD (GS/BS).
nlohmann::json ImportCreates(const Case& c, const std::string& network_id, const nlohmann::json& network_body,
                             ElementPointers* pointers);

// Rebuilds the Case of a network from its reference body and the references
// pointing at it (the request's `related` list: {pointer, kind, body}),
// ordered by `seq`. Bus totals PD/QD/GS/BS are the sums of the in-service
// loads and shunts. Returns false with *error naming the offending pointer
// when an element is inconsistent (a branch to a bus of another network, two
// buses with one number, ...).
bool CaseFromReferences(const nlohmann::json& network, const nlohmann::json& related, Case* out,
                        ElementPointers* pointers, std::string* error);

// "bver://grid/bus/x~3@a" -> "bver://grid/bus/x".
std::string Unpinned(const std::string& pointer);

}  // namespace grid
