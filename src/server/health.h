// Whether an install is healthy: the checks `bver doctor` runs and prints
// (docs/operating.md "Health: bver doctor"). Each check answers ok, warn,
// fail or skipped with a one-line detail and, when it is not ok, what to do.
//
//   store           the store opens and holds the manifest bver.yaml compiles
//                   to (warn: it waits for `bver migrate apply`)
//   plugins         every installed plugin is compatible with this runtime and
//                   the platform (fail: one is not); capabilities whose plugin
//                   is not installed (warn)
//   nats            the NATS server of --nats-url, $BVER_NATS_URL or the
//                   profile's wiring answers with its INFO line (skipped when
//                   none is configured; warn without JetStream)
//   disk.store      free space on the filesystem of the SQLite store's folder
//   disk.artifacts  ... and of the artifact folder: warn under 10 % or 1 GiB,
//                   fail under 2 % or 100 MiB (kDisk* below)
//   clock           the system clock moves forward and is not behind the
//                   store's newest event by more than the tolerance
//   clock.sync      the kernel says the clock is synchronized (NTP); warn only
//   profile         the active profile and its policy revision; a profile
//                   that requires auth has API keys or JWTs configured
//
// CheckHealth opens the project's runtime without workers and reads only;
// like every command that opens the store, it creates a new store's files.
// Thread safety: the functions keep no state; call them from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "bver/status.h"
#include "src/server/runtime.h"

namespace bver::server {

enum class HealthStatus { kOk, kWarn, kFail, kSkipped };
const char* HealthStatusName(HealthStatus s);  // "ok", "warn", "fail", "skipped"

// One thing a check looked at (a plugin): its name, whether it is fine, why not.
struct HealthItem {
  std::string name;
  bool ok = true;
  std::string detail;
};

// Free space of one filesystem (statvfs: blocks available to unprivileged users).
struct DiskSpace {
  std::string path;  // the folder asked about
  std::uint64_t free_bytes = 0;
  std::uint64_t total_bytes = 0;
  double free_percent = 0;
};

struct HealthCheck {
  std::string name;
  HealthStatus status = HealthStatus::kOk;
  std::string detail;  // one line
  std::string fix;     // warn and fail: what to do
  std::vector<HealthItem> items;
  std::optional<DiskSpace> disk;
  // Named values for scripts (url, profile, policy_revision, ...): never a secret.
  std::map<std::string, std::string> facts;
};

// {name, status, detail, fix (warn/fail), facts..., disk figures, items}.
nlohmann::json ToJson(const HealthCheck& check);

// The disk thresholds (docs/operating.md): warn under 10 % or 1 GiB free,
// fail under 2 % or 100 MiB free, whichever is reached first.
inline constexpr double kDiskWarnPercent = 10.0;
inline constexpr std::uint64_t kDiskWarnBytes = 1ull << 30;
inline constexpr double kDiskFailPercent = 2.0;
inline constexpr std::uint64_t kDiskFailBytes = 100ull << 20;

struct HealthOptions {
  std::string domain_file = "bver.yaml";
  std::string store_flag;    // --store
  std::string profile_name;  // --profile; empty: $BVER_PROFILE, else local
  // --nats-url; empty: $BVER_NATS_URL, else the profile's wiring.nats_url,
  // else the nats check is skipped.
  std::string nats_url;
  std::chrono::milliseconds nats_timeout{2000};  // the connect, then the INFO line
  // How far the clock may be behind the store's newest event before the
  // clock check fails (another machine writing to the same store, a little
  // behind, is not an error).
  std::chrono::seconds clock_tolerance{5};
};

struct HealthReport {
  std::vector<HealthCheck> checks;
  bool in_project = false;  // the domain file exists
  // The runtime the checks opened (job and orchestrator workers not
  // started); null outside a project or when it did not open
  // (runtime_status says why).
  std::unique_ptr<Runtime> runtime;
  Status runtime_status;

  // No check failed (warnings allowed).
  bool ok() const;
};

// Runs every check above for the project `options` name.
HealthReport CheckHealth(const HealthOptions& options);

// The checks one at a time (CheckHealth's parts; each is also tested alone).

// ok / warn / fail for `space` by the thresholds above, named `name`.
HealthCheck ClassifyDisk(const std::string& name, const DiskSpace& space);
// statvfs of `path`, or of its nearest existing parent when it does not
// exist yet; classified by ClassifyDisk.
HealthCheck CheckDisk(const std::string& name, const std::string& path);

// Connects to every server of `url` ("nats://[user:pass@]host[:port]", a
// comma-separated list allowed; the port defaults to 4222) and reads the
// INFO line each sends on connect, within `timeout` each. ok when all
// answer (warn when one has no JetStream, which the relay needs, or when
// only some of a list answer); fail naming the URL when none does. The
// URL is reported without its user and password.
HealthCheck CheckNats(const std::string& url, std::chrono::milliseconds timeout);

// The system clock moves forward, and `now_us` is not behind `newest_event_us`
// (the store's newest event; std::nullopt: an empty log) by more than
// `tolerance`.
HealthCheck CheckClock(std::optional<std::int64_t> newest_event_us,
                       const std::string& newest_event_ts, std::int64_t now_us,
                       std::chrono::seconds tolerance);

// "2023-11-14T22:13:20.000001Z" (RFC 3339 in UTC, with or without a
// fraction) to microseconds since the epoch; InvalidArgument otherwise.
Result<std::int64_t> ParseUtcTimestamp(const std::string& text);

// "nats://user:secret@host:4222" -> "nats://host:4222".
std::string WithoutUserInfo(const std::string& url);

}  // namespace bver::server
