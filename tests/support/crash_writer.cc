// crash_writer: a write load for the store's crash and concurrency tests
// (tests/store_crash_test.cc). It opens a store the way the CLI does and
// runs writer threads; after every acknowledged write (the Store call
// returned ok, so the write is committed) it prints one line
//
//   ACK bver://ns/repo/id~version
//
// with write(2), so the line is out of the process before the next write
// starts and nothing sits in a stdio buffer when the process is killed.
// A line is shorter than PIPE_BUF, so lines of different threads never mix.
//
//   crash_writer --store URL --platform FILE --mode sites --prefix P [--threads N]
//     Each thread creates sites P-t<thread>-<n> (kind power.substation,
//     {"name": id, "bays": 0}) and patches each to version 4, version v having
//     bays = v - 1; it runs until killed (or --max-seconds).
//
//   crash_writer --store URL --platform FILE --mode counter --target ID --count N [--threads N]
//     Each thread increments meta.counter of bver://sites/site/ID N times:
//     read the head, merge-patch counter + 1 with expected_version = the head
//     version, retry on a version conflict. Version v then holds counter v - 1.
//     Prints "DONE acks=A conflicts=C" and exits 0 when every thread is done.
//
// Any other failed write prints "ERR <status>" (and is retried), so the test
// sees every error the store returned. Exit codes: 0 done, 2 bad arguments or
// the store did not open, 3 --max-seconds passed.
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/store/open.h"
#include "src/store/store.h"

namespace {

using bver::Pointer;
using bver::Result;
using bver::Status;
using bver::StatusCode;
using nlohmann::json;
namespace store = bver::store;

constexpr std::uint64_t kVersionsPerSite = 4;

// Writes the whole line or exits: an unwritable stdout means the test is gone.
void Emit(const std::string& line) {
  std::string text = line + "\n";
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(1, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(4);
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void Ack(const store::Reference& r) { Emit("ACK " + r.pointer().ToString()); }
void Err(const Status& s) { Emit("ERR " + s.ToString()); }

store::WriteContext Context(const std::string& actor) {
  store::WriteContext c;
  c.actor = actor;
  c.correlation_id = "crash-writer";
  return c;
}

void SitesLoop(store::Store& s, const std::string& prefix, int thread) {
  store::WriteContext ctx = Context("writer-" + std::to_string(thread));
  for (std::uint64_t n = 0;; ++n) {
    std::string id = prefix + "-t" + std::to_string(thread) + "-" + std::to_string(n);
    while (true) {
      Result<store::Reference> r =
          s.Create("site", "power.substation", json{{"name", id}, {"bays", 0}}, ctx, id);
      if (r.ok()) {
        Ack(*r);
        break;
      }
      Err(r.status());
      if (r.status().code() == StatusCode::kAlreadyExists) break;  // an earlier attempt did commit
    }
    Pointer p = *Pointer::Parse("bver://sites/site/" + id);
    for (std::uint64_t v = 2; v <= kVersionsPerSite;) {
      store::WriteContext c = ctx;
      c.expected_version = v - 1;  // a retried write must not apply twice
      Result<store::Reference> r =
          s.Patch(p, store::PatchFormat::kMergePatch, json{{"bays", v - 1}}, c);
      if (r.ok()) {
        Ack(*r);
        ++v;
        continue;
      }
      Err(r.status());
      if (r.status().code() == StatusCode::kFailedPrecondition) ++v;  // stale: an earlier attempt did commit
    }
  }
}

void CounterLoop(store::Store& s, const Pointer& target, int thread, int count,
                 std::atomic<long>& acks, std::atomic<long>& conflicts) {
  store::WriteContext ctx = Context("counter-" + std::to_string(thread));
  for (int done = 0; done < count;) {
    Result<store::Reference> head = s.Get(target);
    if (!head.ok()) {
      Err(head.status());
      continue;
    }
    std::int64_t value = head->body->value(json::json_pointer("/meta/counter"), std::int64_t{0});
    store::WriteContext c = ctx;
    c.expected_version = head->version;
    Result<store::Reference> r = s.Patch(target, store::PatchFormat::kMergePatch,
                                         json{{"meta", {{"counter", value + 1}}}}, c);
    if (r.ok()) {
      Ack(*r);
      ++acks;
      ++done;
    } else if (r.status().code() == StatusCode::kFailedPrecondition) {  // stale expected version
      ++conflicts;
    } else {
      Err(r.status());
    }
  }
}

int Usage(const std::string& why) {
  std::cerr << "crash_writer: " << why << "\n"
            << "usage: crash_writer --store URL --platform FILE --mode sites|counter [--prefix P] "
               "[--target ID] [--count N] [--threads N] [--max-seconds S]\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args{{"--threads", "4"}, {"--max-seconds", "120"}};
  for (int i = 1; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0 || i + 1 >= argc) return Usage("bad argument " + k);
    args[k] = argv[++i];
  }
  for (const char* required : {"--store", "--platform", "--mode"}) {
    if (!args.count(required)) return Usage(std::string("missing ") + required);
  }
  const std::string mode = args["--mode"];
  const int threads = std::atoi(args["--threads"].c_str());
  const int max_seconds = std::atoi(args["--max-seconds"].c_str());
  if (threads < 1 || max_seconds < 1) return Usage("--threads and --max-seconds must be positive");
  if (mode == "sites" && args["--prefix"].empty()) return Usage("--mode sites needs --prefix");
  if (mode == "counter" && (args["--target"].empty() || std::atoi(args["--count"].c_str()) < 1)) {
    return Usage("--mode counter needs --target and a positive --count");
  }
  if (mode != "sites" && mode != "counter") return Usage("unknown mode " + mode);

  Result<bver::domain::Platform> platform = bver::domain::CompileFile(args["--platform"]);
  if (!platform.ok()) {
    std::cerr << "crash_writer: " << platform.status().ToString() << "\n";
    return 2;
  }
  Result<std::string> fp = bver::domain::ManifestFingerprint(bver::domain::ToManifest(*platform));
  if (!fp.ok()) {
    std::cerr << "crash_writer: " << fp.status().ToString() << "\n";
    return 2;
  }
  Result<std::unique_ptr<store::Store>> s =
      store::OpenStore(args["--store"], ".",
                       std::make_shared<bver::domain::Platform>(std::move(platform).value()), *fp);
  if (!s.ok()) {
    std::cerr << "crash_writer: " << s.status().ToString() << "\n";
    return 2;
  }
  store::Store& st = **s;

  // A writer the test forgot must not run forever.
  std::thread([max_seconds] {
    std::this_thread::sleep_for(std::chrono::seconds(max_seconds));
    std::cerr << "crash_writer: --max-seconds passed\n";
    ::_exit(3);
  }).detach();

  std::atomic<long> acks{0}, conflicts{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    if (mode == "sites") {
      workers.emplace_back([&st, prefix = args["--prefix"], t] { SitesLoop(st, prefix, t); });
    } else {
      Pointer target = *Pointer::Parse("bver://sites/site/" + args["--target"]);
      int count = std::atoi(args["--count"].c_str());
      workers.emplace_back([&st, target, t, count, &acks, &conflicts] {
        CounterLoop(st, target, t, count, acks, conflicts);
      });
    }
  }
  for (std::thread& w : workers) w.join();
  Emit("DONE acks=" + std::to_string(acks.load()) +
       " conflicts=" + std::to_string(conflicts.load()));
  return 0;
}
