#include "tests/support/run_command.h"

#include "tests/support/child_registry.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace bver::testing {

std::string ReadFileForTest(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

CommandResult RunCommand(const std::string& exe, const std::vector<std::string>& args,
                         const std::filesystem::path& scratch_dir, const CommandOptions& options) {
  std::filesystem::path out = scratch_dir / "stdout", err = scratch_dir / "stderr";
  pid_t pid = ::fork();
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(o, 1);
    ::dup2(e, 2);
    if (!options.stdin_file.empty()) {
      int i = ::open(options.stdin_file.c_str(), O_RDONLY);
      ::dup2(i, 0);
    }
    for (const auto& [k, v] : options.env) {
      if (v.empty()) {
        ::unsetenv(k.c_str());
      } else {
        ::setenv(k.c_str(), v.c_str(), 1);
      }
    }
    std::vector<std::string> copy = args;
    std::string program = exe;
    std::vector<char*> argv{program.data()};
    for (std::string& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(program.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  struct rusage usage {};
  ::wait4(pid, &status, 0, &usage);
  CommandResult r;
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFileForTest(out);
  r.err = ReadFileForTest(err);
  r.max_rss_kib = usage.ru_maxrss;
  return r;
}

pid_t StartCommand(const std::string& exe, const std::vector<std::string>& args,
                   const std::filesystem::path& log_path) {
  std::vector<std::string> all = {exe};
  all.insert(all.end(), args.begin(), args.end());
  pid_t pid = ::fork();
  if (pid == 0) {
    int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (std::string& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  ChildRegistry::Get().Track(pid);
  return pid;
}

int StopCommand(pid_t pid, int signal) {
  if (signal != 0) ::kill(pid, signal);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ChildRegistry::Get().Forget(pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace bver::testing
