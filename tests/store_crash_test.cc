// Crash and cross-process tests of the store (the store issue, point 9):
//
// - kill -9 a process in the middle of a write loop, reopen, and check that
//   every acknowledged write is there with its version, body, diff, event
//   and ledger entry; that event offsets run 1..max with no gap; that every
//   event belongs to a committed version (nothing half-written); that the
//   ledger verifies with one entry per event; and that the store still takes
//   writes. Several kills in a row on the same store.
// - two processes increment one counter with expected_version and retry:
//   no increment is lost.
//
// The writers are tests/support/crash_writer.cc, started with fork/exec;
// their acknowledgements come over a pipe, one line per committed write.
// Both backends run; the PostgreSQL cluster is started by the test and the
// PostgreSQL cases fail (never skip) when it cannot start.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/store/open.h"
#include "src/store/store.h"
#include "tests/support/pg_cluster.h"

namespace bver::store {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kPlatform = BVER_SOURCE_DIR "/examples/substation/bver.yaml";


// A fresh, empty store for one test; returns its URL.
Result<std::string> NewStoreUrl(const std::string& backend, const fs::path& dir) {
  if (backend == "sqlite") return "sqlite:" + (dir / "bver.db").string() + "?durability=full";
  BVER_ASSIGN_OR_RETURN(bver::testing::PgCluster * c, bver::testing::SharedPgCluster());
  std::string db = dir.filename().string();
  for (char& ch : db) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return c->NewDatabase(db);
}

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A crash_writer child whose stdout is a pipe read line by line.
class Writer {
 public:
  Writer(const std::vector<std::string>& args, const fs::path& stderr_file)
      : stderr_file_(stderr_file) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return;
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ == 0) {
      // The writer dies with the test, whatever happens to the test.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(126);
      int err = ::open(stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fds[1], 1);
      if (err >= 0) ::dup2(err, 2);
      std::vector<std::string> owned = args;
      std::string exe = CRASH_WRITER_EXE;
      std::vector<char*> argv{exe.data()};
      for (std::string& a : owned) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(exe.c_str(), argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);
    fd_ = fds[0];
  }
  ~Writer() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
    if (fd_ >= 0) ::close(fd_);
  }

  bool started() const { return pid_ > 0 && fd_ >= 0; }
  int fd() const { return fd_; }

  // Reads what is available (waiting at most `timeout`); false at EOF.
  bool ReadSome(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (n <= 0) return true;
    char buf[4096];
    ssize_t got = ::read(fd_, buf, sizeof buf);
    if (got < 0 && errno == EINTR) return true;
    if (got <= 0) return false;
    partial_.append(buf, static_cast<std::size_t>(got));
    std::size_t nl;
    while ((nl = partial_.find('\n')) != std::string::npos) {
      std::string line = partial_.substr(0, nl);
      partial_.erase(0, nl + 1);
      if (line.rfind("ACK ", 0) == 0) {
        acks_.push_back(line.substr(4));
      } else if (line.rfind("ERR ", 0) == 0) {
        errors_.push_back(line.substr(4));
      } else {
        other_.push_back(line);
      }
    }
    return true;
  }

  // Reads until `count` acknowledgements, EOF or the deadline; true when
  // `count` was reached.
  bool ReadUntil(std::size_t count, Clock::time_point deadline) {
    while (acks_.size() < count && Clock::now() < deadline) {
      if (!ReadSome(std::chrono::milliseconds(50))) return false;
    }
    return acks_.size() >= count;
  }

  // SIGKILL, then the lines that were already in the pipe: each was written
  // after its write was acknowledged, so they count.
  void KillAndDrain() {
    ::kill(pid_, SIGKILL);
    Wait();
    while (ReadSome(std::chrono::milliseconds(1000))) {
    }
  }

  int Wait() {
    if (!reaped_) {
      ::waitpid(pid_, &status_, 0);
      reaped_ = true;
    }
    return status_;
  }
  bool killed_by_sigkill() const {
    return reaped_ && WIFSIGNALED(status_) && WTERMSIG(status_) == SIGKILL;
  }
  std::string stderr_text() const { return Slurp(stderr_file_); }

  const std::vector<std::string>& acks() const { return acks_; }
  const std::vector<std::string>& errors() const { return errors_; }
  const std::vector<std::string>& other() const { return other_; }

 private:
  fs::path stderr_file_;
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
  std::string partial_;
  std::vector<std::string> acks_, errors_, other_;
};

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (std::size_t i = 0; i < lines.size() && i < 10; ++i) out += "\n  " + lines[i];
  if (lines.size() > 10) out += "\n  ... (" + std::to_string(lines.size()) + " in all)";
  return out;
}

