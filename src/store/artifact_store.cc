#include "src/store/artifact_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <istream>
#include <ostream>
#include <random>
#include <utility>
#include <vector>

#include "src/core/digest.h"

namespace bver::store {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kPrefix = "sha256:";

// Call right after the failing system call: errno is read before anything
// (an allocation building the message) can change it.
Status SysError(const char* what, const std::string& path, const std::string& to = {}) {
  const int err = errno;
  return UnavailableError(std::string(what) + " " + path + (to.empty() ? "" : " to " + to) + ": " +
                          std::strerror(err));
}

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;

  int get() const { return fd_; }
  // close() that reports its error (a failed close can mean lost writes).
  Status Close(const std::string& what) {
    int fd = std::exchange(fd_, -1);
    if (fd >= 0 && ::close(fd) != 0) return SysError("cannot close", what);
    return Status::Ok();
  }

 private:
  void Reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd_;
};

// Removes a file when it goes out of scope, unless released.
class RemoveOnExit {
 public:
  explicit RemoveOnExit(std::string path) : path_(std::move(path)) {}
  ~RemoveOnExit() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  RemoveOnExit(const RemoveOnExit&) = delete;
  RemoveOnExit& operator=(const RemoveOnExit&) = delete;
  void Release() { path_.clear(); }

 private:
  std::string path_;
};

Status WriteAll(int fd, const char* data, std::size_t n, const std::string& what) {
  while (n > 0) {
    ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return SysError("cannot write", what);
    }
    data += w;
    n -= static_cast<std::size_t>(w);
  }
  return Status::Ok();
}

Status Fsync(int fd, const std::string& what) {
  if (::fsync(fd) != 0) return SysError("cannot fsync", what);
  return Status::Ok();
}

// A rename or a new entry is durable only once its folder is fsynced.
Status FsyncDir(const fs::path& dir) {
  const std::string name = "folder " + dir.string();
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return SysError("cannot open", name);
  BVER_RETURN_IF_ERROR(Fsync(fd.get(), name));
  return fd.Close(name);
}

// Creates `dir` and its missing parents, each made durable in its parent.
Status EnsureDir(const fs::path& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::Ok();
    return UnavailableError(dir.string() + " is not a folder");
  }
  fs::path parent = dir.parent_path();
  if (parent.empty()) parent = ".";
  if (dir.has_parent_path()) BVER_RETURN_IF_ERROR(EnsureDir(parent));
  const std::string name = dir.string();
  if (::mkdir(dir.c_str(), 0777) != 0 && errno != EEXIST) {
    return SysError("cannot create folder", name);
  }
  return FsyncDir(parent);
}

// Reads `fd` from its current offset to the end in chunks, passing each to
// `sink` (when given); returns the hex SHA-256 of what was read.
Result<std::string> HashFile(int fd, const std::string& what,
                             const std::function<Status(const char*, std::size_t)>& sink,
                             std::uint64_t* size = nullptr) {
  std::vector<char> buf(ArtifactStore::kChunkBytes);
  core::Sha256 hash;
  std::uint64_t total = 0;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return SysError("cannot read", what);
    }
    if (n == 0) break;
    hash.Update(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    total += static_cast<std::uint64_t>(n);
    if (sink) BVER_RETURN_IF_ERROR(sink(buf.data(), static_cast<std::size_t>(n)));
  }
  if (size != nullptr) *size = total;
  return hash.FinishHex();
}

Status Corrupted(const std::string& hex, const std::string& path, const std::string& actual) {
  return DataLossError("artifact sha256:" + hex + " is corrupted: its file " + path +
                       " hashes to sha256:" + actual +
                       "; it is not served. Put the original content again to repair it, or "
                       "restore the file from a backup");
}

// A name no other thread or process is using, for a temporary file.
std::string UniqueSuffix() {
  static std::atomic<std::uint64_t> counter{0};
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1)) + "-" +
         std::to_string(rng() % 1000000007u);
}

}  // namespace

