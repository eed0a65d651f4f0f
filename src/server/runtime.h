// The composition root: what a process opens before it serves -- the
// compiled platform, the store, the artifact folder, the plugin registry,
// the job engine with its in-process workers, the event gate and consumers,
// the orchestrator engine, the trigger processor, the operation table and
// the broker (the dispatcher the engines call). One place, so `bver up`,
// `bver mcp`, `bver worker`, `bver call` and every CLI command can never
// disagree about what they serve. The transports (http_front.h, src/mcp/)
// are built on top of it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"
#include "src/auth/principal.h"
#include "src/runtime/artifact_service.h"
#include "src/runtime/broker.h"
#include "src/runtime/key_service.h"
#include "src/runtime/migrate_service.h"
#include "src/server/profile.h"

namespace bver::domain {
struct Platform;
}
namespace bver::store {
class Store;
class Backend;
class ArtifactStore;
}  // namespace bver::store
namespace bver::plugin {
class RegistryStorage;
class Registry;
}  // namespace bver::plugin
namespace bver::jobs {
class CapabilityHost;
class Engine;
}  // namespace bver::jobs
namespace bver::events {
class PayloadRegistry;
class Gate;
class Subscriptions;
class NatsRelay;
}  // namespace bver::events
namespace bver::orch {
class Engine;
}

namespace bver::triggers {
class TriggerProcessor;
}
namespace bver::migrate {
struct ApplyOptions;
}

namespace bver::server {

// Where a project is: its domain file, the folder relative paths are
// resolved against, and the store URL chosen for it.
struct Project {
  std::string domain_file = "bver.yaml";
  std::string dir;  // the domain file's folder
  std::string store_url;
  Profile profile;  // policy and wiring (profile.h); "local" unless chosen
};

// The project of `domain_file` under profile `profile_name` (empty:
// $BVER_PROFILE, else local). Its store: `store_flag` when given, else
// $BVER_STORE, the profile's wiring, bver.config.yaml, or
// sqlite:.bver/bver.db in its folder, with the policy's durability. A
// wiring store_passfile becomes PGPASSFILE unless that is already set.
Result<Project> LocateProject(const std::string& domain_file, const std::string& store_flag,
                              const std::string& profile_name = "");

struct Runtime {
  std::shared_ptr<const domain::Platform> platform;
  std::string fingerprint;  // of the compiled manifest
  std::shared_ptr<const nlohmann::json> manifest;  // the compiled manifest
  Project project;
  std::unique_ptr<store::Store> store;
  // Null when the store has no artifact folder (PostgreSQL without
  // artifacts_dir): the artifact operations then answer FailedPrecondition.
  std::unique_ptr<store::ArtifactStore> artifacts;
  // The same as the streamed artifact routes see it (null with artifacts).
  std::unique_ptr<runtime::ArtifactService> artifact_service;
  // The plugins installed in the project (records in the store) and the job
  // engine that runs their capabilities.
  std::unique_ptr<plugin::RegistryStorage> plugin_storage;
  std::unique_ptr<plugin::Registry> plugins;
  std::unique_ptr<jobs::CapabilityHost> capability_host;
  std::unique_ptr<jobs::Engine> jobs;
  // The payload schema registry and the ingestion gate (docs/events.md).
  std::unique_ptr<events::PayloadRegistry> payload_schemas;
  std::unique_ptr<events::Gate> gate;
  // Durable consumers of the event log (events.consumers.*, docs/events.md).
  std::unique_ptr<events::Subscriptions> subscriptions;
  // The orchestrator engine (docs/orchestrators.md); its steps call the broker.
  std::unique_ptr<orch::Engine> orchestrators;
  // The NATS JetStream relay of the event log (docs/events.md), when
  // RuntimeOptions::nats_url is set. Declared after the store, so it stops
  // (its destructor joins its thread) before the store closes.
  std::unique_ptr<events::NatsRelay> nats_relay;
  // The API key table as the keys.* operations see it.
  std::unique_ptr<runtime::KeyService> keys;
  // The payload schema registry as the schemas.* operations see it.
  std::unique_ptr<runtime::SchemaService> schemas;
  // The store's domain migration as the migrate.* operations see it. When
  // the store holds data of another manifest that needs rewriting, the
  // runtime still opens: reads are answered, writes wait for `migrate
  // apply` (store->MigrationPending() says why).
  std::unique_ptr<runtime::MigrationService> migrations;
  std::shared_ptr<const runtime::Broker> broker;
  // Starts the operations of bver.yaml's triggers from events
  // (docs/triggers.md); runs only with RuntimeOptions::run_triggers.
  std::unique_ptr<triggers::TriggerProcessor> triggers;

