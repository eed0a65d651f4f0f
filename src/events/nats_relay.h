// The NATS JetStream relay of the event outbox (BVER.md §6, issue 6): it
// follows the store's event log and publishes every envelope, in offset
// order, to a JetStream stream, at least once from the relay and exactly
// once in the stream.
//
// What it promises:
// - Every event of the log reaches the stream as the envelope's JSON text on
//   subject "<subject_prefix>.<channel>", with the header Nats-Msg-Id set to
//   its event_id (and Bver-Offset, Bver-Event-Type for consumers).
// - A durable cursor, the store record (kind "relay", key
//   "nats:<stream>", value {"offset": N}), holds the last offset whose
//   publish JetStream acknowledged. The cursor only moves after every
//   publish of a batch is acknowledged, in one WriteTxn. So a crash after a
//   publish but before the cursor write sends those events again, and the
//   stream's duplicate window (Nats-Msg-Id) drops them: nothing lost,
//   nothing twice, as long as the relay comes back within the window.
// - When NATS is unreachable (down, restarting, wrong URL) it keeps the
//   cursor where it is, records the error in Status(), and retries with
//   exponential backoff; nothing is skipped.
// - The stream is created when missing (subjects "<subject_prefix>.>", file
//   storage, the configured duplicate window). An existing stream is left
//   alone when it captures "<subject_prefix>.>" and has a duplicate window;
//   otherwise the relay publishes nothing and Status().last_error says what
//   is wrong and what to do.
//
// Thread safety: Start, Stop and Status may be called from any thread; one
// background thread does the relaying. Stop (and the destructor) return
// promptly even while NATS is unreachable: every wait is cut into slices of
// at most 200 ms that check for the stop request, except a connection
// attempt in progress (at most connect_timeout, 2 s by default; a refused
// connection fails at once). The Store must outlive the relay.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bver/status.h"
#include "src/store/follower.h"
#include "src/store/store.h"

namespace bver::events {

inline constexpr const char* kRelayRecord = "relay";

struct NatsRelayOptions {
  std::string url = "nats://127.0.0.1:4222";
  std::string stream = "BVER";
  std::string subject_prefix = "bver.events";
  // Events read from the log and published per round; the cursor moves
  // once per batch.
  std::size_t batch_size = 256;
  // Async: publish the whole batch, then wait for every ack. Sync: one
  // publish, one ack at a time (slower; see docs/PERFORMANCE.md).
  bool async_publish = true;
  // The stream's duplicate window when the relay creates it.
  std::chrono::milliseconds duplicate_window{std::chrono::minutes(2)};
  // How long to wait for the acks of one batch before giving up on the
  // connection (it is then rebuilt and the batch resent).
  std::chrono::milliseconds ack_timeout{std::chrono::seconds(5)};
  // Connection attempt timeout.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(2)};
  // Backoff after a failure: initial, doubled up to max.
  std::chrono::milliseconds backoff_initial{std::chrono::milliseconds(100)};
  std::chrono::milliseconds backoff_max{std::chrono::seconds(5)};
  // The longest sleep (store::Follower::Options::poll) when the log is drained
  // (writers in other processes do not wake it).
  std::chrono::milliseconds poll{std::chrono::milliseconds(250)};
  // Called from the relay's thread when it connects, when a round fails with
  // an error other than the last one, and when it recovers: one line for a
  // log (bver up writes it to stderr). May be empty.
  std::function<void(const std::string&)> log;
};

// A snapshot for logs, /metrics and tests.
struct NatsRelayStatus {
  bool running = false;
  bool connected = false;       // connected and the stream checked
  std::uint64_t cursor = 0;     // last offset acknowledged by JetStream
  std::uint64_t published = 0;  // acks for new messages since Start
  std::uint64_t duplicates = 0; // acks JetStream answered "duplicate" (resends)
  std::uint64_t failures = 0;   // rounds that failed (connect, stream, publish, cursor)
  std::string last_error;       // empty once a round succeeds again
};

// The cursor's record key for `stream`: "nats:<stream>".
std::string RelayCursorKey(const std::string& stream);
// The subject an event of `channel` goes to: "<prefix>.<channel>", with
// every character other than [A-Za-z0-9_-] in channel replaced by '_'
// ("_" for an empty channel), so a channel never adds tokens or wildcards.
std::string RelaySubject(const std::string& prefix, const std::string& channel);

class NatsRelay {
 public:
  // Checks the options (InvalidArgument naming the bad one).
  static Result<std::unique_ptr<NatsRelay>> Create(store::Store& store, NatsRelayOptions options);
  ~NatsRelay();  // Stop()
  NatsRelay(const NatsRelay&) = delete;
  NatsRelay& operator=(const NatsRelay&) = delete;

  // Starts the background thread (no-op when running). It connects, checks
  // the stream and relays from the cursor; failures are retried, never
  // returned here.
  void Start();
  // Stops the thread and closes the connection; what was acknowledged is in
  // the cursor. Idempotent.
  void Stop();

  NatsRelayStatus Status() const;
  const NatsRelayOptions& options() const { return options_; }

  // The cursor as stored (0 when there is none yet).
  static Result<std::uint64_t> ReadCursor(store::RecordTable& records, const std::string& stream);

 private:
  struct Conn;
  NatsRelay(store::Store& store, NatsRelayOptions options);
  void Run();
  // One round: connect if needed, read a batch after the cursor, publish it,
  // move the cursor. Answers how many events were relayed.
  Result<std::size_t> Round(std::unique_ptr<Conn>& conn, std::uint64_t& cursor);
  Result<std::unique_ptr<Conn>> Connect();
  bver::Status EnsureStream(Conn& conn);
  // Publishes a batch and waits for its acks. In async mode, while the acks
  // are in flight, it reads the next full batch into `prefetched_`.
  bver::Status PublishBatch(Conn& conn, const std::vector<store::Event>& events);
  bool stopping() const;

  store::Store& store_;
  NatsRelayOptions options_;
  std::vector<store::Event> prefetched_;  // the relay thread's only

  mutable std::mutex mu_;
  std::unique_ptr<store::Follower> follower_;  // set by Start; waits, sleeps and stops the thread
  NatsRelayStatus status_;
  std::thread thread_;
};

}  // namespace bver::events
