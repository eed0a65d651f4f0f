// bver plugins install | list | show | remove: the project's plugin registry
// (src/plugin/registry.h, docs/plugins.md); bver doctor: whether the install
// is healthy (src/server/health.h) and what this machine offers plugins.
#include <algorithm>
#include <filesystem>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bver/plugin/abi.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/store_command.h"
#include "src/domain/compiler.h"
#include "src/plugin/compat.h"
#include "src/plugin/registry.h"
#include "src/plugin/runner.h"
#include "src/store/store.h"
#include "src/server/health.h"
#include "src/server/runtime.h"

namespace bver::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// What every plugins subcommand works with: the registry from the
// composition root, and the domain when it compiles.
struct PluginEnv {
  std::unique_ptr<server::PluginRegistry> opened;
  plugin::Registry* registry = nullptr;      // opened->registry
  std::optional<domain::Platform> platform;  // absent when bver.yaml does not compile
  Status platform_status;
};

Result<PluginEnv> OpenEnv(const StoreFlags& f) {
  PluginEnv env;
  BVER_ASSIGN_OR_RETURN(StoreLocation at, LocateStore(f));
  BVER_ASSIGN_OR_RETURN(env.opened, server::OpenPluginRegistry(at.url, at.project_dir));
  env.registry = env.opened->registry.get();
  Result<domain::Platform> p = domain::CompileFile(f.file);
  if (p.ok()) {
    env.platform = std::move(p).value();
  } else {
    env.platform_status = p.status();
  }
  return env;
}

std::string CapabilitiesText(const plugin::InstalledPlugin& p) {
  std::string s;
  for (const plugin::InstalledCapability& c : p.capabilities) {
    s += (s.empty() ? "" : ", ") + c.id + " (" + c.type + " " + c.version + ")";
  }
  return s.empty() ? "(none)" : s;
}

json PluginJson(const plugin::InstalledPlugin& p, const Status& compat, bool detail) {
  json caps = json::array();
  for (const plugin::InstalledCapability& c : p.capabilities) {
    json cj = {{"id", c.id}, {"type", c.type}, {"version", c.version}};
    if (detail && p.manifest) {
      if (const plugin::CapabilitySpec* spec = p.manifest->FindCapability(c.id)) {
        cj["deterministic"] = spec->deterministic;
        cj["network"] = spec->network;
        cj["writes"] = spec->writes;
        cj["labels"] = spec->labels;
        cj["limits"] = {{"timeout_seconds", spec->limits.timeout_seconds},
                        {"memory_mb", spec->limits.memory_mb},
                        {"cpu_seconds", spec->limits.cpu_seconds},
                        {"open_files", spec->limits.open_files},
                        {"processes", spec->limits.processes}};
        if (spec->trust) cj["trust"] = {{"runs", spec->trust->runs}, {"agree", spec->trust->agree}};
        cj["input"] = spec->input_schema ? *spec->input_schema : json(nullptr);
        cj["output"] = spec->output_schema ? *spec->output_schema : json(nullptr);
      }
    }
    caps.push_back(std::move(cj));
  }
  json reasons = json::array();
  if (!compat.ok()) {
    if (compat.violations().empty()) reasons.push_back(compat.message());
    for (const Violation& v : compat.violations()) reasons.push_back(v.message);
  }
  json j = {{"plugin_id", p.plugin_id},
            {"version", p.version},
            {"kind", plugin::PluginKindName(p.kind)},
            {"capabilities", caps},
            {"installed_at", p.installed_at},
            {"folder", p.folder},
            {"manifest_digest", p.manifest_digest},
            {"compatible", compat.ok()},
            {"problems", reasons}};
  if (detail && p.manifest) {
    j["runtime_api"] = {{"min", p.manifest->runtime_api_min}, {"max", p.manifest->runtime_api_max}};
    j["entry"] = p.manifest->entry;
    j["scopes"] = p.manifest->scopes;
    j["owns"] = {{"namespaces", p.manifest->owns_namespaces}, {"kinds", p.manifest->owns_kinds}};
  }
  return j;
}

void PrintCompat(const Output& o, const Status& compat) {
  if (compat.ok()) {
    o.out << "compatible: yes\n";
    return;
  }
  o.out << "compatible: no\n";
  if (compat.violations().empty()) o.out << "  - " << compat.message() << "\n";
  for (const Violation& v : compat.violations()) o.out << "  - " << v.message << "\n";
}

