// bver compile | plan
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <iomanip>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/core/status_map.h"
#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/domain/migration.h"
#include "src/runtime/operations.h"

namespace bver::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct DomainFlags {
  std::string file = "bver.yaml";
  std::string out_dir;
  std::string against;
  bool allow_destructive = false;
  bool json = false;
};

// The manifest of OLD: a bver.yaml (compiled now) or a bver.manifest.json /
// platform.json written earlier.
Result<json> LoadManifest(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  if (ext == ".json") {
    BVER_ASSIGN_OR_RETURN(std::string text, domain::ReadFileToString(path));
    json v = json::parse(text, nullptr, false);
    if (v.is_discarded() || !v.is_object()) {
      return InvalidArgumentError(path + ": not a JSON manifest");
    }
    if (v.contains("manifest") && v["manifest"].is_object()) return v["manifest"];
    if (v.value("manifest_format", "") != domain::kManifestFormat) {
      return InvalidArgumentError(path + ": not a bver manifest (manifest_format is not \"" +
                                  std::string(domain::kManifestFormat) + "\")");
    }
    return v;
  }
  BVER_ASSIGN_OR_RETURN(domain::Platform p, domain::CompileFile(path));
  return domain::ToManifest(p);
}

std::string DefaultOutDir(const std::string& file) {
  fs::path dir = fs::path(file).parent_path();
  return (dir / ".bver" / "build").string();
}

void PrintPlatformPlan(std::ostream& out, const domain::Platform& p, const std::string& fp) {
  out << "platform " << p.id << " " << p.version << "\n";
  out << "manifest fingerprint " << fp << "\n\n";
  out << "references (" << p.repos.size() << " repos)\n";
  for (const domain::Repo& r : p.repos) {
    out << "  " << r.qualified_name() << "  schema " << r.ns << "." << r.name << "@"
        << r.schema_version << "  scopes " << r.read_scope << " / " << r.write_scope << "\n";
    if (!r.kinds.empty()) {
      out << "    kinds" << (r.kind_required ? " (required)" : "") << ":";
      for (const domain::Kind& k : r.kinds) out << " " << k.name;
      out << "\n";
    }
    for (const domain::PointerField& f : r.pointers) {
      out << "    pointer " << f.path << " -> " << f.target << "\n";
    }
    for (const std::string& a : r.artifact_fields) out << "    artifact " << a << "\n";
  }
  out << "\noperations (" << p.operations.size() << ")\n";
  for (const domain::Operation& o : p.operations) {
    out << "  " << std::left << std::setw(28) << o.id << " "
        << (o.read_only ? "read " : (o.destructive ? "destr" : "write")) << "  ";
    for (std::size_t i = 0; i < o.scopes.size(); ++i) out << (i ? "," : "") << o.scopes[i];
    if (o.scopes.empty()) out << "(read scope of the target repo)";
    out << "\n";
  }
  out << "\ncapabilities (" << p.capabilities.size() << ")\n";
  for (const domain::Capability& c : p.capabilities) {
    out << "  " << c.id << "@" << c.version << "  " << domain::PrimitiveName(c.primitive)
        << "  plugin " << c.plugin << (c.deterministic ? "  deterministic" : "") << "\n";
  }
  out << "\njobs (" << p.jobs.size() << ")\n";
  for (const domain::Job& j : p.jobs) {
    out << "  " << j.name << " -> " << j.capability << "  on_conflict "
        << domain::ConflictPolicyName(j.on_conflict) << "  timeout " << j.timeout_seconds << "s\n";
  }
  out << "\norchestrators (" << p.orchestrators.size() << ")\n";
  for (const domain::Orchestrator& o : p.orchestrators) {
    out << "  " << o.name << ":";
    for (const domain::Step& s : o.steps) out << " " << s.id << "(" << s.op << ")";
    out << "\n";
  }
  out << "\ntriggers (" << p.triggers.size() << ")\n";
  for (const domain::Trigger& t : p.triggers) {
    out << "  " << t.name << ": " << (t.on.event_type.empty() ? "*" : t.on.event_type) << " on "
        << (t.on.repo.empty() ? "*" : t.on.repo) << (t.on.kind.empty() ? "" : "#" + t.on.kind)
        << " -> " << t.start << "\n";
  }
  json m = domain::ToManifest(p);
  out << "\nadapters required\n"
      << "  store: sqlite (embedded, .bver/bver.db) by default; postgresql:// with --store\n"
      << "  events: embedded outbox; NATS JetStream relay when events.nats_url is set\n"
      << "  plugins:";
  if (m["requires"]["plugins"].empty()) out << " none";
  for (const json& pl : m["requires"]["plugins"]) out << " " << pl.get<std::string>();
  out << "\n";
}

