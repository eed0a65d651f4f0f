#include "src/server/runtime.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <nlohmann/json.hpp>

#include "src/auth/api_keys.h"
#include "src/auth/authenticator.h"
#include "src/core/clock.h"
#include "src/events/gate.h"
#include "src/events/nats_relay.h"
#include "src/events/registry.h"
#include "src/events/subscriptions.h"
#include "src/jobs/engine.h"
#include "src/orch/engine.h"
#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/migrate/migrate.h"
#include "src/plugin/registry.h"
#include "src/plugin/store_registry.h"
#include "src/runtime/schema_service.h"
#include "src/store/artifact_store.h"
#include "src/store/open.h"
#include "src/triggers/processor.h"

namespace bver::server {
namespace {

std::string Time(std::int64_t us) { return core::FormatTimestamp(us); }

nlohmann::json InfoJson(const auth::ApiKeyInfo& k) {
  nlohmann::json j = {{"id", k.id},
                      {"name", k.name},
                      {"scopes", k.scopes},
                      {"created_at", Time(k.created_at_us)},
                      {"active", k.active()}};
  if (!k.active()) j["revoked_at"] = Time(k.revoked_at_us);
  return j;
}

// runtime::KeyService over the store's key table (src/auth/api_keys.h).
class StoreKeys final : public runtime::KeyService {
 public:
  explicit StoreKeys(store::Backend& backend) : keys_(backend) {}
  Result<nlohmann::json> CreateKey(const std::string& name, const std::vector<std::string>& scopes) override {
    BVER_ASSIGN_OR_RETURN(auth::CreatedApiKey created, keys_.Create(name, scopes));
    nlohmann::json j = InfoJson(created.info);
    j["key"] = created.key;
    return j;
  }
  Result<nlohmann::json> ListKeys() override {
    BVER_ASSIGN_OR_RETURN(std::vector<auth::ApiKeyInfo> all, keys_.List());
    nlohmann::json out = nlohmann::json::array();
    for (const auth::ApiKeyInfo& k : all) out.push_back(InfoJson(k));
    return nlohmann::json{{"keys", std::move(out)}};
  }
  Result<nlohmann::json> RevokeKey(const std::string& id) override {
    BVER_RETURN_IF_ERROR(keys_.Revoke(id));
    return nlohmann::json{{"id", id}, {"revoked", true}};
  }

 private:
  auth::ApiKeys keys_;
};

// runtime::SchemaService over the payload schema registry (src/events/registry.h).
class StoreMigrations final : public runtime::MigrationService {
 public:
  explicit StoreMigrations(Runtime& rt) : rt_(rt) {}

  Result<nlohmann::json> Plan(const nlohmann::json& input) override {
    migrate::PlanOptions o;
    o.limit = input.value("limit", 20);
    o.change = input.value("change", -1);
    o.offset = input.value("offset", 0);
    return migrate::Plan(*rt_.store, *rt_.manifest, rt_.fingerprint, o);
  }

  Result<nlohmann::json> Apply(const nlohmann::json& input, const std::string& actor,
                               const std::string& correlation_id) override {
    migrate::ApplyOptions o = MigrationOptions(rt_);
    o.yes = input.value("yes", false);
    o.backup = input.value("backup", true);
    o.batch = input.value("batch", 500);
    o.actor = actor;
    o.correlation_id = correlation_id;
    return migrate::Apply(*rt_.store, *rt_.manifest, rt_.fingerprint, o);
  }

