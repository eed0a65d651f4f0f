// bver artifact put | get | stat: content of any size, streamed through the
// composition root's artifact service (the JSON operations artifacts.put and
// artifacts.get carry at most 4 MiB inline; `bver call` reaches them).
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/store_command.h"
#include "src/runtime/artifact_service.h"
#include "src/server/runtime.h"

namespace bver::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json InfoJson(const runtime::ArtifactFacts& a) {
  return {{"digest", a.digest}, {"size", a.size}, {"existed", a.existed}};
}

// Artifacts do not depend on the domain, so unlike the ref commands this
// does not compile bver.yaml: -f only says where the project folder is.
Result<std::unique_ptr<runtime::ArtifactService>> OpenArtifacts(const StoreFlags& flags) {
  BVER_ASSIGN_OR_RETURN(StoreLocation at, LocateStore(flags));
  return server::OpenArtifacts(at.url, at.project_dir);
}

template <typename Fn>
CLI::App* Command(CLI::App* parent, Context& ctx, const char* name, const char* help,
                  std::shared_ptr<StoreFlags> flags, Fn body) {
  return AddStoreCommand(parent, ctx, name, help, flags, OpenArtifacts,
                         [body](const Output& o, std::unique_ptr<runtime::ArtifactService>& a) { return body(o, *a); });
}

}  // namespace

void RegisterArtifactCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  CLI::App* art =
      app.add_subcommand("artifact", "Store and fetch content-addressed files (by SHA-256)");
  art->require_subcommand(1);
  {
    auto f = std::make_shared<StoreFlags>();
    auto file = std::make_shared<std::string>();
    CLI::App* c =
        Command(art, ctx, "put", "Store a file; print its digest (sha256:<hex>)", f,
                [file](const Output& o, runtime::ArtifactService& a) {
                  Result<runtime::ArtifactFacts> info = [&]() -> Result<runtime::ArtifactFacts> {
                    if (*file == "-") return a.Put(std::cin);
                    std::error_code ec;
                    if (fs::is_directory(*file, ec)) {
                      return InvalidArgumentError(*file + " is a folder, not a file");
                    }
                    std::ifstream in(*file, std::ios::binary);
                    if (!in) {
                      const int err = errno;
                      std::string why = "cannot open " + *file + ": " + std::strerror(err);
                      if (err == ENOENT) return NotFoundError(why);
                      if (err == EACCES) return PermissionDeniedError(why);
                      return UnavailableError(why);
                    }
                    return a.Put(in);
                  }();
                  if (!info.ok()) return o.Fail(info.status());
                  if (o.json) {
                    o.Json(InfoJson(*info));
                  } else {
                    o.out << info->digest << "\n";
                  }
                  return 0;
                });
    c->add_option("FILE", *file, "the file to store (- for standard input)")->required();
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto a = std::make_shared<std::pair<std::string, std::string>>();
    CLI::App* c = Command(
        art, ctx, "get", "Write a stored artifact to standard output or to a file, verified", f,
        [a](const Output& o, runtime::ArtifactService& s) {
          const auto& [digest, path] = *a;
          if (path.empty() || path == "-") {
            if (o.json) {
              return o.Fail(InvalidArgumentError(
                  "--json needs -o FILE: standard output cannot carry both the content and the "
                  "JSON result"));
            }
            Status st = s.Get(digest, o.out);
            return st.ok() ? 0 : o.Fail(st);
          }
          Result<runtime::ArtifactFacts> info = s.Export(digest, path);
          if (!info.ok()) return o.Fail(info.status());
          if (o.json) o.Json({{"digest", info->digest}, {"size", info->size}, {"path", path}});
          return 0;
        });
    c->add_option("DIGEST", a->first, "sha256:<64 hex> (the prefix may be left out)")->required();
    CLI::Option* output = c->add_option(
        "-o,--output", a->second,
        "write to FILE (replaced only once the content is verified) instead of standard output");
    // Standard output carries either the content or the JSON result.
    c->get_option("--json")->needs(output);
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto digest = std::make_shared<std::string>();
    CLI::App* c = Command(art, ctx, "stat", "Whether the store holds an artifact, and its size", f,
                          [digest](const Output& o, runtime::ArtifactService& s) {
                            Result<runtime::ArtifactFacts> info = s.Stat(*digest);
                            if (!info.ok()) return o.Fail(info.status());
                            if (o.json) {
                              o.Json({{"digest", info->digest}, {"size", info->size}});
                            } else {
                              o.out << info->digest << "  " << info->size << " bytes\n";
                            }
                            return 0;
                          });
    c->add_option("DIGEST", *digest, "sha256:<64 hex> (the prefix may be left out)")->required();
  }
}

}  // namespace bver::cli
