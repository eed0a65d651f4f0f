#include "src/cli/runtime.h"

namespace bver::cli {

Result<std::unique_ptr<Runtime>> OpenRuntime(const StoreFlags& flags, runtime::Broker::Options options,
                                             RuntimeOptions runtime_options) {
  BVER_ASSIGN_OR_RETURN(server::Project project, server::LocateProject(flags.file, flags.store, flags.profile));
  return server::OpenRuntime(project, std::move(options), runtime_options);
}

}  // namespace bver::cli
