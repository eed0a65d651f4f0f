#include "tests/support/nats_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

namespace bver::testing {
namespace {

bool Accepts(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

std::string Tail(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 2000 ? s.substr(s.size() - 2000) : s;
}

bool Spawn(NatsServer& s, std::string* error) {
  std::string exe = NatsServerBinary();
  if (exe.empty()) {
    if (error) *error = "nats-server not found (apt-get install nats-server, or set BVER_NATS_SERVER)";
    return false;
  }
  std::filesystem::create_directories(s.store_dir);
  pid_t pid = ::fork();
  if (pid < 0) {
    if (error) *error = "fork failed";
    return false;
  }
  if (pid == 0) {
    int fd = ::open(s.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<std::string> args = {exe, "-a", "127.0.0.1", "-p", std::to_string(s.port), "-js", "-sd",
                                      s.store_dir.string()};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  s.pid = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      s.pid = -1;
      if (error) *error = "nats-server exited at start: " + Tail(s.log_path);
      return false;
    }
    if (Accepts(s.port)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  StopNatsServer(s, SIGKILL);
  if (error) *error = "nats-server did not accept connections within 15 s: " + Tail(s.log_path);
  return false;
}

}  // namespace

std::string NatsServerBinary() {
  if (const char* env = std::getenv("BVER_NATS_SERVER"); env != nullptr && *env != '\0') return env;
  std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
  std::stringstream ss(path + ":/usr/sbin:/usr/local/sbin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/nats-server";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

int FreeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = 0;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
    port = ntohs(a.sin_port);
  }
  ::close(fd);
  return port;
}

NatsServer StartNatsServer(const std::filesystem::path& store_dir, int port, std::string* error) {
  NatsServer s;
  s.store_dir = store_dir;
  s.log_path = store_dir.parent_path() / (store_dir.filename().string() + ".log");
  for (int attempt = 0; attempt < 3; ++attempt) {
    s.port = port != 0 ? port : FreeLoopbackPort();
    if (Spawn(s, error)) return s;
    if (port != 0) break;
  }
  s.pid = -1;
  return s;
}

bool RestartNatsServer(NatsServer& server, std::string* error) {
  StopNatsServer(server);
  return Spawn(server, error);
}

void StopNatsServer(NatsServer& server, int signal) {
  if (server.pid <= 0) return;
  ::kill(server.pid, signal);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (::waitpid(server.pid, &status, WNOHANG) != server.pid) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(server.pid, SIGKILL);
      ::waitpid(server.pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  server.pid = -1;
}

}  // namespace bver::testing