// Registers a plugins subcommand whose action opens the registry and runs `body`.
template <typename Fn>
CLI::App* Command(CLI::App* parent, Context& ctx, const char* name, const char* help,
                  std::shared_ptr<StoreFlags> flags, Fn body) {
  return AddStoreCommand(parent, ctx, name, help, flags, OpenEnv, body);
}

const domain::Platform* PlatformOf(const PluginEnv& env) {
  return env.platform ? &*env.platform : nullptr;
}

// The tools exec plugins find on their PATH (null when missing).
json PluginTools() {
  json tools = json::object();
  for (const char* tool : {"python3", "sh"}) {
    std::string found;
    std::string path = plugin::kPluginPath;
    std::size_t start = 0;
    while (found.empty() && start <= path.size()) {
      std::size_t colon = path.find(':', start);
      fs::path candidate = fs::path(path.substr(start, colon == std::string::npos ? std::string::npos : colon - start)) / tool;
      std::error_code ec;
      if (fs::is_regular_file(candidate, ec)) found = candidate.string();
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    tools[tool] = found.empty() ? json(nullptr) : json(found);
  }
  return tools;
}

// `text` followed by spaces up to `width` (at least one).
std::string Padded(const std::string& text, std::size_t width) {
  return text + std::string(text.size() < width ? width - text.size() : 1, ' ');
}

// bver doctor: what this machine offers plugins, and in a project folder
// whether the install is healthy (server::CheckHealth, src/server/health.h).
struct DoctorFlags {
  StoreFlags store;
  std::string nats_url;
};

int Doctor(Context& ctx, const DoctorFlags& f) {
  const plugin::NetworkIsolation& net = plugin::NetworkIsolationStatus();
  json tools = PluginTools();
  server::HealthOptions options;
  options.domain_file = f.store.file;
  options.store_flag = f.store.store;
  options.profile_name = f.store.profile;
  options.nats_url = f.nats_url;
  server::HealthReport report = server::CheckHealth(options);
  // The store, and whether it holds the manifest bver.yaml compiles to
  // (docs/migrations.md); the store check says the same for people.
  json project = nullptr;
  if (report.in_project) {
    if (!report.runtime) {
      project = {{"ok", false}, {"problem", report.runtime_status.message()}};
    } else {
      std::string store_url;  // as the store check shows it: a password masked
      for (const server::HealthCheck& c : report.checks) {
        if (c.name == "store" && c.facts.count("store") > 0) store_url = c.facts.at("store");
      }
      std::string pending = report.runtime->store->MigrationPending();
      project = {{"ok", pending.empty()},
                 {"store", store_url},
                 {"manifest", report.runtime->fingerprint},
                 {"migration", pending.empty() ? "current" : "waiting"}};
      if (!pending.empty()) project["problem"] = pending;
    }
  }
  const int code = report.ok() ? 0 : 1;
  if (f.store.json) {
    json checks = json::array();
    for (const server::HealthCheck& c : report.checks) checks.push_back(server::ToJson(c));
    Output{ctx.out, ctx.err, true}.Json(
        {{"version", "0.1.0"},
         {"ok", report.ok()},
         {"checks", checks},
         {"project", project},
         {"runtime_api", plugin::kRuntimeApiLevel},
         {"plugin_abi", BVER_PLUGIN_ABI_VERSION},
         {"plugin_protocol", plugin::kProtocolVersion},
         {"plugin_path", plugin::kPluginPath},
         {"network_isolation", {{"available", net.available}, {"method", net.method}, {"reason", net.reason}}},
         {"tools", tools}});
    return code;
  }
  ctx.out << "bver 0.1.0\n"
          << "runtime API level: " << plugin::kRuntimeApiLevel << "\n"
          << "native plugin ABI: " << BVER_PLUGIN_ABI_VERSION << "\n"
          << "exec plugin protocol: " << plugin::kProtocolVersion << "\n";
  if (net.available) {
    ctx.out << "network isolation for exec plugins: yes, " << net.method << "\n";
  } else {
    ctx.out << "network isolation for exec plugins: NO -- plugins that declare no network still get it: "
            << net.reason << "\n";
  }
  ctx.out << "exec plugin PATH: " << plugin::kPluginPath << "\n";
  for (auto it = tools.begin(); it != tools.end(); ++it) {
    ctx.out << "  " << it.key() << ": " << (it->is_null() ? std::string("not found") : it->get<std::string>())
            << "\n";
  }
  ctx.out << "\n";
  int failed = 0, warned = 0;
  for (const server::HealthCheck& c : report.checks) {
    const char* mark = "ok";
    switch (c.status) {
      case server::HealthStatus::kOk: break;
      case server::HealthStatus::kWarn: mark = "warn"; ++warned; break;
      case server::HealthStatus::kFail: mark = "FAIL"; ++failed; break;
      case server::HealthStatus::kSkipped: mark = "skip"; break;
    }
    ctx.out << Padded(mark, 6) << Padded(c.name, 16) << c.detail << "\n";
    for (const server::HealthItem& i : c.items) {
      ctx.out << "      " << Padded(i.ok ? "ok" : "FAIL", 6) << i.name << ": " << i.detail << "\n";
    }
    if ((c.status == server::HealthStatus::kWarn || c.status == server::HealthStatus::kFail) && !c.fix.empty()) {
      ctx.out << "      fix: " << c.fix << "\n";
    }
  }
  if (failed > 0) {
    ctx.out << "NOT HEALTHY: " << failed << " check(s) failed";
  } else {
    ctx.out << "healthy";
  }
  if (warned > 0) ctx.out << (failed > 0 ? ", " : ", with ") << warned << " warning(s)";
  ctx.out << "\n";
  return code;
}

void RegisterDoctor(CLI::App& app, Context& ctx) {
  auto* cmd = app.add_subcommand(
      "doctor",
      "Check whether this install is healthy (store, plugins, NATS, disk, clock, profile) and what this machine offers "
      "plugins; exit 1 when a check fails");
  auto f = std::make_shared<DoctorFlags>();
  AddStoreFlags(cmd, f->store);
  cmd->add_option("--nats-url", f->nats_url,
                  "The NATS server to check (default: $BVER_NATS_URL, else the profile's wiring.nats_url; none: "
                  "skipped)");
  cmd->callback([&ctx, f] { ctx.action = [&ctx, f] { return Doctor(ctx, *f); }; });
}

}  // namespace

void RegisterPluginCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  RegisterDoctor(app, ctx);
  CLI::App* plugins = app.add_subcommand("plugins", "Plugins: install from a folder, list, show, remove");
  plugins->require_subcommand(1);
  {
    auto f = std::make_shared<StoreFlags>();
    auto a = std::make_shared<std::pair<std::string, bool>>();
    CLI::App* c = Command(
        plugins, ctx, "install", "Install the plugin in FOLDER or a bundle (checks its manifest and compatibility)", f,
        [a](const Output& o, PluginEnv& env) {
          if (!env.platform) return o.Fail(env.platform_status);
          plugin::Registry::InstallOptions options;
          options.replace = a->second;
          Result<plugin::InstalledPlugin> p = env.registry->Install(a->first, PlatformOf(env), options);
          if (!p.ok()) return o.Fail(p.status());
          if (o.json) {
            o.Json(PluginJson(*p, Status::Ok(), false));
          } else {
            o.out << "installed " << p->plugin_id << " " << p->version << " (" << plugin::PluginKindName(p->kind)
                  << ") into " << p->folder << "\n  capabilities: " << CapabilitiesText(*p) << "\n";
          }
          return 0;
        });
    c->add_option("FOLDER", a->first, "the plugin folder (holding bver_plugin.yaml), or a .tar.gz/.tgz/.tar bundle of it")->required();
    c->add_flag("--replace", a->second, "replace another installed version of the same plugin");
  }
  {
    auto f = std::make_shared<StoreFlags>();
    Command(plugins, ctx, "list", "List installed plugins and whether each is compatible", f,
            [](const Output& o, PluginEnv& env) {
              Result<std::vector<plugin::InstalledPlugin>> all = env.registry->List();
              if (!all.ok()) return o.Fail(all.status());
              json items = json::array();
              for (const plugin::InstalledPlugin& p : *all) {
                Status compat = plugin::Registry::Check(p, PlatformOf(env), *all);
                if (o.json) {
                  items.push_back(PluginJson(p, compat, false));
                  continue;
                }
                o.out << p.plugin_id << "  " << p.version << "  " << plugin::PluginKindName(p.kind) << "  "
                      << CapabilitiesText(p) << "  compatible: " << (compat.ok() ? "yes" : "no") << "\n";
                if (!compat.ok()) {
                  if (compat.violations().empty()) o.out << "    - " << compat.message() << "\n";
                  for (const Violation& v : compat.violations()) o.out << "    - " << v.message << "\n";
                }
              }
              // Capabilities bver.yaml declares whose plugin is missing.
              json missing = json::array();
              if (env.platform) {
                for (const domain::Capability& c : env.platform->capabilities) {
                  bool installed = std::any_of(all->begin(), all->end(), [&](const plugin::InstalledPlugin& p) {
                    return p.plugin_id == c.plugin;
                  });
                  if (!installed) {
                    missing.push_back("capability " + c.id + " needs plugin " + c.plugin +
                                      ", which is not installed (bver plugins install FOLDER)");
                  }
                }
              }
              if (o.json) {
                json doc = {{"plugins", items}, {"missing", missing}};
                if (!env.platform) doc["platform_error"] = env.platform_status.message();
                o.Json(doc);
                return 0;
              }
              o.out << all->size() << " plugin(s)\n";
              for (const json& m : missing) o.out << "missing: " << m.get<std::string>() << "\n";
              if (!env.platform) {
                o.out << "note: " << env.platform_status.message()
                      << "; compatibility with bver.yaml was not checked\n";
              }
              return 0;
            });
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto id = std::make_shared<std::string>();
    CLI::App* c = Command(plugins, ctx, "show", "Show one installed plugin: its capabilities, limits and compatibility", f,
                          [id](const Output& o, PluginEnv& env) {
                            Result<plugin::InstalledPlugin> p = env.registry->Get(*id);
                            if (!p.ok()) return o.Fail(p.status());
                            Result<std::vector<plugin::InstalledPlugin>> all = env.registry->List();
                            if (!all.ok()) return o.Fail(all.status());
                            Status compat = plugin::Registry::Check(*p, PlatformOf(env), *all);
                            if (o.json) {
                              o.Json(PluginJson(*p, compat, true));
                              return 0;
                            }
                            o.out << p->plugin_id << " " << p->version << " (" << plugin::PluginKindName(p->kind)
                                  << ")\n"
                                  << "installed: " << p->installed_at << "\n"
                                  << "folder: " << p->folder << "\n"
                                  << "manifest: " << p->manifest_digest << "\n";
                            if (p->manifest) {
                              o.out << "runtime API: " << p->manifest->runtime_api_min << " to "
                                    << p->manifest->runtime_api_max << "\n";
                              for (const plugin::CapabilitySpec& s : p->manifest->capabilities) {
                                o.out << "capability " << s.id << " (" << domain::PrimitiveName(s.primitive) << " "
                                      << s.version << ")" << (s.deterministic ? ", deterministic" : "")
                                      << (s.network ? ", network" : ", no network") << "\n";
                                if (!s.writes.empty()) {
                                  o.out << "  writes:";
                                  for (const std::string& w : s.writes) o.out << " " << w;
                                  o.out << "\n";
                                }
                                o.out << "  limits: " << s.limits.timeout_seconds << " s, " << s.limits.memory_mb
                                      << " MiB, " << s.limits.cpu_seconds << " s CPU, " << s.limits.open_files
                                      << " files, " << s.limits.processes << " processes\n";
                              }
                            }
                            PrintCompat(o, compat);
                            return 0;
                          });
    c->add_option("ID", *id, "the plugin id")->required();
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto id = std::make_shared<std::string>();
    CLI::App* c = Command(plugins, ctx, "remove", "Remove an installed plugin and its installed copy", f,
                          [id](const Output& o, PluginEnv& env) {
                            Status s = env.registry->Remove(*id);
                            if (!s.ok()) return o.Fail(s);
                            if (o.json) {
                              o.Json({{"plugin_id", *id}, {"removed", true}});
                            } else {
                              o.out << "removed " << *id << "\n";
                            }
                            return 0;
                          });
    c->add_option("ID", *id, "the plugin id")->required();
  }
}

}  // namespace bver::cli
