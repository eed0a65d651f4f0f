// The JetStream relay benchmark (issue 6; scripts/bench_relay.sh runs it):
//
//   1. fills a SQLite store (WAL, synchronous FULL) with N events shaped
//      like ref.patched events (three channels), in transactions of 1000;
//   2. relay: a fresh NatsRelay (events/nats_relay.h) drains the log into a
//      fresh stream, timed from Start until its cursor is at the last offset
//      (so it includes reading the log, building the messages, the acks and
//      one durable cursor write per batch);
//   3. baseline: the same envelopes (already in memory), the same subjects
//      and Nats-Msg-Id headers, published by a plain cnats loop into a fresh
//      stream of the same configuration with the same ack discipline
//      (async: a batch, then wait for all its acks; sync: one publish, one
//      ack), timed until the last ack.
// Both for async and sync publishing, --repeat times, in the same run, on
// the same nats-server (the script starts one). One JSON line per run.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <nats/nats.h>
#include <nlohmann/json.hpp>

#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/events/nats_relay.h"
#include "src/store/open.h"
#include "src/store/store.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Args {
  std::string url = "nats://127.0.0.1:4222";
  std::size_t events = 50000;
  std::size_t batch = 256;
  int repeat = 3;
  std::string modes = "async,sync";
  std::string dir;
};

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "nats_relay_bench: " << what << "\n";
  std::exit(1);
}

struct Msg {
  std::string subject, id, offset, data;
};

// A plain JetStream publisher: the baseline.
class Plain {
 public:
  explicit Plain(const std::string& url) {
    natsOptions* o = nullptr;
    natsOptions_Create(&o);
    natsOptions_SetURL(o, url.c_str());
    if (natsConnection_Connect(&nc_, o) != NATS_OK) Die("cannot connect to " + url);
    natsOptions_Destroy(o);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 100000;
    if (natsConnection_JetStream(&js_, nc_, &jo) != NATS_OK) Die("no JetStream context");
  }
  ~Plain() {
    jsCtx_Destroy(js_);
    natsConnection_Destroy(nc_);
  }
  void AddStream(const std::string& name, const std::string& prefix) {
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name.c_str();
    std::string subj = prefix + ".>";
    const char* subjects[] = {subj.c_str()};
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = 120LL * 1000 * 1000 * 1000;
    jsStreamInfo* si = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    if (natsStatus s = js_AddStream(&si, js_, &cfg, nullptr, &code); s != NATS_OK) {
      Die("add stream " + name + ": " + natsStatus_GetText(s) + " " + std::to_string(code));
    }
    jsStreamInfo_Destroy(si);
  }
  void DeleteStream(const std::string& name) { js_DeleteStream(js_, name.c_str(), nullptr, nullptr); }
  std::uint64_t Count(const std::string& name) {
    jsStreamInfo* si = nullptr;
    if (js_GetStreamInfo(&si, js_, name.c_str(), nullptr, nullptr) != NATS_OK) return 0;
    std::uint64_t n = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    return n;
  }
  natsMsg* Make(const Msg& m, const std::string& prefix) {
    natsMsg* msg = nullptr;
    std::string subject = prefix + m.subject;
    natsMsg_Create(&msg, subject.c_str(), nullptr, m.data.data(), static_cast<int>(m.data.size()));
    natsMsgHeader_Set(msg, "Nats-Msg-Id", m.id.c_str());
    natsMsgHeader_Set(msg, "Bver-Offset", m.offset.c_str());
    return msg;
  }
  // Seconds to publish every message with acks, `batch` at a time (async)
  // or one by one (sync).
  double Publish(const std::vector<Msg>& msgs, const std::string& prefix, bool async, std::size_t batch) {
    auto t0 = Clock::now();
    if (async) {
      for (std::size_t i = 0; i < msgs.size(); i += batch) {
        std::size_t end = std::min(msgs.size(), i + batch);
        for (std::size_t k = i; k < end; ++k) {
          natsMsg* msg = Make(msgs[k], prefix);
          if (js_PublishMsgAsync(js_, &msg, nullptr) != NATS_OK) Die("async publish");
          natsMsg_Destroy(msg);
        }
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = 30000;
        if (js_PublishAsyncComplete(js_, &po) != NATS_OK) Die("acks did not come");
      }
    } else {
      for (const Msg& m : msgs) {
        natsMsg* msg = Make(m, prefix);
        jsPubAck* pa = nullptr;
        if (js_PublishMsg(&pa, js_, msg, nullptr, nullptr) != NATS_OK) Die("sync publish");
        jsPubAck_Destroy(pa);
        natsMsg_Destroy(msg);
      }
    }
    return std::chrono::duration<double>(Clock::now() - t0).count();
  }