 private:
  Runtime& rt_;
};

class RegistrySchemas final : public runtime::SchemaService {
 public:
  explicit RegistrySchemas(events::PayloadRegistry& registry) : registry_(registry) {}
  Result<nlohmann::json> Register(const std::string& id, const std::string& version, const nlohmann::json& schema,
                                  const std::string& mode) override {
    BVER_ASSIGN_OR_RETURN(events::PayloadSchema s, registry_.Register(id, version, schema, Mode(mode)));
    return Summary(s);
  }
  Result<nlohmann::json> Check(const std::string& id, const nlohmann::json& schema, const std::string& mode) override {
    BVER_ASSIGN_OR_RETURN(events::CompatReport r, registry_.Check(id, schema, Mode(mode)));
    nlohmann::json j = r.ToJson();
    if (j["previous"].is_null()) j.erase("previous");  // a new id: nothing checked against
    return j;
  }
  Result<nlohmann::json> Get(const std::string& id, const std::string& version) override {
    BVER_ASSIGN_OR_RETURN(events::PayloadSchema s, registry_.Get(id, version));
    return s.ToJson();
  }
  Result<nlohmann::json> List() override {
    BVER_ASSIGN_OR_RETURN(std::vector<events::PayloadSchema> all, registry_.List());
    nlohmann::json out = nlohmann::json::array();
    for (const events::PayloadSchema& s : all) out.push_back(Summary(s));
    return nlohmann::json{{"schemas", std::move(out)}};
  }

 private:
  static std::optional<events::CompatMode> Mode(const std::string& text) {
    return text.empty() ? std::nullopt : events::ParseCompatMode(text);
  }
  static nlohmann::json Summary(const events::PayloadSchema& s) {
    nlohmann::json j = s.ToJson();
    j.erase("schema");
    return j;
  }
  events::PayloadRegistry& registry_;
};

// runtime::ArtifactService over the artifact store (src/store/artifact_store.h).
class StoreArtifacts final : public runtime::ArtifactService {
 public:
  // `owned` (may be null) is the backend `artifacts` was built on, kept alive here.
  StoreArtifacts(std::unique_ptr<store::Backend> owned, std::unique_ptr<store::ArtifactStore> owned_artifacts,
                 store::ArtifactStore& artifacts)
      : owned_backend_(std::move(owned)), owned_artifacts_(std::move(owned_artifacts)), artifacts_(artifacts) {}
  Result<runtime::ArtifactFacts> Put(std::istream& in) override { return Facts(artifacts_.Put(in)); }
  Status Get(const std::string& digest, std::ostream& out) override { return artifacts_.Get(digest, out); }
  Result<runtime::ArtifactFacts> Export(const std::string& digest, const std::string& path) override {
    return Facts(artifacts_.Export(digest, path));
  }
  Result<runtime::ArtifactFacts> Verify(const std::string& digest) override { return Facts(artifacts_.Verify(digest)); }
  Result<runtime::ArtifactFacts> Stat(const std::string& digest) override { return Facts(artifacts_.Stat(digest)); }
  std::string ContentPath(const std::string& digest) const override {
    Result<std::string> hex = store::ParseArtifactDigest(digest);
    return hex.ok() ? artifacts_.PathFor(*hex) : std::string();
  }
  std::string dir() const override { return artifacts_.dir(); }

