// bver triggers list | fires | reset: what the trigger processor
// (src/triggers/processor.h, docs/triggers.md) has done and where it is in
// the event log. Aliases of triggers.list, triggers.fires and triggers.reset:
// in-process (they read the store, so they work whether or not `bver up`,
// which runs the processor, is running) or against a server with --server.
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/invoke.h"
#include "src/cli/output.h"

namespace bver::cli {
namespace {

using nlohmann::json;

std::string Pattern(const json& on) {
  if (on.empty()) return "(any event)";
  std::ostringstream s;
  bool first = true;
  for (auto it = on.begin(); it != on.end(); ++it) {
    s << (first ? "" : " ") << it.key() << "=" << it.value().get<std::string>();
    first = false;
  }
  return s.str();
}

// One line for a firing: what happened and the detail that says why.
std::string Detail(const json& f) {
  std::string state = f.value("state", "");
  if (state == "started" && f.contains("answer")) {
    const json& a = f["answer"];
    for (const char* id : {"job_id", "run_id"}) {
      if (a.contains(id) && a[id].is_string()) return std::string(id) + "=" + a[id].get<std::string>();
    }
    return a.dump();
  }
  if (state == "failed" && f.contains("error")) {
    return f["error"].value("code", "") + ": " + f["error"].value("message", "");
  }
  if (state == "suppressed") return f.value("reason", "");
  return "";
}

// A subcommand that runs one trigger operation (in-process or --server).
template <typename Input, typename Text>
CLI::App* Alias(CLI::App* parent, Context& ctx, const char* name, const char* help, const char* op, Input input,
                Text text) {
  auto call = std::make_shared<CallOptions>();
  CLI::App* cmd = parent->add_subcommand(name, help);
  AddStoreFlags(cmd, call->store);
  AddCallFlags(cmd, *call);
  cmd->callback([&ctx, call, op, input, text] {
    ctx.action = [&ctx, call, op, input, text] { return RunOperation(ctx, *call, op, input(), text); };
  });
  return cmd;
}

}  // namespace

void RegisterTriggerCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  CLI::App* t = app.add_subcommand(
      "triggers", "Triggers (bver.yaml triggers:): their counts, their firings, and the processor's cursor");
  t->require_subcommand(1);
  Alias(t, ctx, "list",
        "Each trigger with its pattern, the operation it starts, fired/failed/suppressed counts, and the "
        "processor's cursor (triggers.list)",
        "triggers.list", [] { return json::object(); },
        [](const Output& o, const json& l) {
          for (const json& tr : l["triggers"]) {
            o.out << tr["name"].get<std::string>() << "  on " << Pattern(tr["on"]) << "  -> "
                  << tr["start"].get<std::string>() << "  fired " << tr["fired"] << ", failed " << tr["failed"]
                  << ", suppressed " << tr["suppressed"] << "\n";
          }
          o.out << l["triggers"].size() << " trigger(s); cursor: ";
          if (l["cursor"].is_null()) {
            o.out << "none yet (the processor of bver up starts at the end of the log)\n";
          } else {
            o.out << "next event offset " << l["cursor"] << "\n";
          }
          return 0;
        });
  {
    struct Args {
      std::string trigger, cursor;
      std::size_t limit = 100;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = Alias(
        t, ctx, "fires",
        "The firings: one per (trigger, event), with state started, failed, suppressed or starting, by trigger "
        "then event (triggers.fires)",
        "triggers.fires",
        [a] {
          json in = {{"limit", a->limit}};
          if (!a->trigger.empty()) in["trigger"] = a->trigger;
          if (!a->cursor.empty()) in["cursor"] = a->cursor;
          return in;
        },
        [](const Output& o, const json& f) {
          for (const json& x : f["fires"]) {
            o.out << x.value("trigger", "") << "  offset " << x.value("event_offset", 0) << "  "
                  << x.value("event_type", "") << " " << x.value("object", "") << "  " << x.value("state", "") << "  "
                  << x.value("operation", "") << "  " << Detail(x) << "\n";
          }
          o.out << f["fires"].size() << " firing(s)";
          if (!f["next_cursor"].is_null()) o.out << "; more with --cursor " << f["next_cursor"].get<std::string>();
          o.out << "\n";
          return 0;
        });
    c->add_option("--trigger", a->trigger, "only this trigger's firings");
    c->add_option("--cursor", a->cursor, "continue after this key (next_cursor of the previous page)");
    c->add_option("--limit", a->limit, "at most this many (default 100)")->check(CLI::Range(1, 1000));
  }
  {
    auto from = std::make_shared<std::uint64_t>(0);
    CLI::App* c = Alias(
        t, ctx, "reset",
        "Move the processor's cursor: replay from event offset N (firings already recorded are not repeated), or 0 "
        "for the end of the log. Best while bver up is stopped (triggers.reset)",
        "triggers.reset", [from] { return json{{"from", *from}}; },
        [](const Output& o, const json& r) {
          o.out << "cursor set: the next event processed is offset " << r["cursor"] << "\n";
          return 0;
        });
    c->add_option("--from", *from, "the event offset to process next (0: the end of the log)")->required();
  }
}

}  // namespace bver::cli
