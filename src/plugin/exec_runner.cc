// The exec runner: one subprocess per invocation.
//
// Between fork and exec the child calls only async-signal-safe functions
// (the runtime is multi-threaded), so everything it needs -- argv, envp, the
// limits -- is prepared before fork.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "src/plugin/runner.h"

namespace bver::plugin {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {



std::string ErrnoText(int err) { return std::string(strerrordesc_np(err) ? strerrordesc_np(err) : "unknown error"); }

std::string SignalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

// Stages the child reports on its error pipe when it cannot exec.
enum ChildStage : int {
  kStageDup = 1,
  kStageChdir,
  kStageRlimit,
  kStageNetns,
  kStageExec,
};
const char* StageName(int stage) {
  switch (stage) {
    case kStageDup: return "redirecting stdio";
    case kStageChdir: return "changing to the plugin folder";
    case kStageRlimit: return "setting resource limits";
    case kStageNetns: return "isolating the network (unshare)";
    case kStageExec: return "exec";
  }
  return "starting";
}

struct ChildError {
  int stage;
  int err;
};

[[noreturn]] void ChildFail(int fd, int stage) {
  ChildError e{stage, errno};
  ssize_t ignored = write(fd, &e, sizeof e);
  (void)ignored;
  _exit(127);
}

// The probe result of NetworkIsolationStatus: 0 NEWNET alone, 1 with NEWUSER.
int TryUnshareNet() {
  if (unshare(CLONE_NEWNET) == 0) return 0;
  if (unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) return 1;
  return -1;
}

bool IsExecutable(const fs::path& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(p.c_str(), X_OK) == 0;
}

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// "stderr tail" violation, when there is one.
std::vector<Violation> TailViolation(const std::string& tail) {
  if (tail.empty()) return {};
  return {{"stderr", "plugin.stderr", tail}};
}

// The last line of stderr that says something, for the one-line message.
std::string LastLine(const std::string& tail) {
  std::size_t end = tail.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  std::size_t begin = tail.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  std::string line = tail.substr(begin, end - begin + 1);
  if (line.size() > 300) line = line.substr(0, 300) + "...";
  return line;
}

bool MentionsMemory(const std::string& tail) {
  for (const char* needle : {"MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory",
                             "Out of memory", "memory exhausted"}) {
    if (tail.find(needle) != std::string::npos) return true;
  }
  return false;
}

class ExecRunner final : public Runner {
 public:
  ExecRunner(std::string plugin_id, std::string folder, std::vector<std::string> entry,
             CapabilitySpec cap)
      : plugin_id_(std::move(plugin_id)),
        folder_(std::move(folder)),
        entry_(std::move(entry)),
        cap_(std::move(cap)) {}

  Result<json> Invoke(const Invocation& inv) override;

 private:
  Result<std::string> ResolveProgram() const;
  std::string Who() const { return "plugin " + plugin_id_ + " (capability " + cap_.id + ")"; }