 private:
  static Result<runtime::ArtifactFacts> Facts(Result<store::ArtifactInfo> info) {
    if (!info.ok()) return info.status();
    return runtime::ArtifactFacts{info->digest, info->size, info->existed};
  }
  std::unique_ptr<store::Backend> owned_backend_;
  std::unique_ptr<store::ArtifactStore> owned_artifacts_;
  store::ArtifactStore& artifacts_;
};

}  // namespace

Result<std::unique_ptr<runtime::ArtifactService>> OpenArtifacts(const std::string& store_url,
                                                                const std::string& project_dir) {
  BVER_ASSIGN_OR_RETURN(std::string dir, store::ChooseArtifactDir(store_url, project_dir));
  BVER_ASSIGN_OR_RETURN(std::unique_ptr<store::Backend> backend, store::OpenBackend(store_url, project_dir));
  auto artifacts = std::make_unique<store::ArtifactStore>(dir, *backend);
  store::ArtifactStore& ref = *artifacts;
  return std::unique_ptr<runtime::ArtifactService>(
      std::make_unique<StoreArtifacts>(std::move(backend), std::move(artifacts), ref));
}

PluginRegistry::~PluginRegistry() = default;

Result<std::unique_ptr<PluginRegistry>> OpenPluginRegistry(const std::string& store_url,
                                                           const std::string& project_dir) {
  auto r = std::make_unique<PluginRegistry>();
  BVER_ASSIGN_OR_RETURN(r->backend, store::OpenBackend(store_url, project_dir));
  r->storage = plugin::MakeStoreRegistryStorage(*r->backend);
  r->registry = std::make_unique<plugin::Registry>(
      *r->storage, (std::filesystem::path(project_dir) / ".bver" / "plugins").string());
  return r;
}

Runtime::~Runtime() {
  // The trigger processor calls the broker: it stops first, and it holds
  // the broker, so it goes right after it (before the job engine).
  if (triggers) triggers->Stop();
  // The broker's handlers point into the job engine and the store, the
  // engine's workers into the store and the registry: drop them in order.
  // The orchestrator's workers call the broker: they stop first.
  if (orchestrators) orchestrators->Stop();
  broker.reset();
  triggers.reset();
  jobs.reset();
}

Result<Project> LocateProject(const std::string& domain_file, const std::string& store_flag,
                              const std::string& profile_name) {
  const std::filesystem::path parent = std::filesystem::path(domain_file).parent_path();
  std::string dir = parent.empty() ? std::filesystem::path(".").string() : parent.string();
  BVER_ASSIGN_OR_RETURN(Profile profile, LoadProfile(dir, profile_name));
  std::string flag = store_flag;
  const char* env_store = std::getenv("BVER_STORE");
  if (flag.empty() && (env_store == nullptr || *env_store == '\0')) flag = profile.wiring.store;
  BVER_ASSIGN_OR_RETURN(std::string url, store::ChooseStoreUrl(flag, dir));
  BVER_ASSIGN_OR_RETURN(url, ApplyDurability(url, profile));
  if (!profile.wiring.store_passfile.empty()) ::setenv("PGPASSFILE", profile.wiring.store_passfile.c_str(), 0);
  return Project{domain_file, std::move(dir), std::move(url), std::move(profile)};
}

namespace {

// Records the policy revision `profile` runs under when it is not the one
// last recorded (RecordTable kind "policy", key "current"), with a
// policy.activated audit event naming the previous revision.
Status RecordPolicy(store::Store& store, const Profile& profile) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> current, store.backend().GetRecord("policy", "current"));
    nlohmann::json was = current ? nlohmann::json::parse(current->value, nullptr, false) : nlohmann::json();
    std::string previous = was.is_object() ? was.value("revision", "") : "";
    if (previous == profile.revision) return Status::Ok();
    nlohmann::json now = {{"revision", profile.revision}, {"profile", profile.name}, {"policy", profile.policy.ToJson()}};
    store::RecordRow next{"policy", "current", now.dump(), 0};
    BVER_ASSIGN_OR_RETURN(bool set, store.backend().CompareAndSetRecord(
                                        next, current ? std::optional<std::string>(current->value) : std::nullopt));
    if (!set) continue;
    // The first revision a store sees is recorded without an event (a new
    // store's log starts with its first write); every change after it is
    // an audit event.
    if (previous.empty()) return Status::Ok();
    store::WriteContext ctx;
    ctx.actor = "bver up";
    nlohmann::json payload = now;
    payload["previous"] = previous;
    return store.AppendEvent("audit", "policy.activated", "policy", payload, ctx, true).status();
  }
  return AbortedError("the store's policy record kept changing while it was read; try again");
}

}  // namespace