// Collects problems and reports the first few, so a broken store gives a
// readable failure instead of thousands of lines.
class Audit {
 public:
  explicit Audit(std::string what) : what_(std::move(what)) {}
  ~Audit() {
    if (!problems_.empty())
      ADD_FAILURE() << what_ << ": " << problems_.size() << " problem(s):" << Join(problems_);
  }
  void Add(std::string p) { problems_.push_back(std::move(p)); }

 private:
  std::string what_;
  std::vector<std::string> problems_;
};

class StoreProcessTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    // Also the PostgreSQL database name: short, lower case.
    static int seq = 0;
    dir_ = fs::temp_directory_path() / ("bver_crash_" + std::to_string(::getpid()) + "_" +
                                        std::to_string(++seq) + "_" + GetParam());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Result<domain::Platform> p = domain::CompileFile(kPlatform);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    Result<std::string> fp = domain::ManifestFingerprint(domain::ToManifest(*p));
    ASSERT_TRUE(fp.ok()) << fp.status().ToString();
    fingerprint_ = *fp;
    platform_ = std::make_shared<domain::Platform>(std::move(p).value());
    Result<std::string> url = NewStoreUrl(GetParam(), dir_);
    ASSERT_TRUE(url.ok()) << url.status().ToString();
    url_ = *url;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<Store> OpenStore() {
    Result<std::unique_ptr<Store>> s =
        store::OpenStore(url_, dir_.string(), platform_, fingerprint_);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  std::vector<std::string> WriterArgs(const std::string& mode) const {
    return {"--store", url_, "--platform", kPlatform, "--mode", mode, "--max-seconds", "60"};
  }

  // Every event, in offset order.
  static std::vector<Event> AllEvents(Store& s) {
    std::vector<Event> all;
    while (true) {
      Result<std::vector<Event>> page = s.ReadEvents(all.size() + 1, 10000);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok() || page->empty()) return all;
      for (Event& e : *page) all.push_back(std::move(e));
    }
  }

  fs::path dir_;
  std::string url_;
  std::string fingerprint_;
  std::shared_ptr<domain::Platform> platform_;
};

// The body crash_writer writes at each version of a site: see crash_writer.cc.
json SiteBody(const std::string& id, std::uint64_t version) {
  return {{"name", id}, {"status", "draft"}, {"bays", version - 1}};
}

