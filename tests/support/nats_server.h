// A real nats-server with JetStream (Debian package nats-server) for the
// relay's tests and benchmark: started as a child process on a free
// loopback port with its JetStream storage in a folder, stopped with a
// signal, and restarted on the same port and storage (what a crash and a
// restart of the broker look like to the relay).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace bver::testing {

struct NatsServer {
  pid_t pid = -1;
  int port = 0;
  std::filesystem::path store_dir;  // -sd: JetStream storage
  std::filesystem::path log_path;   // its stdout and stderr
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port); }
};

// The nats-server binary: $BVER_NATS_SERVER, else nats-server on PATH, else
// /usr/sbin/nats-server (where Debian puts it). Empty when none is found.
std::string NatsServerBinary();

// A port nobody listens on right now (bound to 0, then released).
int FreeLoopbackPort();

// `nats-server -a 127.0.0.1 -p PORT -js -sd STORE_DIR` (port 0: a free one),
// waiting up to 15 s until it accepts connections. On failure pid is -1 and
// `error` says why (the log's tail included).
NatsServer StartNatsServer(const std::filesystem::path& store_dir, int port, std::string* error);

// Starts it again on the same port and storage; false (and `error`) when it
// does not come up.
bool RestartNatsServer(NatsServer& server, std::string* error);

// Sends `signal` (SIGTERM by default) and waits up to 10 s for it to exit,
// then SIGKILL. No-op when it is not running.
void StopNatsServer(NatsServer& server, int signal = 15);

}  // namespace bver::testing
