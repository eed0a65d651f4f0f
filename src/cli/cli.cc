#include "src/cli/cli.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>
#include <iostream>
#include <memory>

#include <CLI/CLI.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/core/status_map.h"

namespace bver::cli {
namespace {

std::size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The first word that is not an option (or -C's value): the command. Empty
// when there is none.
std::string CommandWord(int argc, const char* const* argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-C" || a == "--directory") {
      ++i;
      continue;
    }
    if (!a.empty() && a[0] == '-') continue;
    return a;
  }
  return "";
}

// "unknown command 'stauts'; did you mean status?" instead of CLI11's "A
// subcommand is required".
bool UnknownCommand(CLI::App& app, const std::string& word, std::ostream& err) {
  if (word.empty()) return false;
  std::vector<std::pair<std::size_t, std::string>> near;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->check_name(word)) return false;
    near.emplace_back(EditDistance(word, sub->get_name()), sub->get_name());
  }
  std::sort(near.begin(), near.end());
  err << "usage error: unknown command '" << word << "'";
  if (!near.empty() && near.front().first <= std::max<std::size_t>(2, word.size() / 3)) {
    err << "; did you mean '" << near.front().second << "'?";
  }
  err << "\nRun 'bver --help' for the commands.\n";
  return true;
}

}  // namespace

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
  RegisterSandboxCommands(app, ctx, code);
  RegisterDomainCommands(app, ctx, code);
  RegisterStoreCommands(app, ctx, code);
  RegisterArtifactCommands(app, ctx, code);
  RegisterKeyCommands(app, ctx, code);
  RegisterMigrateCommands(app, ctx, code);
  RegisterServeCommands(app, ctx, code);
  RegisterLogsCommands(app, ctx, code);
  RegisterMcpCommands(app, ctx, code);
  RegisterPluginCommands(app, ctx, code);
  RegisterJobCommands(app, ctx, code);
  RegisterSchemaCommands(app, ctx, code);
  RegisterTriggerCommands(app, ctx, code);
  RegisterOrchCommands(app, ctx, code);
  RegisterEventCommands(app, ctx, code);
  RegisterCallCommands(app, ctx, code);
  RegisterSdkCommands(app, ctx, code);
  RegisterLoginCommands(app, ctx, code);

  if (UnknownCommand(app, CommandWord(argc, argv), err)) return core::kExitUsage;
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