Result<std::unique_ptr<Runtime>> OpenRuntime(const Project& project, runtime::Broker::Options options,
                                             RuntimeOptions runtime_options) {
  auto rt = std::make_unique<Runtime>();
  if (runtime_options.orch_threads < 0) runtime_options.orch_threads = runtime_options.job_threads < 0 ? 2 : 0;
  BVER_ASSIGN_OR_RETURN(domain::Platform compiled, domain::CompileFile(project.domain_file));
  auto manifest = std::make_shared<const nlohmann::json>(domain::ToManifest(compiled));
  BVER_ASSIGN_OR_RETURN(rt->fingerprint, domain::ManifestFingerprint(*manifest));
  rt->manifest = std::move(manifest);
  rt->platform = std::make_shared<const domain::Platform>(std::move(compiled));
  rt->project = project;
  BVER_ASSIGN_OR_RETURN(rt->store, store::OpenStore(rt->project.store_url, rt->project.dir, rt->platform,
                                                    rt->fingerprint, rt->project.profile.revision));
  if (runtime_options.record_policy) BVER_RETURN_IF_ERROR(RecordPolicy(*rt->store, rt->project.profile));
  // The store's platform record against bver.yaml (src/migrate/migrate.h).
  BVER_RETURN_IF_ERROR(migrate::CheckOnOpen(*rt->store, *rt->manifest, rt->fingerprint).status());
  if (Result<std::string> dir = store::ChooseArtifactDir(rt->project.store_url, rt->project.dir); dir.ok()) {
    rt->artifacts = std::make_unique<store::ArtifactStore>(*dir, rt->store->backend());
    rt->artifact_service = std::make_unique<StoreArtifacts>(nullptr, nullptr, *rt->artifacts);
  }
  rt->plugin_storage = plugin::MakeStoreRegistryStorage(rt->store->backend());
  rt->plugins = std::make_unique<plugin::Registry>(
      *rt->plugin_storage, (std::filesystem::path(rt->project.dir) / ".bver" / "plugins").string());
  rt->capability_host = jobs::MakeRegistryHost(*rt->plugins, *rt->platform);
  if (runtime_options.job_threads < 0) {
    runtime_options.job_threads = 2;
    if (const char* env = std::getenv("BVER_JOB_THREADS"); env != nullptr && *env != '\0') {
      char* end = nullptr;
      long n = std::strtol(env, &end, 10);
      if (*end != '\0' || n < 0 || n > 1024) {
        return InvalidArgumentError(std::string("BVER_JOB_THREADS=") + env + " is not a number of threads (0-1024)");
      }
      runtime_options.job_threads = static_cast<int>(n);
    }
  }
  jobs::EngineOptions engine_options;
  engine_options.threads = runtime_options.job_threads;
  if (runtime_options.job_lease_ms > 0) engine_options.job_lease_ms = runtime_options.job_lease_ms;
  engine_options.worker_labels = jobs::DetectLabels();
  if (!runtime_options.worker_labels.empty()) {
    BVER_ASSIGN_OR_RETURN(nlohmann::json extra, jobs::ParseLabels(runtime_options.worker_labels));
    engine_options.worker_labels.update(extra);
  }
  if (rt->artifacts != nullptr) jobs::UseArtifactStore(engine_options, *rt->artifacts);
  rt->jobs = std::make_unique<jobs::Engine>(*rt->store, *rt->capability_host, std::move(engine_options));
  rt->payload_schemas = std::make_unique<events::PayloadRegistry>(rt->store->backend());
  rt->gate = std::make_unique<events::Gate>(*rt->store, *rt->payload_schemas);
  rt->subscriptions = std::make_unique<events::Subscriptions>(rt->store->backend(), rt->store->backend());
  orch::EngineOptions orch_options;
  orch_options.threads = runtime_options.orch_threads;
  rt->orchestrators = std::make_unique<orch::Engine>(*rt->store, orch_options);
  if (!runtime_options.nats_url.empty()) {
    events::NatsRelayOptions relay;
    relay.url = runtime_options.nats_url;
    if (!runtime_options.nats_stream.empty()) relay.stream = runtime_options.nats_stream;
    if (!runtime_options.nats_subject_prefix.empty()) relay.subject_prefix = runtime_options.nats_subject_prefix;
    relay.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    BVER_ASSIGN_OR_RETURN(rt->nats_relay, events::NatsRelay::Create(*rt->store, std::move(relay)));
    rt->nats_relay->Start();
  }
  triggers::ProcessorOptions trigger_options;
  trigger_options.max_chain_firings = rt->project.profile.policy.max_chain_firings;
  trigger_options.max_per_trigger = rt->project.profile.policy.max_per_trigger;
  rt->triggers = std::make_unique<triggers::TriggerProcessor>(*rt->store, trigger_options);
  runtime::OperationTable::Bindings bindings;
  bindings.store = rt->store.get();
  bindings.artifacts = rt->artifacts.get();
  bindings.jobs = rt->jobs.get();
  bindings.ingest = rt->gate.get();
  bindings.subscriptions = rt->subscriptions.get();
  bindings.orchestrators = rt->orchestrators.get();
  bindings.triggers = rt->triggers.get();
  rt->keys = std::make_unique<StoreKeys>(rt->store->backend());
  bindings.keys = rt->keys.get();
  rt->schemas = std::make_unique<RegistrySchemas>(*rt->payload_schemas);
  bindings.schemas = rt->schemas.get();
  rt->migrations = std::make_unique<StoreMigrations>(*rt);
  bindings.migrations = rt->migrations.get();
  BVER_ASSIGN_OR_RETURN(std::unique_ptr<runtime::OperationTable> table,
                        runtime::OperationTable::Build(rt->platform, bindings));
  if (runtime_options.job_threads > 0) rt->jobs->Start();
  rt->broker = std::make_shared<const runtime::Broker>(std::shared_ptr<const runtime::OperationTable>(std::move(table)),
                                                      std::move(options));
  // With 0 threads the engine only calls operations for the commands that
  // use it in-process (a cancel cancels the run's jobs).
  rt->orchestrators->Start(*rt->broker);
  if (runtime_options.run_triggers) BVER_RETURN_IF_ERROR(rt->triggers->Start(*rt->broker));
  return rt;
}

