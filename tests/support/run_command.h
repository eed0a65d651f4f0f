// Runs a program the way a user or a script would, for integration tests:
// arguments, optional environment changes and standard input; captures exit
// code, stdout, stderr and peak memory. Not thread-safe (uses files in
// `scratch_dir` named stdout/stderr).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace bver::testing {

struct CommandResult {
  int code = -1;  // exit code, or 128 + signal
  std::string out;
  std::string err;
  long max_rss_kib = 0;  // the child's peak resident memory
};

struct CommandOptions {
  // Set in the child; an empty value unsets the variable.
  std::map<std::string, std::string> env;
  std::string stdin_file;  // empty: inherit
};

CommandResult RunCommand(const std::string& exe, const std::vector<std::string>& args,
                         const std::filesystem::path& scratch_dir, const CommandOptions& options = {});

// Starts `exe args...` in the background, its stdout and stderr into
// `log_path`; its pid (the caller reaps it with StopCommand).
pid_t StartCommand(const std::string& exe, const std::vector<std::string>& args,
                   const std::filesystem::path& log_path);
// Sends `signal` (none when 0) and waits: the exit code, or 128 + signal.
int StopCommand(pid_t pid, int signal);

// The whole content of a file ("" when it cannot be read).
std::string ReadFileForTest(const std::filesystem::path& path);

}  // namespace bver::testing