Result<std::string> ParseArtifactDigest(std::string_view text) {
  std::string_view hex = text;
  if (hex.substr(0, kPrefix.size()) == kPrefix) hex.remove_prefix(kPrefix.size());
  bool ok = hex.size() == 64;
  std::string out(hex);
  for (char& c : out) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) ok = false;
  }
  if (!ok) {
    return InvalidArgumentError("\"" + std::string(text.substr(0, 100)) +
                                "\" is not an artifact digest: expected sha256:<64 hex digits> "
                                "(the \"sha256:\" prefix may be left out)");
  }
  return out;
}

ArtifactStore::ArtifactStore(std::string dir, Backend& backend)
    : dir_(std::move(dir)), backend_(backend) {}

std::string ArtifactStore::PathFor(const std::string& hex) const {
  return (fs::path(dir_) / hex.substr(0, 2) / hex.substr(2)).string();
}

Result<ArtifactInfo> ArtifactStore::Put(std::istream& in) {
  if (in.fail()) {
    return UnavailableError("cannot read the artifact's content: the input is not readable");
  }
  fs::path tmp_dir = fs::path(dir_) / "tmp";
  BVER_RETURN_IF_ERROR(EnsureDir(tmp_dir));
  std::string tmp = (tmp_dir / ("put-" + UniqueSuffix())).string();
  // Read-only: an artifact's file never changes once written.
  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
  if (fd.get() < 0) return SysError("cannot create", tmp);
  RemoveOnExit remove_tmp(tmp);

  std::vector<char> buf(kChunkBytes);
  core::Sha256 hash;
  std::uint64_t size = 0;
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    std::size_t n = static_cast<std::size_t>(in.gcount());
    if (in.bad()) return UnavailableError("cannot read the artifact's content: the input failed");
    if (n == 0) continue;
    hash.Update(std::string_view(buf.data(), n));
    size += n;
    BVER_RETURN_IF_ERROR(WriteAll(fd.get(), buf.data(), n, tmp));
  }
  std::string hex = hash.FinishHex();

  std::string final_path = PathFor(hex);
  fs::path folder = fs::path(final_path).parent_path();
  BVER_RETURN_IF_ERROR(EnsureDir(folder));
  bool have_good_copy = false;
  Fd existing(::open(final_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (existing.get() >= 0) {
    BVER_ASSIGN_OR_RETURN(std::string actual, HashFile(existing.get(), final_path, nullptr));
    // A corrupted copy is replaced by the content just received. A good one
    // is kept, and the temporary dropped without the cost of an fsync.
    have_good_copy = actual == hex;
  } else if (errno != ENOENT) {
    return SysError("cannot open", final_path);
  }
  if (!have_good_copy) {
    BVER_RETURN_IF_ERROR(Fsync(fd.get(), tmp));
    BVER_RETURN_IF_ERROR(fd.Close(tmp));
    if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
      return SysError("cannot move", tmp, final_path);
    }
    remove_tmp.Release();
    BVER_RETURN_IF_ERROR(FsyncDir(folder));
  }

  ArtifactInfo info{std::string(kPrefix) + hex, size, false};
  BVER_RETURN_IF_ERROR(backend_.WriteTxn([&](Txn& t) -> Status {
    BVER_ASSIGN_OR_RETURN(info.existed, t.HasArtifact(hex));
    if (info.existed) return Status::Ok();
    return t.PutArtifact(hex, size);
  }));
  return info;
}

namespace {

// Opens the file of a stored artifact: NotFound when the store does not
// hold it, DataLoss when it does but the file is gone.
Result<Fd> OpenStored(Backend& backend, const std::string& hex, const std::string& path,
                      const std::string& dir) {
  BVER_ASSIGN_OR_RETURN(bool known, backend.HasArtifact(hex));
  if (!known) return NotFoundError("no stored artifact sha256:" + hex);
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) {
      return DataLossError(
          "artifact sha256:" + hex + " is recorded in the store but its file " + path +
          " is missing; check that the artifact folder (" + dir +
          ") is the one every process of this store uses, or put the original content "
          "again");
    }
    return SysError("cannot open", path);
  }
  return fd;
}

}  // namespace

