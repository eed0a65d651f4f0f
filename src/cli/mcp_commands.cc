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

namespace bver::cli {
namespace {

int Serve(Context& ctx, const StoreFlags& flags) {
  Output o{ctx.err, ctx.err, false};  // errors only, and never on stdout
  Result<std::unique_ptr<Runtime>> opened = OpenRuntime(flags);
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
  cmd->callback([&ctx, flags] { ctx.action = [&ctx, flags] { return Serve(ctx, *flags); }; });
}

}  // namespace bver::cli