// Checks the whole store against the acknowledged writes (pointers with
// versions), as described at the top of this file.
void CheckStore(Store& s, const std::vector<std::string>& acked, const std::string& round) {
  Audit audit("store after " + round);

  // Events: offsets 1..max without a gap.
  std::vector<Event> events;
  while (true) {
    Result<std::vector<Event>> page = s.ReadEvents(events.size() + 1, 10000);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    if (page->empty()) break;
    for (Event& e : *page) events.push_back(std::move(e));
  }
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].offset != i + 1) {
      audit.Add("event #" + std::to_string(i + 1) + " has offset " +
                std::to_string(events[i].offset));
    }
    if (events[i].envelope->value("offset", std::uint64_t{0}) != events[i].offset) {
      audit.Add("event " + std::to_string(events[i].offset) + ": envelope offset differs");
    }
  }

  // Ledger: verifies, one entry per event, each naming its event.
  Result<LedgerVerification> v = s.VerifyLedger();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->ok) << "first broken " << v->first_broken << ": " << v->problem;
  EXPECT_EQ(v->entries, events.size()) << "every mutation writes exactly one ledger entry";
  std::map<std::uint64_t, json> ledger_by_offset;  // event offset -> entry
  for (std::uint64_t seq = 1;;) {
    Result<std::vector<LedgerRow>> rows = s.backend().ReadLedger(seq, 1000);
    ASSERT_TRUE(rows.ok()) << rows.status().ToString();
    if (rows->empty()) break;
    for (const LedgerRow& r : *rows) {
      json e = json::parse(r.entry);
      if (!ledger_by_offset.emplace(e.value("event_offset", std::uint64_t{0}), e).second) {
        audit.Add("two ledger entries for event " + e.value("event_offset", json()).dump());
      }
      seq = r.seq + 1;
    }
  }
  EXPECT_EQ(ledger_by_offset.size(), events.size());

  // Every event belongs to a committed version, which points back at it,
  // and has its ledger entry: nothing was half-written by a kill.
  std::map<std::string, std::vector<VersionInfo>> history;  // unpinned pointer -> history
  auto history_of = [&](const Pointer& p) -> const std::vector<VersionInfo>* {
    std::string key = p.Unpinned().ToString();
    auto it = history.find(key);
    if (it == history.end()) {
      Result<std::vector<VersionInfo>> h = s.History(p.Unpinned());
      if (!h.ok()) return nullptr;
      it = history.emplace(key, std::move(h).value()).first;
    }
    return &it->second;
  };
  std::map<std::string, std::uint64_t> offset_of;  // pinned pointer -> event offset
  for (const Event& e : events) {
    std::string ptr = e.envelope->value("object_pointer", "");
    offset_of[ptr] = e.offset;
    Result<Pointer> p = Pointer::Parse(ptr);
    if (!p.ok() || !p->version()) {
      audit.Add("event " + std::to_string(e.offset) + ": bad object_pointer " + ptr);
      continue;
    }
    const std::vector<VersionInfo>* h = history_of(*p);
    if (h == nullptr || *p->version() == 0 || *p->version() > h->size() ||
        (*h)[*p->version() - 1].event_offset != e.offset) {
      audit.Add("event " + std::to_string(e.offset) + " (" + ptr +
                ") has no version that names it");
    }
    auto l = ledger_by_offset.find(e.offset);
    if (l == ledger_by_offset.end()) {
      audit.Add("event " + std::to_string(e.offset) + " has no ledger entry");
    } else if (l->second.value("subject", "") != ptr ||
               l->second.value("event_id", "") != e.envelope->value("event_id", "")) {
      audit.Add("ledger entry for event " + std::to_string(e.offset) + " names " +
                l->second.dump());
    }
  }

  // Every acknowledged write: its version with the right body, its diff, its event.
  std::set<std::string> seen;
  for (const std::string& ack : acked) {
    if (!seen.insert(ack).second) {
      audit.Add("acknowledged twice: " + ack);
      continue;
    }
    Result<Pointer> p = Pointer::Parse(ack);
    if (!p.ok() || !p->version()) {
      audit.Add("unparsable acknowledgement " + ack);
      continue;
    }
    std::uint64_t ver = *p->version();
    Result<Reference> r = s.Get(*p);
    if (!r.ok()) {
      audit.Add("acknowledged " + ack + " is missing: " + r.status().ToString());
      continue;
    }
    if (r->version != ver || *r->body != SiteBody(p->id(), ver)) {
      audit.Add(ack + " reads back as version " + std::to_string(r->version) + " " +
                r->body->dump());
    }
    json want_diff = json::array();
    if (ver > 1) {
      want_diff = json::array({{{"op", "replace"}, {"path", "/bays"}, {"value", ver - 1}}});
      Result<json> d = s.Diff(*p, ver - 1, ver);
      if (!d.ok() || *d != want_diff) {
        audit.Add("diff of " + ack + ": " + (d.ok() ? d->dump() : d.status().ToString()));
      }
    }
    const std::vector<VersionInfo>* h = history_of(*p);
    if (h == nullptr || ver > h->size()) {
      audit.Add("history of " + ack + " lacks the version");
      continue;
    }
    std::uint64_t off = (*h)[ver - 1].event_offset;
    Result<std::vector<Event>> e = s.ReadEvents(off, 1);
    if (!e.ok() || e->size() != 1 || (*e)[0].offset != off ||
        (*e)[0].envelope->value("object_pointer", "") != ack) {
      audit.Add("event " + std::to_string(off) + " of " + ack + " is not there");
      continue;
    }
    json stored_diff = (*e)[0].envelope->value(json::json_pointer("/payload/diff"), json());
    if (ver > 1 && stored_diff != want_diff)
      audit.Add("event diff of " + ack + ": " + stored_diff.dump());
    if (offset_of[ack] != off) audit.Add("offset mismatch for " + ack);
  }

  // The heads account for every event: as many versions as events.
  std::uint64_t versions = 0;
  ListQuery q;
  q.repo = "site";
  q.limit = 1000;
  q.include_deleted = true;
  while (true) {
    Result<ListPage> page = s.List(q);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const Reference& r : page->items) versions += r.version;
    if (page->next_cursor.empty()) break;
    q.cursor = page->next_cursor;
  }
  EXPECT_EQ(versions, events.size()) << "versions committed vs events";
}

