// One way to register a subcommand that works on a part of the project the
// composition root opens (src/server/runtime.h): the store flags (-f,
// --store, --json), then, when the command is chosen, `open(flags)` (a
// Result of what the command needs: the artifact service, the plugin
// registry) and `body(output, opened)`. An error opening is printed the usual way and its
// exit code returned. Include only from src/cli/*.cc (it pulls in CLI11).
#pragma once

#include <memory>

#include <CLI/CLI.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"

namespace bver::cli {

template <typename Open, typename Body>
CLI::App* AddStoreCommand(CLI::App* parent, Context& ctx, const char* name, const char* help,
                          std::shared_ptr<StoreFlags> flags, Open open, Body body) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  AddStoreFlags(cmd, *flags);
  cmd->callback([&ctx, flags, open, body] {
    ctx.action = [&ctx, flags, open, body] {
      Output o{ctx.out, ctx.err, flags->json};
      auto opened = open(*flags);
      if (!opened.ok()) return o.Fail(opened.status());
      return body(o, *opened);
    };
  });
  return cmd;
}

}  // namespace bver::cli