migrate::ApplyOptions MigrationOptions(Runtime& rt) {
  migrate::ApplyOptions o;
  o.backup_dir = (std::filesystem::path(rt.project.dir) / ".bver" / "backups").string();
  plugin::Registry* plugins = rt.plugins.get();
  const domain::Platform* platform = rt.platform.get();
  o.check_plugins = [plugins, platform]() -> Status {
    if (plugins == nullptr) return Status::Ok();
    BVER_ASSIGN_OR_RETURN(std::vector<plugin::InstalledPlugin> all, plugins->List());
    for (const plugin::InstalledPlugin& p : all) BVER_RETURN_IF_ERROR(plugin::Registry::Check(p, platform, all));
    return Status::Ok();
  };
  return o;
}

Result<nlohmann::json> WorkerLabels(const std::string& extra) {
  nlohmann::json labels = jobs::DetectLabels();
  if (!extra.empty()) {
    BVER_ASSIGN_OR_RETURN(nlohmann::json more, jobs::ParseLabels(extra));
    labels.update(more);
  }
  return labels;
}

void StopJobWorkers(Runtime& rt) {
  if (rt.jobs) rt.jobs->Stop();
}

Result<auth::Principal> PrincipalFor(Runtime& rt, const std::string& key, const std::string& local_name) {
  if (key.empty()) {
    if (rt.project.profile.policy.auth_required) {
      return UnauthenticatedError("profile " + rt.project.profile.name +
                                  " requires auth: set an API key (bver keys create) in the environment");
    }
    return auth::Principal::Local(local_name);
  }
  auth::ApiKeys keys(rt.store->backend());
  auth::Authenticator authenticator(&keys, nullptr);
  return authenticator.Authenticate({"", key});
}

}  // namespace bver::server
