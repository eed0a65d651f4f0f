// Registration of subcommands, one function per area. Each registers its
// subcommands on `app` and, when one is chosen, stores what to run in
// ctx.action (run after parsing, so -C and every flag are already applied).
#pragma once

#include <functional>
#include <ostream>

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

}  // namespace bver::cli