Status ArtifactStore::Get(const std::string& digest, std::ostream& out) {
  BVER_ASSIGN_OR_RETURN(std::string hex, ParseArtifactDigest(digest));
  std::string path = PathFor(hex);
  BVER_ASSIGN_OR_RETURN(Fd fd, OpenStored(backend_, hex, path, dir_));
  BVER_ASSIGN_OR_RETURN(std::string verified, HashFile(fd.get(), path, nullptr));
  if (verified != hex) return Corrupted(hex, path, verified);
  if (::lseek(fd.get(), 0, SEEK_SET) != 0) return SysError("cannot rewind", path);
  BVER_ASSIGN_OR_RETURN(std::string copied,
                        HashFile(fd.get(), path, [&out](const char* p, std::size_t n) -> Status {
                          out.write(p, static_cast<std::streamsize>(n));
                          if (!out)
                            return UnavailableError("cannot write the artifact to the output");
                          return Status::Ok();
                        }));
  if (copied != hex) return Corrupted(hex, path, copied);
  out.flush();
  if (!out) return UnavailableError("cannot write the artifact to the output");
  return Status::Ok();
}

Result<ArtifactInfo> ArtifactStore::Export(const std::string& digest, const std::string& path) {
  BVER_ASSIGN_OR_RETURN(std::string hex, ParseArtifactDigest(digest));
  std::string source = PathFor(hex);
  BVER_ASSIGN_OR_RETURN(Fd in, OpenStored(backend_, hex, source, dir_));

  fs::path target(path);
  fs::path folder = target.parent_path();
  if (folder.empty()) folder = ".";
  std::string tmp =
      (folder / ("." + target.filename().string() + ".bver-" + UniqueSuffix())).string();
  // 0666 under the umask, as any new file the user asks for.
  Fd out(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  if (out.get() < 0) return SysError("cannot create", tmp);
  RemoveOnExit remove_tmp(tmp);
  std::uint64_t size = 0;
  BVER_ASSIGN_OR_RETURN(
      std::string actual,
      HashFile(
          in.get(), source,
          [&](const char* p, std::size_t n) { return WriteAll(out.get(), p, n, tmp); }, &size));
  if (actual != hex) return Corrupted(hex, source, actual);
  BVER_RETURN_IF_ERROR(Fsync(out.get(), tmp));
  BVER_RETURN_IF_ERROR(out.Close(tmp));
  if (::rename(tmp.c_str(), path.c_str()) != 0) return SysError("cannot move", tmp, path);
  remove_tmp.Release();
  BVER_RETURN_IF_ERROR(FsyncDir(folder));
  return ArtifactInfo{std::string(kPrefix) + hex, size, true};
}

Result<ArtifactInfo> ArtifactStore::Verify(const std::string& digest) {
  BVER_ASSIGN_OR_RETURN(std::string hex, ParseArtifactDigest(digest));
  std::string path = PathFor(hex);
  BVER_ASSIGN_OR_RETURN(Fd fd, OpenStored(backend_, hex, path, dir_));
  std::uint64_t size = 0;
  BVER_ASSIGN_OR_RETURN(std::string actual, HashFile(fd.get(), path, nullptr, &size));
  if (actual != hex) return Corrupted(hex, path, actual);
  return ArtifactInfo{std::string(kPrefix) + hex, size, true};
}

Result<ArtifactInfo> ArtifactStore::Stat(const std::string& digest) {
  BVER_ASSIGN_OR_RETURN(std::string hex, ParseArtifactDigest(digest));
  std::string path = PathFor(hex);
  BVER_ASSIGN_OR_RETURN(Fd fd, OpenStored(backend_, hex, path, dir_));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return SysError("cannot stat", path);
  return ArtifactInfo{std::string(kPrefix) + hex, static_cast<std::uint64_t>(st.st_size), true};
}

}  // namespace bver::store
