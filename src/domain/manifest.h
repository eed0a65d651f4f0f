// bver.manifest.json: the machine-readable contract of a compiled platform,
// and its fingerprint (SHA-256 over the RFC 8785 canonical JSON).
//
// The manifest is deterministic: the same bver.yaml gives the same bytes and
// the same fingerprint on every machine (no timestamps, sorted collections).
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "bver/status.h"
#include "src/domain/platform.h"

namespace bver::domain {

inline constexpr const char* kManifestFormat = "bver.manifest/1";

// The manifest as JSON. Every schema in it carries an id@semver.
nlohmann::json ToManifest(const Platform& platform);

// "sha256:<hex>" of the manifest's canonical JSON.
Result<std::string> ManifestFingerprint(const nlohmann::json& manifest);

struct CompileOutputs {
  std::string manifest_path;
  std::string platform_path;
  std::string fingerprint;
};

// Writes <out_dir>/bver.manifest.json and <out_dir>/platform.json (the
// manifest plus its fingerprint and the source file). Each file is written
// to a temporary name, flushed and renamed, so a failure never leaves a
// half-written file behind.
Result<CompileOutputs> WriteCompiled(const Platform& platform, const std::string& source_file,
                                     const std::string& out_dir);

// Writes `content` to `path` atomically (temp file, fsync, rename).
Status WriteFileAtomic(const std::string& path, const std::string& content);

}  // namespace bver::domain