TEST_P(StoreProcessTest, KillNineInTheMiddleOfWritesLosesNothingAcknowledged) {
  struct Round {
    std::size_t acks;  // kill once this many writes were acknowledged in the round
    int extra_ms;      // ... and after this much more writing
  };
  const Round rounds[] = {{300, 0}, {120, 7}, {450, 23}};
  std::vector<std::string> acked;
  for (std::size_t i = 0; i < std::size(rounds); ++i) {
    std::string name = "round " + std::to_string(i);
    {
      std::vector<std::string> args = WriterArgs("sites");
      args.insert(args.end(), {"--prefix", "r" + std::to_string(i), "--threads", "4"});
      Writer w(args, dir_ / ("writer" + std::to_string(i) + ".err"));
      ASSERT_TRUE(w.started());
      bool reached = w.ReadUntil(rounds[i].acks, Clock::now() + std::chrono::seconds(15));
      if (reached && rounds[i].extra_ms > 0) {
        Clock::time_point until = Clock::now() + std::chrono::milliseconds(rounds[i].extra_ms);
        while (Clock::now() < until && w.ReadSome(std::chrono::milliseconds(1))) {
        }
      }
      w.KillAndDrain();
      EXPECT_TRUE(reached) << name << ": only " << w.acks().size()
                           << " acknowledged writes before the deadline";
      EXPECT_TRUE(w.killed_by_sigkill()) << name << ": the writer ended by itself (status "
                                         << w.Wait() << "): " << w.stderr_text() << Join(w.other());
      EXPECT_TRUE(w.errors().empty()) << name << ": the store returned errors:" << Join(w.errors());
      acked.insert(acked.end(), w.acks().begin(), w.acks().end());
    }
    std::unique_ptr<Store> s = OpenStore();
    ASSERT_TRUE(s);
    CheckStore(*s, acked, name);
    if (HasFatalFailure()) return;

    // The store still takes writes after the crash, and they fit the chain.
    WriteContext ctx;
    ctx.actor = "test";
    std::string id = "alive-" + std::to_string(i);
    Result<Reference> c =
        s->Create("site", "power.substation", json{{"name", id}, {"bays", 0}}, ctx, id);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    Result<Reference> p = s->Patch(*Pointer::Parse("bver://sites/site/" + id),
                                   PatchFormat::kMergePatch, json{{"bays", 1}}, ctx);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    acked.push_back(c->pointer().ToString());
    acked.push_back(p->pointer().ToString());
    CheckStore(*s, acked, name + " and a write after it");
    if (HasFatalFailure()) return;
  }
  std::cout << "[ INFO     ] " << GetParam() << ": " << acked.size() << " acknowledged writes over "
            << std::size(rounds) << " kills\n";
}

