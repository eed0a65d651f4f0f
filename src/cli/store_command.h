// One way to register a subcommand that works on the project's store: the
// store flags (-f, --store, --json), then, when the command is chosen,
// `open(flags)` (a Result of whatever the command needs: the Store, a
// Backend with the key table, the artifact folder, the plugin registry) and
// `body(output, opened)`. An error opening is printed the usual way and its
// exit code returned. Include only from src/cli/*.cc (it pulls in CLI11).
#pragma once

#include <memory>

#include <CLI/CLI.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/store/open.h"

namespace bver::cli {

// The project's store backend and one object built on it (the key table,
// the payload schema registry), for commands that need no compiled domain.
template <typename T>
struct BackendWith {
  std::unique_ptr<store::Backend> backend;
  std::unique_ptr<T> value;  // built on *backend
};

template <typename T>
Result<BackendWith<T>> OpenBackendWith(const StoreFlags& flags) {
  BVER_ASSIGN_OR_RETURN(StoreLocation at, LocateStore(flags));
  BackendWith<T> env;
  BVER_ASSIGN_OR_RETURN(env.backend, store::OpenBackend(at.url, at.project_dir));
  env.value = std::make_unique<T>(*env.backend);
  return env;
}

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