 private:
  natsConnection* nc_ = nullptr;
  jsCtx* js_ = nullptr;
};

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--url") a.url = v;
    else if (k == "--events") a.events = std::stoul(v);
    else if (k == "--batch") a.batch = std::stoul(v);
    else if (k == "--repeat") a.repeat = std::stoi(v);
    else if (k == "--modes") a.modes = v;
    else if (k == "--dir") a.dir = v;
    else Die("unknown flag " + k);
  }
  if (a.dir.empty()) a.dir = (fs::temp_directory_path() / ("bver_relay_bench_" + std::to_string(::getpid()))).string();
  fs::remove_all(a.dir);
  fs::create_directories(a.dir);

  bver::Result<bver::domain::Platform> compiled = bver::domain::CompileFile(BVER_SOURCE_DIR "/tests/jobs/bver.yaml");
  if (!compiled.ok()) Die(compiled.status().ToString());
  bver::Result<std::string> fp = bver::domain::ManifestFingerprint(bver::domain::ToManifest(*compiled));
  auto platform = std::make_shared<const bver::domain::Platform>(std::move(compiled).value());
  std::string url = "sqlite:" + a.dir + "/bver.db";
  bver::Result<std::unique_ptr<bver::store::Store>> opened = bver::store::OpenStore(url, a.dir, platform, *fp);
  if (!opened.ok()) Die(opened.status().ToString());
  bver::store::Store& store = **opened;

  // 1. The log.
  auto fill0 = Clock::now();
  static const char* kChannels[] = {"traffic", "control", "audit"};
  bver::store::WriteContext ctx;
  ctx.actor = "bench";
  for (std::size_t done = 0; done < a.events;) {
    std::size_t n = std::min<std::size_t>(1000, a.events - done);
    bver::Result<std::vector<bver::store::Reference>> r =
        store.Apply({}, ctx, [&](bver::store::Txn& t, const bver::store::Store::TxnHelpers& h) -> bver::Status {
          for (std::size_t i = 0; i < n; ++i) {
            std::size_t k = done + i;
            json payload = {{"version", k % 50 + 1},
                            {"kind", "site"},
                            {"diff", json::array({{{"op", "replace"}, {"path", "/name"}, {"value", "site " + std::to_string(k)}}})},
                            {"actor", "bench"}};
            BVER_ASSIGN_OR_RETURN(std::uint64_t off, h.AppendEvent(t, kChannels[k % 3], "ref.patched",
                                                                    "bver://sites/site/" + std::to_string(k % 997),
                                                                    payload, ctx));
            (void)off;
          }
          return bver::Status::Ok();
        });
    if (!r.ok()) Die("fill: " + r.status().ToString());
    done += n;
  }
  double fill_s = std::chrono::duration<double>(Clock::now() - fill0).count();
  std::vector<Msg> msgs;
  for (std::uint64_t from = 1; msgs.size() < a.events;) {
    bver::Result<std::vector<bver::store::Event>> e = store.ReadEvents(from, 10000);
    if (!e.ok() || e->empty()) Die("read back");
    for (const bver::store::Event& ev : *e) {
      const json& env = *ev.envelope;
      msgs.push_back({"." + env["channel"].get<std::string>(), env["event_id"].get<std::string>(),
                      std::to_string(ev.offset), env.dump()});
    }
    from = e->back().offset + 1;
  }
  std::size_t bytes = 0;
  for (const Msg& m : msgs) bytes += m.data.size();
  std::cout << json{{"what", "log"}, {"events", a.events}, {"fill_s", fill_s},
                    {"avg_envelope_bytes", bytes / std::max<std::size_t>(1, msgs.size())}}
                   .dump()
            << std::endl;

  // The relay's own work besides publishing: read the log in batches (the
  // store parses each envelope) and serialize each envelope again.
  auto read0 = Clock::now();
  std::size_t dumped = 0;
  for (std::uint64_t from = 1; from <= a.events;) {
    bver::Result<std::vector<bver::store::Event>> e = store.ReadEvents(from, a.batch);
    if (!e.ok() || e->empty()) Die("read back");
    for (const bver::store::Event& ev : *e) dumped += ev.envelope->dump().size();
    from = e->back().offset + 1;
  }
  double read_s = std::chrono::duration<double>(Clock::now() - read0).count();
  std::cout << json{{"what", "read_and_serialize_only"}, {"events", a.events}, {"batch", a.batch},
                    {"events_per_s", static_cast<long>(a.events / read_s)}, {"bytes", dumped}}
                   .dump()
            << std::endl;

  Plain plain(a.url);
  for (int rep = 0; rep < a.repeat; ++rep) {
    for (const std::string mode : {"async", "sync"}) {
      if (a.modes.find(mode) == std::string::npos) continue;
      bool async = mode == "async";
      std::string tag = mode + "_" + std::to_string(rep);
      // Baseline.
      std::string base_stream = "PLAIN_" + tag, base_prefix = "plain." + tag;
      plain.DeleteStream(base_stream);
      plain.AddStream(base_stream, base_prefix);
      double base_s = plain.Publish(msgs, base_prefix, async, a.batch);
      if (plain.Count(base_stream) != a.events) Die("baseline stream has " + std::to_string(plain.Count(base_stream)));
      // Relay (a fresh stream and cursor: the record key names the stream).
      bver::events::NatsRelayOptions o;
      o.url = a.url;
      o.stream = "RELAY_" + tag;
      o.subject_prefix = "relay." + tag;
      o.batch_size = a.batch;
      o.async_publish = async;
      o.ack_timeout = std::chrono::seconds(30);
      plain.DeleteStream(o.stream);
      bver::Result<std::unique_ptr<bver::events::NatsRelay>> relay = bver::events::NatsRelay::Create(store, o);
      if (!relay.ok()) Die(relay.status().ToString());
      auto t0 = Clock::now();
      (*relay)->Start();
      while ((*relay)->Status().cursor < a.events) {
        if (Clock::now() - t0 > std::chrono::minutes(10)) Die("relay stuck: " + (*relay)->Status().last_error);
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      double relay_s = std::chrono::duration<double>(Clock::now() - t0).count();
      (*relay)->Stop();
      if (plain.Count(o.stream) != a.events) Die("relay stream has " + std::to_string(plain.Count(o.stream)));
      double relay_rate = a.events / relay_s, base_rate = a.events / base_s;
      std::cout << json{{"what", "relay_vs_plain"}, {"mode", mode}, {"run", rep + 1}, {"events", a.events},
                        {"batch", a.batch}, {"relay_events_per_s", static_cast<long>(relay_rate)},
                        {"plain_events_per_s", static_cast<long>(base_rate)},
                        {"ratio", std::round(relay_rate / base_rate * 100) / 100}}
                       .dump()
                << std::endl;
      plain.DeleteStream(base_stream);
      plain.DeleteStream(o.stream);
    }
  }
  opened->reset();
  fs::remove_all(a.dir);
  return 0;
}
