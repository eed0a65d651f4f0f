// What the electrical plugin's capabilities share: reading the request
// (the network and its elements, pinned), hashing attachments, and building
// the changeset of a study. Internal to the plugin.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "packs/electrical/src/case.h"
#include "packs/electrical/src/model.h"
#include "packs/electrical/src/powerflow.h"

namespace grid_plugin {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

inline constexpr const char* kVersion = "1.0.0";

double MsSince(Clock::time_point t);

// "sha256:<hex>" of data.
std::string Sha256(const std::string& data);

// {digest, media_type, content}: a file the runtime stores as an artifact.
json Attachment(const std::string& content, const char* media_type);

// The resolved reference of input pointer `pointer` ({pointer, kind, body});
// failed_precondition when the job did not resolve it.
const json& Resolved(const json& request, const std::string& pointer);

// The references pointing at `pointer` (the request's `related`), or [].
const json& Related(const json& request, const std::string& pointer);

// The Case of the network input.<field> names, from the pinned references;
// failed_precondition naming the element when they are inconsistent.
grid::Case LoadNetwork(const json& request, grid::ElementPointers* pointers, const char* field = "network");

// The power-flow options of an input (enforce_q_limits, start, dc,
// tolerance, max_iterations), defaults as MATPOWER's.
grid::PowerFlowOptions PowerFlowOptionsFrom(const json& input);
json PowerFlowSettings(const grid::PowerFlowOptions& o);

// "<prefix>-<job id>": a study's id, one per job.
std::string StudyId(const char* prefix, const json& request);

// "capability@version" of this request.
std::string CapabilityOf(const json& request);

// A changeset of one create.
json CreateOne(const char* repo, const char* kind, const std::string& id, json body);

// A bus's label for people: "bus 4 (RIVERSIDE)".
std::string BusLabel(const grid::Bus& b);
// A branch's: "branch 4-7 (1)".
std::string BranchLabel(const grid::Branch& br);

}  // namespace grid_plugin
