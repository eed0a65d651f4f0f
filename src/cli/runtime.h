// What a serving command (bver up, bver mcp) opens before it serves: the
// compiled platform, the store, the artifact folder, the operation table
// and the broker, from the same flags every store command takes. One place,
// so `bver up` and `bver mcp` can never disagree about what they serve.
#pragma once

#include <memory>
#include <string>

#include "bver/status.h"
#include "src/cli/commands.h"
#include "src/runtime/broker.h"

namespace bver::domain {
struct Platform;
}
namespace bver::store {
class Store;
class ArtifactStore;
}  // namespace bver::store

namespace bver::cli {

struct Runtime {
  std::shared_ptr<const domain::Platform> platform;
  std::string fingerprint;  // of the compiled manifest
  StoreLocation location;
  std::unique_ptr<store::Store> store;
  // Null when the store has no artifact folder (PostgreSQL without
  // artifacts_dir): the artifact operations then answer FailedPrecondition.
  std::unique_ptr<store::ArtifactStore> artifacts;
  std::shared_ptr<const runtime::Broker> broker;

  ~Runtime();
};

// Compiles flags.file, opens the store it names and builds the broker with
// `options`. The first error, as it is (file:line:column for the domain).
Result<std::unique_ptr<Runtime>> OpenRuntime(const StoreFlags& flags, runtime::Broker::Options options = {});

}  // namespace bver::cli
