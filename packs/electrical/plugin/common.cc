#include "packs/electrical/plugin/common.h"

#include <openssl/evp.h>

#include "bver/plugin/plugin.hpp"

namespace grid_plugin {

using bver::plugin::Error;

double MsSince(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::string Sha256(const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr) != 1) {
    throw Error("internal", "SHA-256 failed");
  }
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

json Attachment(const std::string& content, const char* media_type) {
  return {{"digest", Sha256(content)}, {"media_type", media_type}, {"content", content}};
}

const json& Resolved(const json& request, const std::string& pointer) {
  // find(), not value(): value() copies, and these hold whole networks.
  auto resolved = request.find("resolved");
  auto it = resolved == request.end() ? request.end() : resolved->find(pointer);
  if (resolved == request.end() || it == resolved->end()) {
    throw Error("failed_precondition", pointer + " was not resolved for this job");
  }
  return *it;
}

const json& Related(const json& request, const std::string& pointer) {
  static const json kNone = json::array();
  auto related = request.find("related");
  if (related != request.end() && related->is_object()) {
    if (auto rel = related->find(pointer); rel != related->end()) return *rel;
  }
  return kNone;
}

grid::Case LoadNetwork(const json& request, grid::ElementPointers* pointers, const char* field) {
  const std::string net = request.at("input").at(field).get<std::string>();
  const json& network = Resolved(request, net);
  grid::Case c;
  std::string why;
  if (!grid::CaseFromReferences(network, Related(request, net), &c, pointers, &why)) {
    throw Error("failed_precondition", "network " + net + " is not consistent: " + why);
  }
  return c;
}

grid::PowerFlowOptions PowerFlowOptionsFrom(const json& input) {
  grid::PowerFlowOptions o;
  o.enforce_q_limits = input.value("enforce_q_limits", false);
  o.flat_start = input.value("start", std::string("case")) == "flat";
  o.dc = input.value("dc", false);
  o.tolerance = input.value("tolerance", 1e-8);
  o.max_iterations = input.value("max_iterations", 10);
  return o;
}

json PowerFlowSettings(const grid::PowerFlowOptions& o) {
  return {{"enforce_q_limits", o.enforce_q_limits}, {"start", o.flat_start ? "flat" : "case"},
          {"dc", o.dc}, {"tolerance", o.tolerance}, {"max_iterations", o.max_iterations}};
}

std::string StudyId(const char* prefix, const json& request) {
  auto job = request.find("job");
  std::string id = job != request.end() && job->is_object() ? job->value("id", std::string("local")) : "local";
  return std::string(prefix) + "-" + id;
}

std::string CapabilityOf(const json& request) {
  return request.value("capability", std::string()) + "@" + request.value("version", std::string(kVersion));
}

json CreateOne(const char* repo, const char* kind, const std::string& id, json body) {
  json create = {{"repo", repo}, {"id", id}, {"body", std::move(body)}};
  if (kind != nullptr) create["kind"] = kind;
  return {{"creates", json::array({std::move(create)})}, {"patches", json::array()}, {"deletes", json::array()}};
}

std::string BusLabel(const grid::Bus& b) {
  std::string s = "bus " + std::to_string(b.number);
  if (!b.name.empty()) s += " (" + b.name + ")";
  return s;
}

std::string BranchLabel(const grid::Branch& br) {
  std::string s = "branch " + std::to_string(br.from) + "-" + std::to_string(br.to);
  if (!br.id.empty()) s += " (" + br.id + ")";
  return s;
}

}  // namespace grid_plugin