// Two processes, several threads each, increment one counter with
// expected_version and retry on conflict: the final value is the number of
// acknowledged increments, and the versions they got are all different.
// Meanwhile a third process writes other references and is killed twice in
// the middle of its writes: a writer that dies holding the store's write lock
// (SQLite's WAL lock, a PostgreSQL transaction) must not stop the others or
// cost them a write.
TEST_P(StoreProcessTest, TwoProcessesIncrementingOneCounterLoseNoUpdate) {
  constexpr int kProcesses = 2, kThreads = 3, kCount = 100;
  {
    std::unique_ptr<Store> s = OpenStore();
    ASSERT_TRUE(s);
    WriteContext ctx;
    ctx.actor = "test";
    Result<Reference> c =
        s->Create("site", "", json{{"name", "ctr"}, {"meta", {{"counter", 0}}}}, ctx, "ctr");
    ASSERT_TRUE(c.ok()) << c.status().ToString();
  }
  // A writer of other references, killed while the counters run: the first
  // is writing before the counters start and killed once they have written,
  // so the two surely overlap.
  std::vector<std::string> killed_acks;
  auto start_victim = [&](int k) {
    std::vector<std::string> args = WriterArgs("sites");
    args.insert(args.end(), {"--prefix", "k" + std::to_string(k), "--threads", "2"});
    auto w = std::make_unique<Writer>(args, dir_ / ("killed" + std::to_string(k) + ".err"));
    EXPECT_TRUE(w->started());
    EXPECT_TRUE(w->ReadUntil(20, Clock::now() + std::chrono::seconds(10))) << w->stderr_text();
    return w;
  };
  auto kill_victim = [&](Writer& w) {
    w.KillAndDrain();
    EXPECT_TRUE(w.killed_by_sigkill()) << w.stderr_text();
    EXPECT_TRUE(w.errors().empty()) << "killed writer:" << Join(w.errors());
    killed_acks.insert(killed_acks.end(), w.acks().begin(), w.acks().end());
  };
  std::unique_ptr<Writer> victim = start_victim(0);
  ASSERT_FALSE(HasFailure());

  std::vector<std::unique_ptr<Writer>> writers;
  for (int i = 0; i < kProcesses; ++i) {
    std::vector<std::string> args = WriterArgs("counter");
    args.insert(args.end(), {"--target", "ctr", "--count", std::to_string(kCount), "--threads",
                             std::to_string(kThreads)});
    writers.push_back(
        std::make_unique<Writer>(args, dir_ / ("counter" + std::to_string(i) + ".err")));
    ASSERT_TRUE(writers.back()->started());
  }
  auto counter_acks = [&] {
    std::size_t n = 0;
    for (auto& w : writers) n += w->acks().size();
    return n;
  };
  Clock::time_point first = Clock::now() + std::chrono::seconds(10);
  while (counter_acks() < 20 && Clock::now() < first) {
    for (auto& w : writers) w->ReadSome(std::chrono::milliseconds(5));
    victim->ReadSome(std::chrono::milliseconds(0));  // keep its pipe from filling up
  }
  EXPECT_GE(counter_acks(), 20u) << "the counter writers did not start writing";
  kill_victim(*victim);
  victim = start_victim(1);
  kill_victim(*victim);
  victim.reset();

  Clock::time_point deadline = Clock::now() + std::chrono::seconds(40);
  std::vector<bool> open(writers.size(), true);
  while (Clock::now() < deadline && std::count(open.begin(), open.end(), true) > 0) {
    for (std::size_t i = 0; i < writers.size(); ++i) {
      if (open[i]) open[i] = writers[i]->ReadSome(std::chrono::milliseconds(20));
    }
  }
  std::vector<std::string> acked;
  for (std::size_t i = 0; i < writers.size(); ++i) {
    Writer& w = *writers[i];
    if (open[i]) {
      ADD_FAILURE() << "counter writer " << i << " did not finish in time; " << w.acks().size()
                    << " acks";
      w.KillAndDrain();
    }
    int status = w.Wait();
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "counter writer " << i << " status " << status << ": " << w.stderr_text();
    EXPECT_TRUE(w.errors().empty()) << "counter writer " << i << ": the store returned "
                                    << w.errors().size() << " error(s):" << Join(w.errors());
    EXPECT_EQ(w.acks().size(), static_cast<std::size_t>(kThreads * kCount))
        << "counter writer " << i;
    for (const std::string& line : w.other())
      std::cout << "[ INFO     ] writer " << i << ": " << line << "\n";
    acked.insert(acked.end(), w.acks().begin(), w.acks().end());
  }

  std::set<std::uint64_t> versions;
  for (const std::string& a : acked) {
    Result<Pointer> p = Pointer::Parse(a);
    ASSERT_TRUE(p.ok() && p->version()) << a;
    EXPECT_TRUE(versions.insert(*p->version()).second) << "version acknowledged twice: " << a;
  }
  std::unique_ptr<Store> s = OpenStore();
  ASSERT_TRUE(s);
  Result<Reference> head = s->Get(*Pointer::Parse("bver://sites/site/ctr"));
  ASSERT_TRUE(head.ok()) << head.status().ToString();
  EXPECT_EQ(head->version, acked.size() + 1);
  EXPECT_EQ(head->body->value(json::json_pointer("/meta/counter"), json()), acked.size())
      << "increments were lost";
  Audit audit("counter versions");
  for (std::uint64_t ver = 1; ver <= head->version; ++ver) {
    Result<Reference> r = s->Get(*Pointer::Parse("bver://sites/site/ctr~" + std::to_string(ver)));
    if (!r.ok() || r->body->value(json::json_pointer("/meta/counter"), json()) != ver - 1) {
      audit.Add("version " + std::to_string(ver) + ": " +
                (r.ok() ? r->body->dump() : r.status().ToString()));
    }
  }
  Result<LedgerVerification> v = s->VerifyLedger();
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->ok) << v->problem;
  EXPECT_EQ(v->entries, AllEvents(*s).size());
  CheckStore(*s, killed_acks, "the counter run");
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreProcessTest, ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace bver::store
