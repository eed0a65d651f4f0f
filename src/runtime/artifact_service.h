// What the transports and the CLI need from the artifact store (BVER.md §1,
// docs/artifacts.md) to stream content of any size, which a JSON operation
// cannot carry: the streamed routes (api/artifacts_http.h) and `bver
// artifact` run the broker's checks for artifacts.put / artifacts.get and
// then move the bytes through this. The composition root (src/server/)
// implements it over store::ArtifactStore, so api and cli never include
// store headers.
//
// Thread safety: implementations may be called from any number of threads.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

#include "bver/status.h"

namespace bver::runtime {

struct ArtifactFacts {
  std::string digest;      // "sha256:<64 lower-case hex>"
  std::uint64_t size = 0;  // bytes
  bool existed = false;    // the store already held it (false only from a Put of new content)
};

class ArtifactService {
 public:
  virtual ~ArtifactService() = default;
  // Reads `in` to its end and stores the bytes.
  virtual Result<ArtifactFacts> Put(std::istream& in) = 0;
  // Writes the content to `out`, verified against its digest first.
  virtual Status Get(const std::string& digest, std::ostream& out) = 0;
  // Writes the content to the file `path`, replaced only once verified.
  virtual Result<ArtifactFacts> Export(const std::string& digest, const std::string& path) = 0;
  // Reads the content once and checks it hashes to its digest.
  virtual Result<ArtifactFacts> Verify(const std::string& digest) = 0;
  // Digest and size, without reading the content.
  virtual Result<ArtifactFacts> Stat(const std::string& digest) = 0;
  // The file holding a stored artifact's content (for a transport that
  // sends files; Verify it first).
  virtual std::string ContentPath(const std::string& digest) const = 0;
  // A folder on the artifacts' filesystem for spooling uploads.
  virtual std::string dir() const = 0;
};

}  // namespace bver::runtime
