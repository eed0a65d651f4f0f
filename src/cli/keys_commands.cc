// bver keys create | list | revoke: API keys in the project's store
// (src/auth/api_keys.h, docs/auth.md).
#include <ctime>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/auth/api_keys.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/store_command.h"
#include "src/domain/compiler.h"
#include "src/runtime/ingest_service.h"
#include "src/runtime/orch_service.h"
#include "src/store/open.h"

namespace bver::cli {
namespace {

using nlohmann::json;

std::string Time(std::int64_t us) {
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json InfoJson(const auth::ApiKeyInfo& k) {
  json j = {{"id", k.id},
            {"name", k.name},
            {"scopes", k.scopes},
            {"created_at", Time(k.created_at_us)},
            {"active", k.active()}};
  if (!k.active()) j["revoked_at"] = Time(k.revoked_at_us);
  return j;
}

// Scopes must be ones the platform knows ("admin", or one its operations
// need), so that a typo fails now rather than at the first request.
Status CheckScopes(const std::vector<std::string>& scopes, const std::string& domain_file) {
  BVER_ASSIGN_OR_RETURN(domain::Platform p, domain::CompileFile(domain_file));
  std::vector<std::string> known = p.AllScopes();
  known.push_back(runtime::kIngestScope);  // the ingestion gate's rows are the runtime's own
  known.push_back(runtime::kOrchReadScope);  // so is orch.runs.list
  known.push_back(runtime::kOrchCancelScope);  // orch.runs.cancel
  std::vector<Violation> unknown;
  for (const std::string& s : auth::SplitScopes(auth::JoinScopes(scopes))) {
    if (std::find(known.begin(), known.end(), s) == known.end()) {
      unknown.push_back({s, "scope", "not a scope of platform " + p.id});
    }
  }
  if (unknown.empty()) return Status::Ok();
  return InvalidArgumentError("unknown scope(s); the platform's scopes are: " + auth::JoinScopes(known), unknown);
}

template <typename Fn>
CLI::App* Command(CLI::App* parent, Context& ctx, const char* name, const char* help,
                  std::shared_ptr<StoreFlags> flags, Fn body) {
  return AddStoreCommand(parent, ctx, name, help, flags, OpenBackendWith<auth::ApiKeys>,
                         [body, flags](const Output& o, BackendWith<auth::ApiKeys>& env) {
                           return body(o, *env.value, *flags);
                         });
}

}  // namespace

void RegisterKeyCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  CLI::App* keys = app.add_subcommand("keys", "API keys: create (shown once), list, revoke");
  keys->require_subcommand(1);
  {
    auto f = std::make_shared<StoreFlags>();
    auto a = std::make_shared<std::pair<std::vector<std::string>, std::string>>();
    CLI::App* c = Command(keys, ctx, "create", "Create an API key with scopes; prints the key once", f,
                          [a](const Output& o, auth::ApiKeys& k, const StoreFlags& flags) {
                            Status known = CheckScopes(a->first, flags.file);
                            if (!known.ok()) return o.Fail(known);
                            Result<auth::CreatedApiKey> created = k.Create(a->second, a->first);
                            if (!created.ok()) return o.Fail(created.status());
                            if (o.json) {
                              json j = InfoJson(created->info);
                              j["key"] = created->key;
                              o.Json(j);
                            } else {
                              o.out << created->key << "\n";
                              o.err << "API key " << created->info.id << " with scopes "
                                    << auth::JoinScopes(created->info.scopes)
                                    << ". Store it now: it is shown only this once "
                                       "(send it as Authorization: Bearer <key>).\n";
                            }
                            return 0;
                          });
    c->add_option("--scopes", a->first, "scopes, comma- or space-separated (admin: everything)")
        ->required()
        ->delimiter(',');
    c->add_option("--name", a->second, "a name for people (who or what uses the key)");
  }
  {
    auto f = std::make_shared<StoreFlags>();
    Command(keys, ctx, "list", "List API keys (never their secrets)", f,
            [](const Output& o, auth::ApiKeys& k, const StoreFlags&) {
              Result<std::vector<auth::ApiKeyInfo>> all = k.List();
              if (!all.ok()) return o.Fail(all.status());
              for (const auth::ApiKeyInfo& i : *all) {
                if (o.json) {
                  o.Json(InfoJson(i));
                } else {
                  o.out << i.id << "  " << (i.active() ? "active " : "revoked") << "  created "
                        << Time(i.created_at_us) << "  " << auth::JoinScopes(i.scopes)
                        << (i.name.empty() ? "" : "  (" + i.name + ")") << "\n";
                }
              }
              if (!o.json) o.out << all->size() << " key(s)\n";
              return 0;
            });
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto id = std::make_shared<std::string>();
    CLI::App* c = Command(keys, ctx, "revoke", "Revoke an API key (takes effect within a second)", f,
                          [id](const Output& o, auth::ApiKeys& k, const StoreFlags&) {
                            Status s = k.Revoke(*id);
                            if (!s.ok()) return o.Fail(s);
                            if (o.json) {
                              o.Json({{"id", *id}, {"revoked", true}});
                            } else {
                              o.out << "revoked " << *id << "\n";
                            }
                            return 0;
                          });
    c->add_option("ID", *id, "the key's id (as keys list shows) or the key itself")->required();
  }
}

}  // namespace bver::cli
