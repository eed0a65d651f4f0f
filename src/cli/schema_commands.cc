// bver schemas register | list | show | check: the payload schema registry
// (src/events/registry.h, docs/events.md). Not to be confused with `bver
// schema validate` (core_commands.cc), which validates a file against a
// schema file.
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/store_command.h"
#include "src/events/registry.h"
#include "src/store/open.h"

namespace bver::cli {
namespace {

using nlohmann::json;

Result<json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return InvalidArgumentError("cannot read " + path);
  std::stringstream buf;
  buf << in.rdbuf();
  json j = json::parse(buf.str(), nullptr, false);
  if (j.is_discarded()) return InvalidArgumentError(path + " is not valid JSON");
  return j;
}

std::optional<events::CompatMode> ModeOf(const std::string& text) {
  return text.empty() ? std::nullopt : events::ParseCompatMode(text);
}

json Summary(const events::PayloadSchema& s) {
  json j = s.ToJson();
  j.erase("schema");
  return j;
}

void PrintReport(const Output& o, const events::CompatReport& r) {
  if (o.json) {
    o.Json(r.ToJson());
    return;
  }
  if (!r.previous) {
    o.out << r.id << " has no version yet: nothing to check against\n";
    return;
  }
  o.out << (r.compatible() ? "compatible" : "INCOMPATIBLE") << " with " << *r.previous << " (mode "
        << events::CompatModeName(r.mode) << ")\n";
  for (const Violation& v : r.breaks) {
    o.out << "  " << (v.path.empty() ? std::string("(root)") : v.path) << ": " << v.message << " [" << v.rule << "]\n";
  }
}

template <typename Fn>
CLI::App* Command(CLI::App* parent, Context& ctx, const char* name, const char* help, Fn body) {
  auto flags = std::make_shared<StoreFlags>();
  return AddStoreCommand(parent, ctx, name, help, flags, OpenBackendWith<events::PayloadRegistry>,
                         [body](const Output& o, BackendWith<events::PayloadRegistry>& env) {
                           return body(o, *env.value);
                         });
}

const std::vector<std::string> kModes = {"backward", "forward", "full", "none"};

}  // namespace

void RegisterSchemaCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  CLI::App* schemas = app.add_subcommand(
      "schemas", "Payload schemas of events (id@X.Y.Z): register with a compatibility check, list, show, check");
  schemas->require_subcommand(1);
  {
    struct Args {
      std::string file, id, version, mode;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = Command(schemas, ctx, "register",
                          "Register a JSON Schema as ID@VERSION; refused (with what would break) unless compatible "
                          "with the latest version under the id's mode",
                          [a](const Output& o, events::PayloadRegistry& r) {
                            Result<json> schema = ReadJsonFile(a->file);
                            if (!schema.ok()) return o.Fail(schema.status());
                            Result<events::PayloadSchema> s = r.Register(a->id, a->version, *schema, ModeOf(a->mode));
                            if (!s.ok()) return o.Fail(s.status());
                            if (o.json) {
                              o.Json(Summary(*s));
                            } else {
                              o.out << "registered " << s->Ref() << " (mode " << events::CompatModeName(s->mode)
                                    << ")\n";
                            }
                            return 0;
                          });
    c->add_option("FILE", a->file, "the JSON Schema (draft 2020-12) file")->required();
    c->add_option("--id", a->id, "the schema id (lower-case letters, digits, . _ -)")->required();
    c->add_option("--version", a->version, "the version X.Y.Z (above the latest)")->required();
    c->add_option("--mode", a->mode, "compatibility mode of the id (default: the id's, or backward)")
        ->check(CLI::IsMember(kModes));
  }
  {
    Command(schemas, ctx, "list", "List every registered version", [](const Output& o, events::PayloadRegistry& r) {
      Result<std::vector<events::PayloadSchema>> all = r.List();
      if (!all.ok()) return o.Fail(all.status());
      for (const events::PayloadSchema& s : *all) {
        if (o.json) {
          o.Json(Summary(s));
        } else {
          o.out << s.Ref() << "  " << events::CompatModeName(s.mode) << "  "
                << s.ToJson()["registered_at"].get<std::string>() << "\n";
        }
      }
      if (!o.json) o.out << all->size() << " schema version(s)\n";
      return 0;
    });
  }
  {
    auto ref = std::make_shared<std::string>();
    CLI::App* c = Command(schemas, ctx, "show", "Show one version (ID: the latest) with its schema",
                          [ref](const Output& o, events::PayloadRegistry& r) {
                            std::size_t at = ref->find('@');
                            Result<events::PayloadSchema> s =
                                at == std::string::npos ? r.Get(*ref) : r.Get(ref->substr(0, at), ref->substr(at + 1));
                            if (!s.ok()) return o.Fail(s.status());
                            if (o.json) {
                              o.Json(s->ToJson());
                            } else {
                              o.out << s->Ref() << "  mode " << events::CompatModeName(s->mode) << "  registered "
                                    << s->ToJson()["registered_at"].get<std::string>() << "\n"
                                    << s->schema.dump(2) << "\n";
                            }
                            return 0;
                          });
    c->add_option("ID", *ref, "ID or ID@VERSION")->required();
  }
  {
    struct Args {
      std::string file, id, mode;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = Command(schemas, ctx, "check",
                          "Dry run of register: what would break against the latest version (exit 1 if incompatible)",
                          [a](const Output& o, events::PayloadRegistry& r) {
                            Result<json> schema = ReadJsonFile(a->file);
                            if (!schema.ok()) return o.Fail(schema.status());
                            Result<events::CompatReport> rep = r.Check(a->id, *schema, ModeOf(a->mode));
                            if (!rep.ok()) return o.Fail(rep.status());
                            PrintReport(o, *rep);
                            return rep->compatible() ? 0 : 1;
                          });
    c->add_option("FILE", a->file, "the JSON Schema (draft 2020-12) file")->required();
    c->add_option("--id", a->id, "the schema id")->required();
    c->add_option("--mode", a->mode, "check under this mode instead of the id's")->check(CLI::IsMember(kModes));
  }
}

}  // namespace bver::cli
