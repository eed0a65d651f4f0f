#include "src/store/postgres/pg_dump.h"

#include "src/store/open.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

extern char** environ;

namespace bver::store::postgres {
namespace {

namespace fs = std::filesystem;

// pg_dump on PATH, else the newest of Debian's /usr/lib/postgresql/*/bin.
std::string FindPgDump() {
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      fs::path candidate = fs::path(dir.empty() ? "." : dir) / "pg_dump";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
  }
  std::vector<std::string> found;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path candidate = e.path() / "bin" / "pg_dump";
    if (::access(candidate.c_str(), X_OK) == 0) found.push_back(candidate.string());
  }
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
    return std::atoi(fs::path(a).parent_path().parent_path().filename().c_str()) <
           std::atoi(fs::path(b).parent_path().parent_path().filename().c_str());
  });
  return found.empty() ? std::string() : found.back();
}


}  // namespace

Status DumpDatabase(const std::string& url, const std::string& path) {
  const std::string exe = FindPgDump();
  if (exe.empty()) {
    return FailedPreconditionError("pg_dump is not installed (Debian: apt-get install postgresql-client); "
                                   "install it, or back the database up yourself and pass --no-backup");
  }
  const std::string err_path = path + ".stderr";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  std::vector<std::string> args = {exe, "--format=custom", "--no-password", "--file=" + path, "--dbname=" + url};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  int rc = ::posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return UnavailableError("cannot run " + exe + ": " + std::strerror(rc));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string err;
  {
    std::ifstream in(err_path);
    std::stringstream s;
    s << in.rdbuf();
    err = s.str();
  }
  std::error_code ec;
  fs::remove(err_path, ec);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::Ok();
  fs::remove(path, ec);
  while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
  // pg_dump's message names the database; make sure no password rides along.
  if (std::size_t scheme = url.find("://"); scheme != std::string::npos) {
    for (std::size_t at = err.find(url); at != std::string::npos; at = err.find(url, at + 1)) {
      err.replace(at, url.size(), RedactUrl(url));
    }
  }
  return UnavailableError("pg_dump of " + RedactUrl(url) + " failed: " + (err.empty() ? "exit status " + std::to_string(status) : err));
}

}  // namespace bver::store::postgres
