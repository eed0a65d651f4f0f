// Registration of subcommands, one function per area. Each registers its
// subcommands on `app` and, when one is chosen, stores what to run in
// ctx.action (run after parsing, so -C and every flag are already applied).
#pragma once

#include <functional>
#include <optional>
#include <ostream>
#include <string>

#include "bver/status.h"
#include "src/server/profile.h"

namespace CLI {
class App;
}

namespace bver::cli {

struct Context {
  std::ostream& out;
  std::ostream& err;
  std::function<int()> action;
};

void RegisterCoreCommands(CLI::App& app, Context& ctx, int& code);
void RegisterDomainCommands(CLI::App& app, Context& ctx, int& code);
void RegisterStoreCommands(CLI::App& app, Context& ctx, int& code);
void RegisterArtifactCommands(CLI::App& app, Context& ctx, int& code);
void RegisterKeyCommands(CLI::App& app, Context& ctx, int& code);
void RegisterServeCommands(CLI::App& app, Context& ctx, int& code);
void RegisterMcpCommands(CLI::App& app, Context& ctx, int& code);
void RegisterPluginCommands(CLI::App& app, Context& ctx, int& code);
void RegisterJobCommands(CLI::App& app, Context& ctx, int& code);  // bver job ..., bver worker
void RegisterSchemaCommands(CLI::App& app, Context& ctx, int& code);  // bver schemas ...
void RegisterTriggerCommands(CLI::App& app, Context& ctx, int& code);  // bver triggers ...
void RegisterOrchCommands(CLI::App& app, Context& ctx, int& code);    // bver orch ...
void RegisterEventCommands(CLI::App& app, Context& ctx, int& code);   // bver events ...
void RegisterCallCommands(CLI::App& app, Context& ctx, int& code);    // bver call OP
void RegisterSdkCommands(CLI::App& app, Context& ctx, int& code);     // bver sdk typescript|python
void RegisterLoginCommands(CLI::App& app, Context& ctx, int& code);   // bver login|logout
void RegisterMigrateCommands(CLI::App& app, Context& ctx, int& code);  // bver migrate plan|apply
void RegisterLogsCommands(CLI::App& app, Context& ctx, int& code);     // bver logs
void RegisterSandboxCommands(CLI::App& app, Context& ctx, int& code);  // bver init, bver reset

// Flags of every command that uses the store (store_commands.cc).
struct StoreFlags {
  std::string file = "bver.yaml";
  std::string store;
  std::string profile;  // empty: $BVER_PROFILE, else local
  bool json = false;
};
void AddStoreFlags(CLI::App* cmd, StoreFlags& f);

// Which store the flags name: its URL and the project folder (where the
// domain file is), which relative paths are resolved against.
struct StoreLocation {
  std::string url;
  std::string project_dir;
  server::Profile profile;  // as loaded, so callers need not read bver.config.yaml again
};
Result<StoreLocation> LocateStore(const StoreFlags& f);

// OK in a project folder (the flags' domain file exists); otherwise
// FailedPrecondition saying so and how to name one (-C DIR, -f FILE).
Status RequireProject(const StoreFlags& f);

// The `bver up` serving the project in `project_dir` (serve_commands.cc):
// from its .bver/up.json, when the process named there still runs.
struct RunningServer {
  long pid = 0;
  std::string url;
};
std::optional<RunningServer> FindRunningServer(const std::string& project_dir);

}  // namespace bver::cli
