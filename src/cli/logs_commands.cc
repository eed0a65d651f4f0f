// bver logs: the runtime's structured log (.bver/logs/bver.jsonl, written
// by bver up; src/server/logbook.h), filtered by correlation id, level and
// component, as readable lines or as the JSON records; --follow keeps
// printing what is appended, across rotations, until Ctrl-C.
#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/server/logbook.h"

namespace bver::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct LogsFlags {
  StoreFlags store;
  bool follow = false;
  std::string correlation_id;
  std::string level = "debug";
  std::string component;
  std::size_t lines = 100;
};

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int) { g_stop.store(true); }

class Filter {
 public:
  Filter(const LogsFlags& f, server::LogLevel min) : f_(f), min_(min) {}

  // The record of `line` when it passes; null otherwise (also for a line
  // that is not a JSON object: another writer's or a torn one).
  json Pass(const std::string& line) const {
    json r = json::parse(line, nullptr, false);
    if (!r.is_object()) return nullptr;
    std::optional<server::LogLevel> level = server::ParseLogLevel(r.value("level", ""));
    if (!level || *level < min_) return nullptr;
    if (!f_.correlation_id.empty() && r.value("correlation_id", "") != f_.correlation_id) return nullptr;
    if (!f_.component.empty() && r.value("component", "") != f_.component) return nullptr;
    return r;
  }

 private:
  const LogsFlags& f_;
  server::LogLevel min_;
};

void Print(const Output& o, const json& r) {
  if (o.json) {
    o.out << r.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    o.out << server::Logbook::Readable(r) << "\n";
  }
}

int Logs(const Output& o, const LogsFlags& f) {
  if (Status s = RequireProject(f.store); !s.ok()) return o.Fail(s);
  Result<StoreLocation> where = LocateStore(f.store);
  if (!where.ok()) return o.Fail(where.status());
  std::optional<server::LogLevel> min = server::ParseLogLevel(f.level);
  if (!min) return o.Fail(InvalidArgumentError("--level is debug, info, warn or error, not " + f.level));
  const std::string path = server::DefaultLogPath(where->project_dir);
  std::error_code ec;
  if (!fs::exists(path, ec) && !f.follow) {
    return o.Fail(NotFoundError("no log yet: " + path + " is written by `bver up` of this project"));
  }
  Filter filter(f, *min);

  // The rotated files, oldest first, then the current one; the last N
  // records that pass.
  std::deque<json> tail;
  for (int i = 9; i >= 0; --i) {
    std::string file = i == 0 ? path : path + "." + std::to_string(i);
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
      json r = filter.Pass(line);
      if (r.is_null()) continue;
      tail.push_back(std::move(r));
      if (f.lines > 0 && tail.size() > f.lines) tail.pop_front();
    }
  }
  for (const json& r : tail) Print(o, r);
  o.out.flush();
  if (!f.follow) return 0;

  // Follow: read what is appended; start again from the top of a new file
  // (rotated by the writer) when the file shrank or was replaced.
  ::signal(SIGINT, OnStopSignal);
  ::signal(SIGTERM, OnStopSignal);
  std::ifstream in;
  ino_t inode = 0;
  std::streamoff pos = 0;
  auto open_at_end = [&](bool at_end) {
    in.close();
    in.clear();
    in.open(path);
    struct stat st {};
    inode = ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
    if (at_end && in) in.seekg(0, std::ios::end);
    pos = in ? static_cast<std::streamoff>(in.tellg()) : 0;
  };
  open_at_end(true);
  std::string partial;
  while (!g_stop.load()) {
    struct stat st {};
    bool exists = ::stat(path.c_str(), &st) == 0;
    if (exists && (st.st_ino != inode || st.st_size < pos || !in.is_open())) open_at_end(false);
    if (in.is_open()) {
      std::string chunk;
      char buf[8192];
      in.clear();
      while (in.read(buf, sizeof buf) || in.gcount() > 0) chunk.append(buf, static_cast<std::size_t>(in.gcount()));
      in.clear();
      pos = static_cast<std::streamoff>(in.tellg());
      partial += chunk;
      std::size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        json r = filter.Pass(partial.substr(0, nl));
        partial.erase(0, nl + 1);
        if (!r.is_null()) Print(o, r);
      }
      o.out.flush();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return 0;
}

}  // namespace

void RegisterLogsCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  auto f = std::make_shared<LogsFlags>();
  CLI::App* cmd = app.add_subcommand(
      "logs", "Show the runtime's log (.bver/logs/bver.jsonl: requests, job, run and trigger transitions)");
  AddStoreFlags(cmd, f->store);
  cmd->add_flag("--follow", f->follow, "Keep printing new records until Ctrl-C");
  cmd->add_option("--correlation-id", f->correlation_id, "Only the records of this correlation id");
  cmd->add_option("--level", f->level, "The least level shown: debug, info, warn or error")->capture_default_str();
  cmd->add_option("--component", f->component, "Only this component: up, op, job, orch, trigger or audit");
  cmd->add_option("-n,--lines", f->lines, "The last N records that match (0: all)")->capture_default_str();
  cmd->callback([&ctx, f] {
    ctx.action = [&ctx, f] { return Logs(Output{ctx.out, ctx.err, f->store.json}, *f); };
  });
}

}  // namespace bver::cli
