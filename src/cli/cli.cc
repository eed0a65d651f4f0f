#include "src/cli/cli.h"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/core/status_map.h"

namespace bver::cli {

int Run(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  CLI::App app{"bver: declare your domain once in bver.yaml; BVER runs it.", "bver"};
  app.require_subcommand(1);
  app.fallthrough();
  std::string chdir;
  app.add_option("-C,--directory", chdir, "Run as if started in DIR (the project folder)");
  app.set_version_flag("--version", "bver 0.1.0");

  Context ctx{out, err, {}};
  int code = 0;
  RegisterCoreCommands(app, ctx, code);
  RegisterDomainCommands(app, ctx, code);
  RegisterStoreCommands(app, ctx, code);
  RegisterArtifactCommands(app, ctx, code);
  RegisterKeyCommands(app, ctx, code);
  RegisterServeCommands(app, ctx, code);
  RegisterMcpCommands(app, ctx, code);
  RegisterPluginCommands(app, ctx, code);
  RegisterJobCommands(app, ctx, code);
  RegisterSchemaCommands(app, ctx, code);
  RegisterTriggerCommands(app, ctx, code);
  RegisterOrchCommands(app, ctx, code);
  RegisterEventCommands(app, ctx, code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    out << app.help();
    return 0;
  } catch (const CLI::CallForAllHelp& e) {
    out << app.help("", CLI::AppFormatMode::All);
    return 0;
  } catch (const CLI::CallForVersion& e) {
    out << e.what() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) {  // --help on a subcommand
      app.exit(e, out, err);
      return 0;
    }
    err << "usage error: " << e.what() << "\nRun 'bver --help' or 'bver COMMAND --help'.\n";
    return core::kExitUsage;
  }
  if (!chdir.empty()) {
    std::error_code ec;
    std::filesystem::current_path(chdir, ec);
    if (ec) {
      err << "error: cannot change to directory " << chdir << ": " << ec.message() << "\n";
      return core::kExitUsage;
    }
  }
  // Subcommands record their action; it runs only after the whole command
  // line parsed cleanly (and after -C took effect).
  if (ctx.action) code = ctx.action();
  return code;
}

}  // namespace bver::cli
