// bver sdk typescript|python -o DIR: client SDKs generated from the
// operations the project serves (src/api/sdk.h).
#include <filesystem>
#include <fstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/api/sdk.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/runtime.h"

namespace bver::cli {
namespace {

namespace fs = std::filesystem;

struct SdkFlags {
  StoreFlags store;
  std::string language;
  std::string out;
};

int Generate(Context& ctx, const SdkFlags& f) {
  Output o{ctx.out, ctx.err, f.store.json};
  if (f.out.empty()) return o.Fail(InvalidArgumentError("-o DIR: the folder to write the SDK into is required"));
  RuntimeOptions ro;
  ro.job_threads = 0;
  ro.orch_threads = 0;
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(f.store, {}, ro);
  if (!rt.ok()) return o.Fail(rt.status());
  const runtime::OperationTable& table = (*rt)->broker->table();
  std::vector<api::SdkFile> files = f.language == "typescript" ? api::TypeScriptSdk(table) : api::PythonSdk(table);
  std::error_code ec;
  fs::create_directories(f.out, ec);
  if (ec) return o.Fail(UnavailableError("cannot create " + f.out + ": " + ec.message()));
  nlohmann::json written = nlohmann::json::array();
  for (const api::SdkFile& file : files) {
    const fs::path path = fs::path(f.out) / file.path;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << file.content;
    if (!out.flush()) return o.Fail(UnavailableError("cannot write " + path.string()));
    written.push_back(path.string());
  }
  if (o.json) {
    o.Json({{"language", f.language}, {"operations", table.rows().size()}, {"files", written}});
    return 0;
  }
  o.out << f.language << " SDK of " << table.rows().size() << " operations written to " << f.out << "\n";
  for (const nlohmann::json& p : written) o.out << "  " << p.get<std::string>() << "\n";
  if (f.language == "typescript") o.out << "next: cd " << f.out << " && npm install && npm run build\n";
  return 0;
}

}  // namespace

void RegisterSdkCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  auto f = std::make_shared<SdkFlags>();
  CLI::App* cmd = app.add_subcommand("sdk", "Generate a client SDK (TypeScript or Python) for every operation");
  cmd->footer(
      "\nExamples:\n"
      "  bver sdk typescript -o sdk/ts   # then: cd sdk/ts && npm install && npm run build\n"
      "  bver sdk python -o sdk/py       # bver_client.py, standard library only\n");
  cmd->add_option("language", f->language, "typescript or python")
      ->required()
      ->check(CLI::IsMember({"typescript", "python"}));
  cmd->add_option("-o,--out", f->out, "The folder to write into (created)")->required();
  AddStoreFlags(cmd, f->store);
  cmd->callback([&ctx, f] { ctx.action = [&ctx, f] { return Generate(ctx, *f); }; });
}

}  // namespace bver::cli
