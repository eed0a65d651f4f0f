// Starts the real `bver up` as a child process for end-to-end tests and
// stops it: the port comes from the one line it prints ("listening on
// http://127.0.0.1:PORT"); its stderr goes to a file in the project folder.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <vector>

namespace bver::testing {

struct ServerProcess {
  pid_t pid = -1;
  int port = 0;  // 0: it did not start (see stderr_path)
  std::filesystem::path stderr_path;
};

// `bver -C dir up ARGS...`; waits up to 60 s for the listening line.
ServerProcess StartBverUp(const std::string& exe, const std::filesystem::path& dir,
                          const std::vector<std::string>& args);

// Sends `signal` (SIGTERM by default) and waits; the exit code, or 128 +
// signal when it was killed by one. -1 when there is no process.
int StopServer(ServerProcess& server, int signal = 15);

// Waits for the process to exit by itself, up to `seconds`; its exit code
// as StopServer, or -1 on timeout.
int WaitServer(ServerProcess& server, int seconds);

}  // namespace bver::testing
