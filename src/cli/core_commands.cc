// bver version | pointer parse | schema validate
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bver/pointer.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/domain/platform.h"
#include "src/schema/validator.h"

namespace bver::cli {
namespace {

nlohmann::json PathToJson(const AttributePath& path) {
  nlohmann::json segs = nlohmann::json::array();
  for (const PathSegment& s : path.segments()) {
    if (s.is_key()) {
      segs.push_back({{"key", s.key()}});
    } else {
      segs.push_back({{"index", s.index()}});
    }
  }
  return segs;
}

}  // namespace

void RegisterCoreCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  {
    auto* cmd = app.add_subcommand("version", "Print the version, manifest format and runtime API level");
    auto json = std::make_shared<bool>(false);
    cmd->add_flag("--json", *json, "Print JSON");
    cmd->callback([&ctx, json] {
      ctx.action = [&ctx, json] {
        if (*json) {
          Output{ctx.out, ctx.err, true}.Json({{"version", "0.1.0"},
                                               {"manifest_format", domain::kManifestFormatVersion},
                                               {"runtime_api", domain::kRuntimeApiLevel}});
        } else {
          ctx.out << "bver 0.1.0 (manifest format " << domain::kManifestFormatVersion
                  << ", runtime API " << domain::kRuntimeApiLevel << ")\n";
        }
        return 0;
      };
    });
  }
  {
    auto* ptr = app.add_subcommand("pointer", "Work with bver:// pointers");
    ptr->require_subcommand(1);
    auto* cmd = ptr->add_subcommand("parse", "Parse a pointer and print its parts");
    auto text = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("POINTER", *text, "e.g. bver://sites/site/123~4@meta.owner")->required();
    cmd->add_flag("--json", *json, "Print JSON");
    cmd->callback([&ctx, text, json] {
      ctx.action = [&ctx, text, json] {
        Output o{ctx.out, ctx.err, *json};
        Result<Pointer> p = Pointer::Parse(*text);
        if (!p.ok()) return o.Fail(p.status());
        if (o.json) {
          nlohmann::json v = {{"pointer", p->ToString()},
                              {"namespace", p->ns()},
                              {"repo", p->repo()},
                              {"id", p->id()},
                              {"version", p->version() ? nlohmann::json(*p->version()) : nullptr},
                              {"path", p->path().empty() ? nlohmann::json(nullptr)
                                                         : nlohmann::json(p->path().ToString())},
                              {"segments", PathToJson(p->path())}};
          o.Json(v);
        } else {
          ctx.out << "pointer:   " << p->ToString() << "\n"
                  << "namespace: " << p->ns() << "\n"
                  << "repo:      " << p->repo() << "\n"
                  << "id:        " << p->id() << "\n"
                  << "version:   " << (p->version() ? std::to_string(*p->version()) : "latest")
                  << "\n"
                  << "path:      " << (p->path().empty() ? "(whole body)" : p->path().ToString())
                  << "\n";
        }
        return 0;
      };
    });
  }
  {
    auto* sch = app.add_subcommand("schema", "JSON Schema (draft 2020-12) tools");
    sch->require_subcommand(1);
    auto* cmd = sch->add_subcommand("validate", "Validate a JSON instance against a schema");
    auto schema = std::make_shared<std::string>();
    auto instance = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("--schema", *schema, "Schema file (JSON)")->required();
    cmd->add_option("--instance", *instance, "Instance file (JSON)")->required();
    cmd->add_flag("--json", *json, "Print JSON");
    cmd->callback([&ctx, schema, instance, json] {
      ctx.action = [&ctx, schema, instance, json] {
        Output o{ctx.out, ctx.err, *json};
        Status s = schema::ValidateFiles(*schema, *instance);
        if (!s.ok()) return o.Fail(s);
        if (o.json) {
          o.Json({{"valid", true}});
        } else {
          ctx.out << *instance << ": valid\n";
        }
        return 0;
      };
    });
  }
}

}  // namespace bver::cli