json PlatformPlanJson(const domain::Platform& p, const std::string& fp) {
  json m = domain::ToManifest(p);
  json repos = json::array();
  for (const json& r : m["repos"]) {
    json kinds = json::array();
    for (const json& k : r["kinds"]) kinds.push_back(k["name"]);
    repos.push_back({{"repo", r["namespace"].get<std::string>() + "/" + r["name"].get<std::string>()},
                     {"schema_id", r["schema_id"]},
                     {"kinds", kinds},
                     {"scopes", r["scopes"]},
                     {"pointers", r["pointers"]},
                     {"artifacts", r["artifacts"]}});
  }
  return {{"platform", m["platform"]},
          {"manifest_fingerprint", fp},
          {"repos", repos},
          {"operations", m["operations"]},
          {"capabilities", m["capabilities"]},
          {"jobs", m["jobs"]},
          {"orchestrators", m["orchestrators"]},
          {"triggers", m["triggers"]},
          {"adapters", {{"store", "sqlite"}, {"events", "outbox"}, {"plugins", m["requires"]["plugins"]}}}};
}

void PrintMigrationPlan(std::ostream& out, const domain::MigrationPlan& plan,
                        const std::string& against, const std::string& file) {
  out << "migration plan " << against << " (" << plan.from_version << ") -> " << file << " ("
      << plan.to_version << ")\n";
  if (plan.changes.empty()) {
    out << "  no changes\n";
    return;
  }
  for (const domain::Change& c : plan.changes) {
    out << "  " << std::left << std::setw(12) << domain::ChangeClassName(c.cls) << c.subject << ": "
        << c.what;
    if (!c.detail.empty()) out << " (" << c.detail << ")";
    out << "\n";
    for (const domain::Touches& t : c.touches) {
      out << "      touches " << t.repo << (t.kind.empty() ? "" : "#" + t.kind) << " where "
          << t.where << "\n";
    }
  }
  out << "summary: " << plan.Count(domain::ChangeClass::kAdditive) << " additive, "
      << plan.Count(domain::ChangeClass::kCompatible) << " compatible, "
      << plan.Count(domain::ChangeClass::kDestructive) << " destructive\n";
}

// bver.manifest.json lists every operation a runtime of this platform
// serves: the domain's (`operations`, which the fingerprint covers: it
// identifies what bver.yaml declares) and the kernel modules' own rows
// (`kernel_operations`: ingestion, consumers, runs by id, triggers), taken
// from the same registry the servers build. The count of the latter.
Result<std::size_t> AddKernelOperations(const domain::Platform& p, const std::string& manifest_path) {
  runtime::OperationTable::Bindings declare;
  declare.declare_every_row = true;
  BVER_ASSIGN_OR_RETURN(std::unique_ptr<runtime::OperationTable> table,
                        runtime::OperationTable::Build(std::make_shared<const domain::Platform>(p), declare));
  std::set<std::string> declared;
  for (const domain::Operation& op : p.operations) declared.insert(op.id);
  json kernel = json::array();
  for (const runtime::OperationRow& row : table->rows()) {
    if (declared.count(row.id) != 0) continue;
    json r = {{"id", row.id},           {"summary", row.summary},       {"scopes", row.scopes},
              {"read_only", row.read_only}, {"destructive", row.destructive}, {"idempotent", row.idempotent}};
    if (!row.http.method.empty()) r["http"] = row.http.method + " " + row.http.path;
    kernel.push_back(std::move(r));
  }
  std::ifstream in(manifest_path);
  std::stringstream text;
  text << in.rdbuf();
  json manifest = json::parse(text.str(), nullptr, false);
  if (!manifest.is_object()) return InternalError(manifest_path + " was just written but does not read back as JSON");
  manifest["kernel_operations"] = kernel;
  BVER_RETURN_IF_ERROR(domain::WriteFileAtomic(manifest_path, manifest.dump(2) + "\n"));
  return kernel.size();
}

}  // namespace

void RegisterDomainCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  {
    auto f = std::make_shared<DomainFlags>();
    auto* cmd = app.add_subcommand(
        "compile", "Check bver.yaml and write the compiled platform and bver.manifest.json");
    cmd->add_option("-f,--file", f->file, "The domain definition")->capture_default_str();
    cmd->add_option("-o,--out", f->out_dir, "Output folder (default: .bver/build beside the file)");
    cmd->add_flag("--json", f->json, "Print JSON");
    cmd->callback([&ctx, f] {
      ctx.action = [&ctx, f] {
        Output o{ctx.out, ctx.err, f->json};
        Result<domain::Platform> p = domain::CompileFile(f->file);
        if (!p.ok()) return o.Fail(p.status());
        std::string out_dir = f->out_dir.empty() ? DefaultOutDir(f->file) : f->out_dir;
        Result<domain::CompileOutputs> w = domain::WriteCompiled(*p, f->file, out_dir);
        if (!w.ok()) return o.Fail(w.status());
        Result<std::size_t> kernel = AddKernelOperations(*p, w->manifest_path);
        if (!kernel.ok()) return o.Fail(kernel.status());
        if (o.json) {
          o.Json({{"platform", p->id},
                  {"version", p->version},
                  {"manifest", w->manifest_path},
                  {"compiled", w->platform_path},
                  {"manifest_fingerprint", w->fingerprint}});
        } else {
          ctx.out << "compiled " << p->id << " " << p->version << ": " << p->repos.size()
                  << " repos, " << p->operations.size() << " operations (and " << *kernel
                  << " of the kernel's modules), "
                  << p->capabilities.size() << " capabilities\n"
                  << "wrote " << w->manifest_path << "\n"
                  << "wrote " << w->platform_path << "\n"
                  << "manifest fingerprint " << w->fingerprint << "\n";
        }
        return 0;
      };
    });
  }
  {
    auto f = std::make_shared<DomainFlags>();
    auto* cmd = app.add_subcommand(
        "plan", "Print what bver.yaml declares and what will be generated; with --against, the "
                "migration plan from an older definition");
    cmd->add_option("-f,--file", f->file, "The domain definition")->capture_default_str();
    cmd->add_option("--against", f->against,
                    "An older bver.yaml or bver.manifest.json to plan the migration from");
    cmd->add_flag("--allow-destructive", f->allow_destructive,
                  "Accept destructive changes (exit 0 even when the plan has some)");
    cmd->add_flag("--json", f->json, "Print JSON");
    cmd->callback([&ctx, f] {
      ctx.action = [&ctx, f] {
        Output o{ctx.out, ctx.err, f->json};
        Result<domain::Platform> p = domain::CompileFile(f->file);
        if (!p.ok()) return o.Fail(p.status());
        json manifest = domain::ToManifest(*p);
        Result<std::string> fp = domain::ManifestFingerprint(manifest);
        if (!fp.ok()) return o.Fail(fp.status());
        if (f->against.empty()) {
          if (o.json) {
            o.Json(PlatformPlanJson(*p, *fp));
          } else {
            PrintPlatformPlan(ctx.out, *p, *fp);
          }
          return 0;
        }
        Result<json> old = LoadManifest(f->against);
        if (!old.ok()) return o.Fail(old.status().WithPrefix("--against"));
        domain::MigrationPlan plan = domain::PlanMigration(*old, manifest);
        bool refused = plan.HasDestructive() && !f->allow_destructive;
        if (o.json) {
          json j = domain::MigrationPlanToJson(plan);
          j["accepted"] = !refused;
          o.Json(j);
        } else {
          PrintMigrationPlan(ctx.out, plan, f->against, f->file);
          if (refused) {
            ctx.err << "error: the plan has " << plan.Count(domain::ChangeClass::kDestructive)
                    << " destructive change(s); review them, then pass --allow-destructive to "
                       "accept\n";
          }
        }
        return refused ? core::kExitDomainError : 0;
      };
    });
  }
}

}  // namespace bver::cli
