#include "src/cli/runtime.h"

#include <nlohmann/json.hpp>

#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/store/artifact_store.h"
#include "src/store/open.h"

namespace bver::cli {

Runtime::~Runtime() {
  // The broker's handlers point into the store: drop it first.
  broker.reset();
}

Result<std::unique_ptr<Runtime>> OpenRuntime(const StoreFlags& flags, runtime::Broker::Options options) {
  auto rt = std::make_unique<Runtime>();
  BVER_ASSIGN_OR_RETURN(domain::Platform compiled, domain::CompileFile(flags.file));
  BVER_ASSIGN_OR_RETURN(rt->fingerprint, domain::ManifestFingerprint(domain::ToManifest(compiled)));
  rt->platform = std::make_shared<const domain::Platform>(std::move(compiled));
  BVER_ASSIGN_OR_RETURN(rt->location, LocateStore(flags));
  BVER_ASSIGN_OR_RETURN(rt->store,
                        store::OpenStore(rt->location.url, rt->location.project_dir, rt->platform, rt->fingerprint));
  if (Result<std::string> dir = store::ChooseArtifactDir(rt->location.url, rt->location.project_dir); dir.ok()) {
    rt->artifacts = std::make_unique<store::ArtifactStore>(*dir, rt->store->backend());
  }
  BVER_ASSIGN_OR_RETURN(std::unique_ptr<runtime::OperationTable> table,
                        runtime::OperationTable::Build(rt->platform, {rt->store.get(), rt->artifacts.get()}));
  rt->broker = std::make_shared<const runtime::Broker>(std::shared_ptr<const runtime::OperationTable>(std::move(table)),
                                                      std::move(options));
  return rt;
}

}  // namespace bver::cli
