// bver events tail | consumers: the event log and its durable consumers
// (docs/events.md). Every command is an alias of events.read or an
// events.consumers.* operation, so it runs in-process on the project's
// store or against a server (--server) alike.
#include <csignal>
#include <iostream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/invoke.h"
#include "src/cli/output.h"

namespace bver::cli {
namespace {

using nlohmann::json;

volatile std::sig_atomic_t interrupted = 0;

struct FilterArgs {
  std::vector<std::string> channels, types;
  std::string prefix;
  // As the operations take it.
  json ToJson() const { return {{"channels", channels}, {"event_types", types}, {"pointer_prefix", prefix}}; }
};

// A consumer subcommand: one events.consumers.* operation (in-process or --server).
template <typename Input, typename Text>
CLI::App* ConsumerAlias(CLI::App* parent, Context& ctx, const char* name, const char* help, const char* op,
                        Input input, Text text) {
  auto call = std::make_shared<CallOptions>();
  CLI::App* cmd = parent->add_subcommand(name, help);
  AddStoreFlags(cmd, call->store);
  AddCallFlags(cmd, *call);
  cmd->callback([&ctx, call, op, input, text] {
    ctx.action = [&ctx, call, op, input, text] { return RunOperation(ctx, *call, op, input(), text); };
  });
  return cmd;
}

void AddFilterFlags(CLI::App* c, FilterArgs& f) {
  c->add_option("--channel", f.channels, "only this channel (traffic, control, audit, or an ingested one); repeatable");
  c->add_option("--type", f.types, "only this event type, or a prefix like ref.*; repeatable");
  c->add_option("--prefix", f.prefix, "only events whose object_pointer starts with this (bver://sites/site/)");
}

void PrintEvent(const Output& o, const json& e) {
  if (o.json) return o.Json(e);
  o.out << e.value("offset", std::uint64_t{0}) << "  " << e.value("event_type", "") << "  "
        << e.value("object_pointer", e.value("subject", "")) << "\n";
}

void PrintConsumer(const Output& o, const json& c) {
  o.out << c["name"].get<std::string>() << "  next " << c["next_offset"] << "  ack floor " << c["ack_floor"]
        << "  pending " << c["pending"] << "  lag " << c["lag"] << "  delivered " << c["delivered"] << "  redelivered "
        << c["redelivered"] << "  filter " << c["filter"].dump() << "\n";
}

// Prints events from `from` on (0: only new ones) through events.read;
// with `follow`, keeps waiting for new ones until interrupted or `limit`
// (0: none) events were printed.
int Tail(Context& ctx, const CallOptions& options, std::uint64_t from, std::size_t limit, bool follow,
         const FilterArgs& filter) {
  Output o{ctx.out, ctx.err, options.store.json};
  Result<std::unique_ptr<Invoker>> invoker = Invoker::Open(options);
  if (!invoker.ok()) return o.Fail(invoker.status());
  std::size_t printed = 0;
  std::uint64_t next = from;
  std::signal(SIGINT, [](int) { interrupted = 1; });
  std::signal(SIGTERM, [](int) { interrupted = 1; });
  while (!interrupted) {
    json input = {{"from", next},
                  {"limit", limit == 0 ? 1000 : std::min<std::size_t>(1000, limit - printed)},
                  {"wait_ms", follow ? 1000 : 0}};
    if (!filter.channels.empty()) input["channels"] = filter.channels;
    if (!filter.types.empty()) input["event_types"] = filter.types;
    if (!filter.prefix.empty()) input["pointer_prefix"] = filter.prefix;
    Result<json> page = (*invoker)->Call("events.read", std::move(input));
    if (!page.ok()) return PrintProblem(o, page.status(), (*invoker)->correlation_id());
    for (const json& e : (*page)["events"]) PrintEvent(o, e);
    printed += (*page)["events"].size();
    o.out.flush();
    next = (*page)["next_offset"].get<std::uint64_t>();
    if (limit != 0 && printed >= limit) break;
    // Past the end of the log (a filtered read that found nothing may stop
    // short of it, having scanned its budget: then read on).
    bool caught_up = next > page->value("log_end", std::uint64_t{0});
    if (caught_up && !follow) break;
  }
  return 0;
}

}  // namespace

void RegisterEventCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  CLI::App* ev = app.add_subcommand("events", "The event log: tail it, and manage its durable consumers");
  ev->require_subcommand(1);
  {
    struct Args {
      std::uint64_t from = 0;
      std::size_t limit = 0;
      bool follow = false;
      FilterArgs filter;
    };
    auto a = std::make_shared<Args>();
    auto call = std::make_shared<CallOptions>();
    CLI::App* c = ev->add_subcommand(
        "tail", "Print events from an offset; --follow keeps printing new ones (alias of events.read)");
    AddStoreFlags(c, call->store);
    AddCallFlags(c, *call);
    c->callback([&ctx, a, call] {
      ctx.action = [&ctx, a, call] {
        std::size_t limit = a->limit == 0 && !a->follow ? 100 : a->limit;
        std::uint64_t from = a->from != 0 ? a->from : (a->follow ? 0 : 1);
        return Tail(ctx, *call, from, limit, a->follow, a->filter);
      };
    });
    c->add_option("--from", a->from, "first offset (default: 1; with --follow, only new events)");
    c->add_option("--limit", a->limit, "stop after this many events (default: 100, or none with --follow)");
    c->add_flag("--follow,-F", a->follow, "wait for new events until interrupted (Ctrl-C)");
    AddFilterFlags(c, a->filter);
  }
  CLI::App* cons = ev->add_subcommand(
      "consumers", "Durable consumers: named cursors with at-least-once delivery (aliases of events.consumers.*)");
  cons->require_subcommand(1);
  auto consumer_text = [](const Output& o, const json& c) {
    PrintConsumer(o, c);
    return 0;
  };
  ConsumerAlias(cons, ctx, "list", "Every consumer with its cursor, pending count and lag", "events.consumers.list",
                [] { return json::object(); },
                [](const Output& o, const json& l) {
                  if (l["consumers"].empty()) o.out << "no consumers; create one with `bver events consumers create NAME`\n";
                  for (const json& c : l["consumers"]) PrintConsumer(o, c);
                  return 0;
                });
  {
    struct Args {
      std::string name;
      std::uint64_t from = 0;
      std::int64_t ack_timeout_ms = 30000;
      std::size_t max_ack_pending = 1000;
      FilterArgs filter;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = ConsumerAlias(cons, ctx, "create", "Create a consumer (the same spec again is a no-op)",
                                "events.consumers.create",
                                [a] {
                                  json spec = {{"name", a->name},
                                               {"filter", a->filter.ToJson()},
                                               {"ack_timeout_ms", a->ack_timeout_ms},
                                               {"max_ack_pending", a->max_ack_pending}};
                                  if (a->from != 0) spec["from"] = a->from;
                                  return json{{"consumer", spec}};
                                },
                                consumer_text);
    c->add_option("NAME", a->name, "[a-z0-9][a-z0-9_.-]*")->required();
    c->add_option("--from", a->from, "first offset (1: the whole log; default: new events only)");
    c->add_option("--ack-timeout-ms", a->ack_timeout_ms, "redeliver what is not acked within this")->capture_default_str();
    c->add_option("--max-ack-pending", a->max_ack_pending, "at most this many unacked deliveries")->capture_default_str();
    AddFilterFlags(c, a->filter);
  }
  {
    auto name = std::make_shared<std::string>();
    CLI::App* c = ConsumerAlias(cons, ctx, "show", "One consumer", "events.consumers.get",
                                [name] { return json{{"name", *name}}; }, consumer_text);
    c->add_option("NAME", *name, "the consumer")->required();
  }
  {
    auto name = std::make_shared<std::string>();
    CLI::App* c = ConsumerAlias(cons, ctx, "delete", "Forget a consumer and its cursor", "events.consumers.delete",
                                [name] { return json{{"name", *name}}; },
                                [name](const Output& o, const json&) {
                                  o.out << "deleted consumer " << *name << "\n";
                                  return 0;
                                });
    c->add_option("NAME", *name, "the consumer")->required();
  }
  {
    auto a = std::make_shared<std::pair<std::string, std::uint64_t>>();
    CLI::App* c = ConsumerAlias(cons, ctx, "seek", "Replay a consumer from an offset (drops its pending deliveries)",
                                "events.consumers.seek", [a] { return json{{"name", a->first}, {"offset", a->second}}; },
                                consumer_text);
    c->add_option("NAME", a->first, "the consumer")->required();
    c->add_option("OFFSET", a->second, "the next offset to deliver (1: the whole log)")->required();
  }
}

}  // namespace bver::cli
