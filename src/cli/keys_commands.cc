// bver keys create | list | revoke: API keys in the project's store
// (src/auth/api_keys.h, docs/auth.md), as aliases of keys.create, keys.list
// and keys.revoke (admin): in-process, or on a server with --server.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/auth/api_keys.h"
#include "src/cli/commands.h"
#include "src/cli/invoke.h"
#include "src/cli/output.h"

namespace bver::cli {
namespace {

using nlohmann::json;

// A keys subcommand: one keys.* operation (in-process or --server).
template <typename Input, typename Text>
CLI::App* Alias(CLI::App* parent, Context& ctx, const char* name, const char* help, const char* op, Input input,
                Text text) {
  auto call = std::make_shared<CallOptions>();
  CLI::App* cmd = parent->add_subcommand(name, help);
  AddStoreFlags(cmd, call->store);
  AddCallFlags(cmd, *call);
  cmd->callback([&ctx, call, op, input, text] {
    ctx.action = [&ctx, call, op, input, text] { return RunOperation(ctx, *call, op, input(), text); };
  });
  return cmd;
}

}  // namespace

void RegisterKeyCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  CLI::App* keys = app.add_subcommand("keys", "API keys: create (shown once), list, revoke (aliases of keys.*)");
  keys->require_subcommand(1);
  {
    auto a = std::make_shared<std::pair<std::vector<std::string>, std::string>>();
    CLI::App* c = Alias(
        keys, ctx, "create", "Create an API key with scopes; prints the key once (keys.create)", "keys.create",
        [a] {
          // Comma- or space-separated, as auth reads them.
          return json{{"name", a->second}, {"scopes", auth::SplitScopes(auth::JoinScopes(a->first))}};
        },
        [&ctx](const Output& o, const json& created) {
          o.out << created["key"].get<std::string>() << "\n";
          ctx.err << "API key " << created["id"].get<std::string>() << " with scopes "
                  << auth::JoinScopes(created["scopes"].get<std::vector<std::string>>())
                  << ". Store it now: it is shown only this once (send it as Authorization: Bearer <key>).\n";
          return 0;
        });
    c->add_option("--scopes", a->first, "scopes, comma- or space-separated (admin: everything)")
        ->required()
        ->delimiter(',');
    c->add_option("--name", a->second, "a name for people (who or what uses the key)");
  }
  Alias(keys, ctx, "list", "List API keys, never their secrets (keys.list)", "keys.list", [] { return json::object(); },
        [](const Output& o, const json& l) {
          for (const json& k : l["keys"]) {
            o.out << k["id"].get<std::string>() << "  " << (k["active"].get<bool>() ? "active " : "revoked")
                  << "  created " << k["created_at"].get<std::string>() << "  "
                  << auth::JoinScopes(k["scopes"].get<std::vector<std::string>>())
                  << (k["name"].get<std::string>().empty() ? "" : "  (" + k["name"].get<std::string>() + ")") << "\n";
          }
          o.out << l["keys"].size() << " key(s)\n";
          return 0;
        });
  {
    auto id = std::make_shared<std::string>();
    CLI::App* c = Alias(keys, ctx, "revoke", "Revoke an API key, within a second (keys.revoke)", "keys.revoke",
                        [id] { return json{{"id", *id}}; },
                        [](const Output& o, const json& r) {
                          o.out << "revoked " << r["id"].get<std::string>() << "\n";
                          return 0;
                        });
    c->add_option("ID", *id, "the key's id (as keys list shows) or the key itself")->required();
  }
}

}  // namespace bver::cli