  std::string plugin_id_;
  std::string folder_;
  std::vector<std::string> entry_;
  CapabilitySpec cap_;
};

Result<std::string> ExecRunner::ResolveProgram() const {
  const std::string& prog = entry_[0];
  if (prog.find('/') != std::string::npos) {
    fs::path p = fs::path(folder_) / prog;
    if (!IsExecutable(p)) {
      return FailedPreconditionError(Who() + ": entry " + p.string() + " is not an executable file");
    }
    return p.string();
  }
  std::string path = kPluginPath;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!dir.empty() && IsExecutable(fs::path(dir) / prog)) return (fs::path(dir) / prog).string();
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  if (IsExecutable(fs::path(folder_) / prog)) return (fs::path(folder_) / prog).string();
  return FailedPreconditionError(Who() + ": program \"" + prog + "\" is not on PATH (" + kPluginPath +
                                 ") nor an executable in " + folder_);
}

Result<json> ExecRunner::Invoke(const Invocation& inv) {
  std::string request;
  try {
    request = RequestText(inv);
  } catch (const json::exception& e) {
    return InvalidArgumentError(Who() + ": the request cannot be encoded as JSON: " + e.what());
  }
  BVER_ASSIGN_OR_RETURN(std::string program, ResolveProgram());

  bool isolate = !cap_.network && NetworkIsolationAvailable();

  // A fresh HOME, removed afterwards.
  static std::once_flag swept;
  std::call_once(swept, [] { RemoveHomesOfDeadRuntimes(); });
  std::string home_template =
      (fs::temp_directory_path() / ("bver-plugin-" + std::to_string(getpid()) + "-XXXXXX")).string();
  if (mkdtemp(home_template.data()) == nullptr) {
    return InternalError(Who() + ": cannot create a temporary HOME: " + ErrnoText(errno));
  }
  const std::string home = home_template;
  struct HomeCleanup {
    std::string dir;
    ~HomeCleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{home};

  // Everything the child needs, built before fork.
  std::vector<std::string> args = entry_;
  args[0] = program;
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = {std::string("PATH=") + kPluginPath, "HOME=" + home, "LANG=C.UTF-8"};
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string folder = folder_;
  // An unprivileged process cannot raise a hard limit: ask for at most what
  // the runtime itself may have, so a low inherited limit tightens, never fails.
  auto clamp = [](int resource, rlim_t want) {
    struct rlimit cur {};
    if (getrlimit(resource, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && want > cur.rlim_max) {
      return cur.rlim_max;
    }
    return want;
  };
  const rlim_t mem = clamp(RLIMIT_AS, static_cast<rlim_t>(cap_.limits.memory_mb) << 20);
  const rlim_t cpu = clamp(RLIMIT_CPU, static_cast<rlim_t>(cap_.limits.cpu_seconds));
  const rlim_t cpu_hard = clamp(RLIMIT_CPU, cpu + 1);
  const rlim_t nofile = clamp(RLIMIT_NOFILE, static_cast<rlim_t>(cap_.limits.open_files));
  const rlim_t nproc = clamp(RLIMIT_NPROC, static_cast<rlim_t>(cap_.limits.processes));

  // stdin is a socket so a plugin that exits without reading gives EPIPE on
  // send(MSG_NOSIGNAL), never a SIGPIPE in the runtime.
  int in_pair[2], out_pipe[2], err_pipe[2], status_pipe[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in_pair) != 0) {
    return InternalError(Who() + ": socketpair: " + ErrnoText(errno));
  }
  if (pipe2(out_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    close(in_pair[0]);
    close(in_pair[1]);
    return InternalError(Who() + ": pipe: " + ErrnoText(e));
  }
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    for (int fd : {in_pair[0], in_pair[1], out_pipe[0], out_pipe[1]}) close(fd);
    return InternalError(Who() + ": pipe: " + ErrnoText(e));
  }
  if (pipe2(status_pipe, O_CLOEXEC) != 0) {
    int e = errno;
    for (int fd : {in_pair[0], in_pair[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
    return InternalError(Who() + ": pipe: " + ErrnoText(e));
  }

  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    for (int fd : {in_pair[0], in_pair[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1],
                   status_pipe[0], status_pipe[1]}) {
      close(fd);
    }
    return Status(StatusCode::kUnavailable, Who() + ": fork: " + ErrnoText(e));
  }
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    setpgid(0, 0);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) sigaction(s, &dfl, nullptr);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int sfd = status_pipe[1];
    if (dup2(in_pair[1], 0) < 0 || dup2(out_pipe[1], 1) < 0 || dup2(err_pipe[1], 2) < 0) {
      ChildFail(sfd, kStageDup);
    }
    // Close everything else but the status pipe (close-on-exec).
    if (sfd > 3) close_range(3, static_cast<unsigned>(sfd - 1), 0);
    close_range(static_cast<unsigned>(sfd + 1), ~0U, 0);
    if (chdir(folder.c_str()) != 0) ChildFail(sfd, kStageChdir);
    if (isolate && TryUnshareNet() < 0) ChildFail(sfd, kStageNetns);
    struct rlimit rl {};
    rl = {mem, mem};
    if (setrlimit(RLIMIT_AS, &rl) != 0) ChildFail(sfd, kStageRlimit);
    rl = {cpu, cpu_hard};  // SIGXCPU at the soft limit, SIGKILL a second later
    if (setrlimit(RLIMIT_CPU, &rl) != 0) ChildFail(sfd, kStageRlimit);
    rl = {nofile, nofile};
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) ChildFail(sfd, kStageRlimit);
    rl = {nproc, nproc};
    if (setrlimit(RLIMIT_NPROC, &rl) != 0) ChildFail(sfd, kStageRlimit);
    rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    execve(argv[0], argv.data(), envp.data());
    ChildFail(sfd, kStageExec);
  }

  // Parent.
  setpgid(pid, pid);  // also done by the child; whichever runs first wins
  int in_fd = in_pair[0], out_fd = out_pipe[0], err_fd = err_pipe[0];
  close(in_pair[1]);
  close(out_pipe[1]);
  close(err_pipe[1]);
  close(status_pipe[1]);
  ChildError child_error{0, 0};
  ssize_t got;
  do {
    got = read(status_pipe[0], &child_error, sizeof child_error);
  } while (got < 0 && errno == EINTR);
  close(status_pipe[0]);
  if (got == static_cast<ssize_t>(sizeof child_error)) {
    waitpid(pid, nullptr, 0);
    CloseFd(in_fd);
    CloseFd(out_fd);
    CloseFd(err_fd);
    std::string msg = Who() + ": cannot start " + program + ": " + StageName(child_error.stage) +
                      " failed: " + ErrnoText(child_error.err);
    if (child_error.stage == kStageExec || child_error.stage == kStageChdir) {
      return FailedPreconditionError(msg);
    }
    return InternalError(msg);
  }

  SetNonBlocking(in_fd);
  SetNonBlocking(out_fd);
  SetNonBlocking(err_fd);
  const auto timeout = std::chrono::seconds(cap_.limits.timeout_seconds);
  const auto deadline = Clock::now() + timeout;
  std::string out, err_tail;
  std::size_t written = 0;
  bool timed_out = false, overflow = false, cancelled = false;
  if (request.empty()) {
    shutdown(in_fd, SHUT_WR);
    CloseFd(in_fd);
  }
  char buf[65536];
  while (out_fd >= 0 || err_fd >= 0) {
    if (inv.cancel != nullptr && inv.cancel->load()) {
      cancelled = true;
      break;
    }
    auto now = Clock::now();
    if (now >= deadline) {
      timed_out = true;
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    int wait_ms = static_cast<int>(std::min<long long>(left + 1, 100));
    pollfd fds[3];
    int n = 0;
    int in_idx = -1, out_idx = -1, err_idx = -1;
    if (in_fd >= 0) {
      in_idx = n;
      fds[n++] = {in_fd, POLLOUT, 0};
    }
    if (out_fd >= 0) {
      out_idx = n;
      fds[n++] = {out_fd, POLLIN, 0};
    }
    if (err_fd >= 0) {
      err_idx = n;
      fds[n++] = {err_fd, POLLIN, 0};
    }
    int r = poll(fds, static_cast<nfds_t>(n), wait_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (in_idx >= 0 && fds[in_idx].revents != 0) {
      ssize_t w = send(in_fd, request.data() + written, request.size() - written,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) written += static_cast<std::size_t>(w);
      if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == request.size()) {
        // Done, or the plugin stopped reading (EPIPE): either way stdin ends here.
        shutdown(in_fd, SHUT_WR);
        CloseFd(in_fd);
      }
    }
    if (out_idx >= 0 && fds[out_idx].revents != 0) {
      ssize_t rd = read(out_fd, buf, sizeof buf);
      if (rd > 0) {
        out.append(buf, static_cast<std::size_t>(rd));
        if (out.size() > kMaxResponseBytes) {
          overflow = true;
          break;
        }
      } else if (rd == 0 || (errno != EAGAIN && errno != EINTR)) {
        CloseFd(out_fd);
      }
    }
    if (err_idx >= 0 && fds[err_idx].revents != 0) {
      ssize_t rd = read(err_fd, buf, sizeof buf);
      if (rd > 0) {
        err_tail.append(buf, static_cast<std::size_t>(rd));
        if (err_tail.size() > 2 * kStderrTailBytes) {
          err_tail.erase(0, err_tail.size() - kStderrTailBytes);
        }
      } else if (rd == 0 || (errno != EAGAIN && errno != EINTR)) {
        CloseFd(err_fd);
      }
    }
  }
  CloseFd(in_fd);
  CloseFd(out_fd);
  CloseFd(err_fd);
  if (err_tail.size() > kStderrTailBytes) err_tail.erase(0, err_tail.size() - kStderrTailBytes);

  // Wait for the process (it may have closed its output and kept running).
  bool killed_by_us = false;
  if (timed_out || overflow || cancelled) {
    kill(-pid, SIGKILL);
    kill(pid, SIGKILL);
    killed_by_us = true;
  }
  siginfo_t info{};
  for (;;) {
    info.si_pid = 0;
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT | WNOHANG) == 0 && info.si_pid == pid) {
      break;
    }
    if (!killed_by_us && inv.cancel != nullptr && inv.cancel->load()) {
      cancelled = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      killed_by_us = true;
    }
    if (!killed_by_us && Clock::now() >= deadline) {
      timed_out = true;
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      killed_by_us = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // The process is a zombie now, so its process group id cannot be reused
  // yet: anything it left running in its group is killed, then it is reaped.
  kill(-pid, SIGKILL);
  int wstatus = 0;
  rusage usage{};
  while (wait4(pid, &wstatus, 0, &usage) < 0 && errno == EINTR) {
  }

  const std::string limit_note = "it may have exceeded its memory limit of " +
                                 std::to_string(cap_.limits.memory_mb) + " MiB";
  if (cancelled) return Status(StatusCode::kCancelled, Who() + " was cancelled and killed");
  if (timed_out) {
    return Status(StatusCode::kDeadlineExceeded,
                  Who() + " did not answer within " + std::to_string(cap_.limits.timeout_seconds) +
                      " s; its process group was killed",
                  TailViolation(err_tail));
  }
  if (overflow) {
    return Status(StatusCode::kResourceExhausted,
                  Who() + " wrote more than " + std::to_string(kMaxResponseBytes >> 20) +
                      " MiB on stdout; it was killed",
                  TailViolation(err_tail));
  }
  std::string last = LastLine(err_tail);
  std::string said = last.empty() ? "" : " (stderr: " + last + ")";
  if (WIFSIGNALED(wstatus)) {
    int sig = WTERMSIG(wstatus);
    std::int64_t rss_mb = usage.ru_maxrss / 1024;
    bool memory = MentionsMemory(err_tail) || sig == SIGKILL ||
                  ((sig == SIGSEGV || sig == SIGABRT || sig == SIGBUS) && rss_mb * 2 >= cap_.limits.memory_mb);
    if (sig == SIGXCPU || (sig == SIGKILL && usage.ru_utime.tv_sec + usage.ru_stime.tv_sec >= cap_.limits.cpu_seconds)) {
      return Status(StatusCode::kResourceExhausted,
                    Who() + " exceeded its CPU limit of " + std::to_string(cap_.limits.cpu_seconds) +
                        " s and was killed with " + SignalName(sig) + said,
                    TailViolation(err_tail));
    }
    if (memory) {
      return Status(StatusCode::kResourceExhausted,
                    Who() + " crashed with " + SignalName(sig) + "; " + limit_note + said,
                    TailViolation(err_tail));
    }
    return Status(StatusCode::kInternal, Who() + " crashed with " + SignalName(sig) + said,
                  TailViolation(err_tail));
  }
  int exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
  if (exit_code != 0) {
    // A plugin may report its error properly and still exit non-zero.
    Result<json> parsed = ParseResponse(plugin_id_, out);
    if (!parsed.ok() && parsed.status().code() != StatusCode::kDataLoss) {
      return Status(parsed.status().code(), parsed.status().message(), TailViolation(err_tail));
    }
    if (MentionsMemory(err_tail)) {
      return Status(StatusCode::kResourceExhausted,
                    Who() + " ran out of memory and exited with status " + std::to_string(exit_code) +
                        "; " + limit_note + said,
                    TailViolation(err_tail));
    }
    return Status(StatusCode::kInternal,
                  Who() + " exited with status " + std::to_string(exit_code) + said,
                  TailViolation(err_tail));
  }
  Result<json> parsed = ParseResponse(plugin_id_, out);
  if (!parsed.ok()) {
    return Status(parsed.status().code(), parsed.status().message(), TailViolation(err_tail));
  }
  return parsed;
}

}  // namespace

const NetworkIsolation& NetworkIsolationStatus() {
  static const NetworkIsolation kStatus = [] {
    NetworkIsolation n;
    pid_t pid = fork();
    if (pid < 0) {
      n.reason = "cannot fork to probe unshare: " + ErrnoText(errno);
      return n;
    }
    if (pid == 0) {
      int r = TryUnshareNet();
      _exit(r < 0 ? (10 + (errno & 0x7f)) : r);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
    if (code == 0) {
      n.available = true;
      n.method = "unshare(CLONE_NEWNET)";
    } else if (code == 1) {
      n.available = true;
      n.method = "unshare(CLONE_NEWUSER|CLONE_NEWNET)";
    } else {
      n.reason = code >= 10 && code < 255
                     ? "unshare(CLONE_NEWNET) and unshare(CLONE_NEWUSER|CLONE_NEWNET) both failed: " +
                           ErrnoText(code - 10) +
                           " (run as root, or allow unprivileged user namespaces: "
                           "sysctl kernel.unprivileged_userns_clone=1)"
                     : "the unshare probe did not finish";
    }
    return n;
  }();
  return kStatus;
}

bool NetworkIsolationAvailable(std::string* reason) {
  const NetworkIsolation& n = NetworkIsolationStatus();
  if (!n.available && reason != nullptr) *reason = n.reason;
  return n.available;
}

int RemoveHomesOfDeadRuntimes() {
  constexpr std::string_view kPrefix = "bver-plugin-";
  int removed = 0;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(fs::temp_directory_path(ec), ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0) continue;
    const std::size_t dash = name.find('-', kPrefix.size());
    if (dash == std::string::npos) continue;
    const std::string digits = name.substr(kPrefix.size(), dash - kPrefix.size());
    if (digits.empty() || digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t owner = static_cast<pid_t>(std::stol(digits));
    if (owner == getpid() || kill(owner, 0) == 0 || errno == EPERM) continue;
    std::error_code rm;
    if (fs::remove_all(e.path(), rm) > 0) ++removed;
  }
  return removed;
}

Result<std::unique_ptr<Runner>> MakeExecRunner(const Manifest& manifest, const std::string& capability_id) {
  if (manifest.kind != PluginKind::kExec) {
    return FailedPreconditionError("plugin " + manifest.plugin_id + " is not an exec plugin");
  }
  const CapabilitySpec* cap = manifest.FindCapability(capability_id);
  if (cap == nullptr) {
    return NotFoundError("plugin " + manifest.plugin_id + " provides no capability " + capability_id);
  }
  if (manifest.entry.empty()) {
    return FailedPreconditionError("plugin " + manifest.plugin_id + " has no entry");
  }
  return std::unique_ptr<Runner>(
      std::make_unique<ExecRunner>(manifest.plugin_id, manifest.folder, manifest.entry, *cap));
}

}  // namespace bver::plugin
