// bver mcp: serves the platform of the current folder over MCP stdio
// (src/mcp/, docs/mcp.md). stdout carries only JSON-RPC lines; every
// message for people goes to stderr.
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "src/auth/api_keys.h"
#include "src/auth/authenticator.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/mcp/server.h"
#include "src/mcp/stdio.h"
#include "src/runtime/broker.h"
#include "src/store/artifact_store.h"
#include "src/store/open.h"

namespace bver::cli {
namespace {

int Serve(Context& ctx, const StoreFlags& flags) {
  Output o{ctx.err, ctx.err, false};  // errors only, and never on stdout
  Result<domain::Platform> compiled = domain::CompileFile(flags.file);
  if (!compiled.ok()) return o.Fail(compiled.status());
  Result<std::string> fp = domain::ManifestFingerprint(domain::ToManifest(*compiled));
  if (!fp.ok()) return o.Fail(fp.status());
  auto platform = std::make_shared<const domain::Platform>(std::move(compiled).value());
  Result<StoreLocation> at = LocateStore(flags);
  if (!at.ok()) return o.Fail(at.status());
  Result<std::unique_ptr<store::Store>> st = store::OpenStore(at->url, at->project_dir, platform, *fp);
  if (!st.ok()) return o.Fail(st.status());
  std::unique_ptr<store::ArtifactStore> artifacts;
  if (Result<std::string> dir = store::ChooseArtifactDir(at->url, at->project_dir); dir.ok()) {
    artifacts = std::make_unique<store::ArtifactStore>(*dir, (*st)->backend());
  }

  // Who is calling: the key in $BVER_API_KEY when set (refused when it is
  // not valid), else the local operator (the user who started the process).
  auth::ApiKeys keys((*st)->backend());
  auth::Principal who = auth::Principal::Local("mcp");
  if (const char* key = std::getenv("BVER_API_KEY"); key != nullptr && *key != '\0') {
    auth::Authenticator authenticator(&keys, nullptr);
    Result<auth::Principal> p = authenticator.Authenticate({"", key});
    if (!p.ok()) return o.Fail(p.status().WithPrefix("BVER_API_KEY"));
    who = *p;
  }

  Result<std::unique_ptr<runtime::OperationTable>> table =
      runtime::OperationTable::Build(platform, {st->get(), artifacts.get()});
  if (!table.ok()) return o.Fail(table.status());
  auto broker = std::make_shared<const runtime::Broker>(
      std::shared_ptr<const runtime::OperationTable>(std::move(table).value()));
  mcp::Server::Options options;
  options.server_version = platform->version.empty() ? "0.1.0" : platform->version;
  mcp::Server server(broker, options);
  ctx.err << "bver mcp: serving platform " << platform->id << " over stdio as " << who.subject << "\n";
  ctx.err.flush();
  mcp::ServeStdio(server, who, std::cin, ctx.out);
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
