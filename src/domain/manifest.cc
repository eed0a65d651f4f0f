#include "src/domain/manifest.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "src/core/canonical_json.h"
#include "src/core/digest.h"

namespace bver::domain {
namespace {

using nlohmann::json;

json OperationJson(const Operation& o) {
  return json{{"id", o.id},
              {"summary", o.summary},
              {"target", o.target},
              {"scopes", o.scopes},
              {"read_only", o.read_only},
              {"destructive", o.destructive},
              {"idempotent", o.idempotent}};
}

json RepoJson(const Repo& r) {
  json kinds = json::array();
  for (const Kind& k : r.kinds) {
    json kind = {{"name", k.name},
                 {"description", k.description},
                 {"schema_id", r.ns + "." + r.name + "." + k.name + "@" + r.schema_version},
                 {"extension", *k.extension},
                 {"schema", *k.effective_schema}};
    if (!k.renamed_from.empty()) kind["renamed_from"] = k.renamed_from;
    if (!k.figments.empty()) kind["figments"] = k.figments;
    kinds.push_back(std::move(kind));
  }
  json pointers = json::array();
  for (const PointerField& f : r.pointers) {
    pointers.push_back(json{{"path", f.path}, {"target", f.target}});
  }
  json out = json{{"namespace", r.ns},
              {"name", r.name},
              {"description", r.description},
              {"schema_id", r.ns + "." + r.name + "@" + r.schema_version},
              {"schema_version", r.schema_version},
              {"schema", *r.schema},
              {"kinds", kinds},
              {"kind_required", r.kind_required},
              {"scopes", json{{"read", r.read_scope}, {"write", r.write_scope}}},
              {"pointers", pointers},
              {"artifacts", r.artifact_fields}};
  // Provenance keys only when present, so a domain without figments keeps
  // the fingerprint it had before figments existed.
  if (!r.figments.empty()) out["figments"] = r.figments;
  return out;
}

}  // namespace

json ToManifest(const Platform& p) {
  json namespaces = json::array();
  for (const Namespace& n : p.namespaces) {
    namespaces.push_back(
        json{{"name", n.name}, {"owner", n.owner}, {"description", n.description}, {"repos", n.repos}});
  }
  json repos = json::array();
  for (const Repo& r : p.repos) repos.push_back(RepoJson(r));
  json caps = json::array();
  for (const Capability& c : p.capabilities) {
    caps.push_back(json{{"id", c.id},
                        {"type", PrimitiveName(c.primitive)},
                        {"version", c.version},
                        {"plugin", c.plugin},
                        {"description", c.description},
                        {"deterministic", c.deterministic},
                        {"input", json{{"schema_id", c.id + ".input@" + c.version},
                                       {"schema", *c.input_schema}}},
                        {"output", json{{"schema_id", c.id + ".output@" + c.version},
                                        {"schema", *c.output_schema}}},
                        {"writes", c.writes},
                        {"reads", c.reads},
                        {"requires_labels", c.requires_labels}});
    if (!c.figments.empty()) caps.back()["figments"] = c.figments;
  }
  json jobs = json::array();
  for (const Job& j : p.jobs) {
    jobs.push_back(json{{"name", j.name},
                        {"capability", j.capability},
                        {"description", j.description},
                        {"on_conflict", ConflictPolicyName(j.on_conflict)},
                        {"timeout_seconds", j.timeout_seconds},
                        {"max_retries", j.max_retries},
                        {"scope", j.scope}});
  }
  json orchs = json::array();
  for (const Orchestrator& o : p.orchestrators) {
    json steps = json::array();
    for (const Step& s : o.steps) {
      steps.push_back(json{{"id", s.id},
                           {"op", s.op},
                           {"input", *s.input},
                           {"after", s.after},
                           {"when", s.when},
                           {"for_each", s.for_each},
                           {"retries", s.retries}});
    }
    orchs.push_back(json{{"name", o.name},
                         {"description", o.description},
                         {"input", json{{"schema_id", "orch." + o.name + ".input@" + p.version},
                                        {"schema", *o.input_schema}}},
                         {"steps", steps},
                         {"scope", o.scope}});
    if (!o.figment.empty()) orchs.back()["figment"] = o.figment;
  }
  json triggers = json::array();
  for (const Trigger& t : p.triggers) {
    triggers.push_back(json{{"name", t.name},
                            {"on", json{{"channel", t.on.channel},
                                        {"event_type", t.on.event_type},
                                        {"repo", t.on.repo},
                                        {"kind", t.on.kind},
                                        {"changed", t.on.changed},
                                        {"ignore_changes", t.on.ignore_changes}}},
                            {"start", t.start},
                            {"input", *t.input}});
    if (!t.figment.empty()) triggers.back()["figment"] = t.figment;
  }
  json ops = json::array();
  for (const Operation& o : p.operations) ops.push_back(OperationJson(o));
  std::vector<std::string> plugins;
  for (const Capability& c : p.capabilities) {
    if (std::find(plugins.begin(), plugins.end(), c.plugin) == plugins.end()) {
      plugins.push_back(c.plugin);
    }
  }
  std::sort(plugins.begin(), plugins.end());
  json out = json{{"manifest_format", kManifestFormat},
              {"runtime_api", kRuntimeApiLevel},
              {"platform", json{{"id", p.id}, {"version", p.version}, {"description", p.description}}},
              {"namespaces", namespaces},
              {"repos", repos},
              {"capabilities", caps},
              {"jobs", jobs},
              {"orchestrators", orchs},
              {"triggers", triggers},
              {"operations", ops},
              {"scopes", p.AllScopes()},
              {"requires", json{{"plugins", plugins}}}};
  // Only when declared, so a domain without transforms keeps its fingerprint.
  if (!p.migrations.empty()) {
    json migrations = json::array();
    for (const Transform& t : p.migrations) {
      migrations.push_back(json{{"name", t.name}, {"from", t.from}, {"repo", t.repo}, {"kind", t.kind},
                                {"steps", *t.steps}});
    }
    out["migrations"] = std::move(migrations);
  }
  if (!p.figments.empty()) {
    json figments = json::array();
    for (const Figment& f : p.figments) {
      figments.push_back(json{{"id", f.id},
                              {"version", f.version},
                              {"description", f.description},
                              {"schema", *f.schema},
                              {"rules", *f.rules},
                              {"triggers", *f.triggers},
                              {"orchestrators", *f.orchestrators},
                              {"used_by", f.used_by}});
    }
    out["figments"] = std::move(figments);
  }
  return out;
}

Result<std::string> ManifestFingerprint(const json& manifest) {
  return core::JsonDigest(manifest);
}

Status WriteFileAtomic(const std::string& path, const std::string& content) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return InvalidArgumentError("cannot write " + path + ": " + std::strerror(errno));
  }
  const char* p = content.data();
  std::size_t left = content.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return InvalidArgumentError("cannot write " + path + ": " + std::strerror(err));
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return InvalidArgumentError("cannot write " + path + ": " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return InvalidArgumentError("cannot write " + path + ": " + std::strerror(err));
  }
  return Status::Ok();
}

Result<CompileOutputs> WriteCompiled(const Platform& platform, const std::string& source_file,
                                     const std::string& out_dir) {
  json manifest = ToManifest(platform);
  BVER_ASSIGN_OR_RETURN(std::string fingerprint, ManifestFingerprint(manifest));
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return InvalidArgumentError("cannot create " + out_dir + ": " + ec.message());
  CompileOutputs out;
  out.fingerprint = fingerprint;
  out.manifest_path = (std::filesystem::path(out_dir) / "bver.manifest.json").string();
  out.platform_path = (std::filesystem::path(out_dir) / "platform.json").string();
  json compiled = json{{"format", "bver.platform/1"},
                       {"source", source_file},
                       {"manifest_fingerprint", fingerprint},
                       {"manifest", manifest}};
  // The platform file names the manifest by fingerprint, so it is written
  // second: a reader that finds it can trust the manifest beside it.
  BVER_RETURN_IF_ERROR(WriteFileAtomic(out.manifest_path, manifest.dump(2) + "\n"));
  BVER_RETURN_IF_ERROR(WriteFileAtomic(out.platform_path, compiled.dump(2) + "\n"));
  return out;
}

}  // namespace bver::domain
