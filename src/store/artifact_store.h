// Artifacts: content-addressed blobs (BVER.md §1), named by the SHA-256 of
// their bytes, "sha256:<64 hex>".
//
// Content lives in files of one folder (open.h ChooseArtifactDir picks it):
//
//   <dir>/<first 2 hex>/<other 62 hex>   one file per artifact, never changed
//   <dir>/tmp/                           uploads in progress
//
// and the Backend records which digests the store holds, which is what a
// reference's artifact field is checked against (store.h). An ArtifactStore
// promises:
//   - Put and Get stream in chunks (kChunkBytes): memory does not grow with
//     the size of an artifact.
//   - Put is durable before it returns, and in this order: the file is
//     fsynced and renamed into place, its folder fsynced, and only then the
//     digest recorded in the Backend. So a recorded digest always has its
//     file, even after a crash; a crash before the record leaves at most an
//     unrecorded file (or a temporary in tmp/), which the next Put of the
//     same content adopts.
//   - Equal content is stored once (deduplication by digest).
//   - Nothing unverified is served: a file whose bytes do not hash to its
//     name is DataLoss, never content.
//
// Thread safety: every method may be called from any number of threads and
// processes at once, on the same folder (temporaries have unique names, and
// renames are atomic).
#pragma once

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include "bver/status.h"
#include "src/store/backend.h"

namespace bver::store {

struct ArtifactInfo {
  std::string digest;      // "sha256:<64 lower-case hex>"
  std::uint64_t size = 0;  // bytes
  bool existed = false;    // the store already held it (false only from a Put of new content)
};

// The 64 lower-case hex digits of a digest given as "sha256:<hex>" or
// "<hex>" (upper-case hex is accepted and lowered). InvalidArgument naming
// the expected form otherwise.
Result<std::string> ParseArtifactDigest(std::string_view text);

class ArtifactStore {
 public:
  static constexpr std::size_t kChunkBytes = 1 << 20;

  // `dir` is created by the first Put. `backend` must outlive this object.
  ArtifactStore(std::string dir, Backend& backend);

  const std::string& dir() const { return dir_; }

  // Reads `in` to its end, stores the bytes and records the digest.
  // Unavailable when the input cannot be read or the folder written (nothing
  // is recorded then, and the temporary is removed).
  Result<ArtifactInfo> Put(std::istream& in);

  // Writes the artifact's bytes to `out`. The file is read twice: once to
  // verify it, before any byte is written, so a corrupted artifact is
  // DataLoss with `out` untouched; then again to copy it, hashed again on the
  // way, so a file changed between the two reads (by something other than
  // BVER, which never changes one) is still reported as DataLoss, after the
  // fact. Use Export for a file that must never hold unverified bytes.
  // Errors: InvalidArgument (digest text), NotFound (not stored), DataLoss
  // (content corrupted or its file missing), Unavailable (I/O, or `out`
  // failed).
  Status Get(const std::string& digest, std::ostream& out);

  // Writes the artifact to the file `path` through a temporary beside it
  // that is fsynced and renamed over `path` only once every byte is
  // verified: on any error `path` is left as it was and no temporary stays.
  // Reads the artifact once; returns its digest and size. Errors as Get.
  Result<ArtifactInfo> Export(const std::string& digest, const std::string& path);

  // Reads the stored artifact once and checks that its bytes hash to its
  // name: its digest and size when they do. For transports that then send
  // the file at PathFor themselves (GET /v1/artifacts/{digest}); files are
  // never changed by BVER, so what was verified is what is sent unless
  // something else edits the folder meanwhile. Errors as Get.
  Result<ArtifactInfo> Verify(const std::string& digest);

  // Digest and size of a stored artifact, without reading its content.
  // Errors as Get (DataLoss only for a missing file).
  Result<ArtifactInfo> Stat(const std::string& digest);

  // Where the content of the artifact with this hex digest lives.
  std::string PathFor(const std::string& hex) const;

 private:
  std::string dir_;
  Backend& backend_;
};

}  // namespace bver::store