  ~Runtime();
};

struct RuntimeOptions {
  // In-process job workers started with the runtime (0: none; the jobs are
  // queued for `bver worker` processes). Negative: $BVER_JOB_THREADS when
  // set, else 2 (what bver up and bver mcp use).
  int job_threads = -1;
  // Worker labels offered besides the detected ones ("k=v,...").
  std::string worker_labels;
  // > 0: the lease of a running job (a dead worker's job runs again after it).
  std::int64_t job_lease_ms = 0;
  // Run the trigger processor (bver up). Off for bver mcp and the CLI: a
  // stdio MCP server is one process per client, and two processors on one
  // store could both start an event's operation.
  bool run_triggers = false;
  // Orchestrator worker threads, which advance running runs (resuming those
  // a dead process left). Negative: 2 when job_threads is negative too (bver
  // up, bver mcp), else 0 (the job and orch commands choose their own).
  int orch_threads = -1;
  // Non-empty: relay the event log to this NATS server's JetStream
  // (nats://host:port) into `nats_stream` on subjects
  // "<nats_subject_prefix>.<channel>" (empty: BVER, bver.events).
  std::string nats_url;
  std::string nats_stream;
  std::string nats_subject_prefix;
  // Record the profile's policy revision in the store when it differs from
  // the last one recorded (record policy/current, audit event
  // policy.activated): what `bver up` does, so the audit trail says which
  // policy was in force from when. CLI commands leave it alone.
  bool record_policy = false;
};

// Compiles the project's domain file, opens its store and builds the broker
// with `options`; starts the engines' workers as `runtime_options` says. The
// first error, as it is (file:line:column for the domain).
Result<std::unique_ptr<Runtime>> OpenRuntime(const Project& project, runtime::Broker::Options options = {},
                                             RuntimeOptions runtime_options = {});

// What `migrate apply` needs besides its flags, for this runtime: the
// backup folder (.bver/backups in the project) and the check of the
// installed plugins against the new platform.
migrate::ApplyOptions MigrationOptions(Runtime& rt);

// The labels this process's job workers offer: the detected ones (os, arch,
// tools on PATH) and `extra` ("k=v,..."; InvalidArgument when malformed).
Result<nlohmann::json> WorkerLabels(const std::string& extra);

// Stops the job workers of `rt` (the jobs they run get the engine's stop
// grace period): `bver worker`'s shutdown.
void StopJobWorkers(Runtime& rt);

// Parts of a project that commands open without the whole runtime (no
// domain compiled, no engines), on the store at `store_url` of the project
// in `project_dir`:
//
// The artifact store (bver artifact). FailedPrecondition when the store has
// no artifact folder.
Result<std::unique_ptr<runtime::ArtifactService>> OpenArtifacts(const std::string& store_url,
                                                                const std::string& project_dir);

// The plugin registry (bver plugins): the installed plugins are records in
// the store and folders under .bver/plugins.
struct PluginRegistry {
  std::unique_ptr<store::Backend> backend;
  std::unique_ptr<plugin::RegistryStorage> storage;
  std::unique_ptr<plugin::Registry> registry;  // on *storage
  ~PluginRegistry();
};
Result<std::unique_ptr<PluginRegistry>> OpenPluginRegistry(const std::string& store_url,
                                                           const std::string& project_dir);

// Who a process-level caller is (bver mcp on stdio): the principal of API
// key `key` in the store (Unauthenticated when it is not a valid key), or
// the local operator named `local_name` when `key` is empty — unless the
// profile's policy requires auth, which makes an empty key Unauthenticated.
Result<auth::Principal> PrincipalFor(Runtime& rt, const std::string& key, const std::string& local_name);

}  // namespace bver::server
