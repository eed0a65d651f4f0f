// bver schemas register | list | show | check: the payload schema registry
// (docs/events.md), each an alias of a schemas.* operation, in-process or
// against a server (--server). Not to be confused with `bver schema
// validate` (core_commands.cc), which validates a file against a schema
// file.
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/invoke.h"
#include "src/cli/output.h"

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

void PrintReport(const Output& o, const json& r) {
  if (!r.contains("previous")) {
    o.out << r.value("id", "") << " has no version yet: nothing to check against\n";
    return;
  }
  o.out << (r.value("compatible", false) ? "compatible" : "INCOMPATIBLE") << " with "
        << r["previous"].get<std::string>() << " (mode " << r.value("mode", "") << ")\n";
  for (const json& b : r["breaks"]) {
    std::string path = b.value("path", "");
    o.out << "  " << (path.empty() ? std::string("(root)") : path) << ": " << b.value("message", "") << " ["
          << b.value("rule", "") << "]\n";
  }
}

// A schemas subcommand: `input()` builds the operation's input when the
// command runs (it may read a file and fail).
template <typename Input, typename Text>
CLI::App* Alias(CLI::App* parent, Context& ctx, const char* name, const char* help, const char* op, Input input,
                Text text, std::function<int(const json&)> exit_code = nullptr) {
  auto call = std::make_shared<CallOptions>();
  CLI::App* cmd = parent->add_subcommand(name, help);
  AddStoreFlags(cmd, call->store);
  AddCallFlags(cmd, *call);
  cmd->callback([&ctx, call, op, input, text, exit_code] {
    ctx.action = [&ctx, call, op, input, text, exit_code] {
      Result<json> in = input();
      if (!in.ok()) return PrintProblem(Output{ctx.out, ctx.err, call->store.json}, in.status(), "");
      return RunOperation(ctx, *call, op, *std::move(in), text, exit_code);
    };
  });
  return cmd;
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
    CLI::App* c = Alias(
        schemas, ctx, "register",
        "Register a JSON Schema as ID@VERSION; refused (with what would break) unless compatible with the latest "
        "version under the id's mode (alias of schemas.register)",
        "schemas.register",
        [a]() -> Result<json> {
          BVER_ASSIGN_OR_RETURN(json schema, ReadJsonFile(a->file));
          json in = {{"id", a->id}, {"version", a->version}, {"schema", std::move(schema)}};
          if (!a->mode.empty()) in["mode"] = a->mode;
          return in;
        },
        [](const Output& o, const json& s) {
          o.out << "registered " << s.value("ref", "") << " (mode " << s.value("mode", "") << ")\n";
          return 0;
        });
    c->add_option("FILE", a->file, "the JSON Schema (draft 2020-12) file")->required();
    c->add_option("--id", a->id, "the schema id (lower-case letters, digits, . _ -)")->required();
    c->add_option("--version", a->version, "the version X.Y.Z (above the latest)")->required();
    c->add_option("--mode", a->mode, "compatibility mode of the id (default: the id's, or backward)")
        ->check(CLI::IsMember(kModes));
  }
  Alias(
      schemas, ctx, "list", "List every registered version (alias of schemas.list)", "schemas.list",
      []() -> Result<json> { return json::object(); },
      [](const Output& o, const json& l) {
        for (const json& s : l["schemas"]) {
          o.out << s.value("ref", "") << "  " << s.value("mode", "") << "  " << s.value("registered_at", "") << "\n";
        }
        o.out << l["schemas"].size() << " schema version(s)\n";
        return 0;
      });
  {
    auto ref = std::make_shared<std::string>();
    CLI::App* c = Alias(
        schemas, ctx, "show", "Show one version (ID: the latest) with its schema (alias of schemas.get)", "schemas.get",
        [ref]() -> Result<json> {
          std::size_t at = ref->find('@');
          if (at == std::string::npos) return json{{"id", *ref}};
          return json{{"id", ref->substr(0, at)}, {"version", ref->substr(at + 1)}};
        },
        [](const Output& o, const json& s) {
          o.out << s.value("ref", "") << "  mode " << s.value("mode", "") << "  registered "
                << s.value("registered_at", "") << "\n"
                << s["schema"].dump(2) << "\n";
          return 0;
        });
    c->add_option("ID", *ref, "ID or ID@VERSION")->required();
  }
  {
    struct Args {
      std::string file, id, mode;
    };
    auto a = std::make_shared<Args>();
    auto incompatible = [](const json& r) { return r.value("compatible", false) ? 0 : 1; };
    CLI::App* c = Alias(
        schemas, ctx, "check",
        "Dry run of register: what would break against the latest version (exit 1 if incompatible; alias of "
        "schemas.check)",
        "schemas.check",
        [a]() -> Result<json> {
          BVER_ASSIGN_OR_RETURN(json schema, ReadJsonFile(a->file));
          json in = {{"id", a->id}, {"schema", std::move(schema)}};
          if (!a->mode.empty()) in["mode"] = a->mode;
          return in;
        },
        [incompatible](const Output& o, const json& r) {
          PrintReport(o, r);
          return incompatible(r);
        },
        incompatible);
    c->add_option("FILE", a->file, "the JSON Schema (draft 2020-12) file")->required();
    c->add_option("--id", a->id, "the schema id")->required();
    c->add_option("--mode", a->mode, "check under this mode instead of the id's")->check(CLI::IsMember(kModes));
  }
}

}  // namespace bver::cli
