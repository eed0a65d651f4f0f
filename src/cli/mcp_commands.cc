// bver mcp: serves the platform of the current folder over MCP stdio
// (src/mcp/, docs/mcp.md). stdout carries only JSON-RPC lines; every
// message for people goes to stderr.
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/runtime.h"
#include "src/domain/platform.h"
#include "src/mcp/server.h"
#include "src/mcp/stdio.h"
#include "src/server/logbook.h"

namespace bver::cli {
namespace {

int Serve(Context& ctx, const StoreFlags& flags) {
  Output o{ctx.err, ctx.err, false};  // errors only, and never on stdout
  // Every call into the project's log file (docs/operating.md "Logs"); the
  // terminal is the client's, so nothing readable goes there but errors.
  Result<StoreLocation> where = LocateStore(flags);
  if (!where.ok()) return o.Fail(where.status());
  server::LogOptions log_options;
  log_options.path = server::DefaultLogPath(where->project_dir);
  Result<std::unique_ptr<server::Logbook>> opened_log = server::Logbook::Open(log_options);
  if (!opened_log.ok()) return o.Fail(opened_log.status());
  server::Logbook* logbook = opened_log->get();
  runtime::Broker::Options broker_options;
  broker_options.observer = [logbook](const runtime::CallRecord& record) {
    runtime::Broker::DefaultObserver(record);  // internal errors on stderr, as before
    server::LogCall(*logbook, record);
  };
  Result<std::unique_ptr<Runtime>> opened = OpenRuntime(flags, std::move(broker_options));
  if (!opened.ok()) return o.Fail(opened.status());
  Runtime& rt = **opened;

  // Who is calling: the key in $BVER_API_KEY when set (refused when it is
  // not valid), else the local operator (the user who started the process).
  const char* key = std::getenv("BVER_API_KEY");
  Result<auth::Principal> who = server::PrincipalFor(rt, key == nullptr ? "" : key, "mcp");
  if (!who.ok()) return o.Fail(who.status().WithPrefix("BVER_API_KEY"));

  mcp::Server::Options options;
  options.server_version = rt.platform->version.empty() ? "0.1.0" : rt.platform->version;
  mcp::Server server(rt.broker, options);
  ctx.err << "bver mcp: serving platform " << rt.platform->id << " over stdio as " << who->subject << "\n";
  ctx.err.flush();
  mcp::ServeStdio(server, *who, std::cin, ctx.out);
  return 0;
}

}  // namespace

void RegisterMcpCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  auto flags = std::make_shared<StoreFlags>();
  CLI::App* cmd = app.add_subcommand("mcp", "Serve the platform over MCP on stdio (for MCP clients that spawn it)");
  cmd->add_option("-f,--file", flags->file, "The domain definition")->capture_default_str();
  cmd->add_option("--store", flags->store,
                  "Store URL: sqlite:PATH or postgresql://... (default: $BVER_STORE, bver.config.yaml, "
                  "sqlite:.bver/bver.db)");
  cmd->add_option("--profile", flags->profile,
                  "Profile (policy and wiring; default $BVER_PROFILE, else local). docs/operating.md");
  cmd->callback([&ctx, flags] { ctx.action = [&ctx, flags] { return Serve(ctx, *flags); }; });
}

}  // namespace bver::cli
