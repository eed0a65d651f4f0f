#include "tests/support/server_process.h"

#include "tests/support/child_registry.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

namespace bver::testing {

ServerProcess StartBverUp(const std::string& exe, const std::filesystem::path& dir,
                          const std::vector<std::string>& args) {
  ServerProcess s;
  s.stderr_path = dir / "up.stderr";
  int out[2];
  if (::pipe(out) != 0) return s;
  s.pid = ::fork();
  if (s.pid == 0) {
    ::dup2(out[1], 1);
    int e = ::open(s.stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (e >= 0) ::dup2(e, 2);
    ::close(out[0]);
    std::vector<std::string> all = {exe, "-C", dir.string(), "up"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  ChildRegistry::Get().Track(s.pid);
  ::close(out[1]);
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (::poll(&p, 1, 1000) <= 0) continue;
    char c[256];
    ssize_t n = ::read(out[0], c, sizeof c);
    if (n <= 0) break;
    line.append(c, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  std::size_t colon = line.rfind(':');
  if (line.rfind("listening on http://", 0) == 0 && colon != std::string::npos) s.port = std::stoi(line.substr(colon + 1));
  return s;
}

namespace {
int Code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }
}  // namespace

int StopServer(ServerProcess& server, int signal) {
  if (server.pid <= 0) return -1;
  ::kill(server.pid, signal);
  int status = 0;
  ::waitpid(server.pid, &status, 0);
  ChildRegistry::Get().Forget(server.pid);
  server.pid = -1;
  return Code(status);
}

int WaitServer(ServerProcess& server, int seconds) {
  if (server.pid <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(server.pid, &status, WNOHANG) == server.pid) {
      ChildRegistry::Get().Forget(server.pid);
      server.pid = -1;
      return Code(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return -1;
}

}  // namespace bver::testing
