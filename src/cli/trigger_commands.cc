// bver triggers list | fires | reset: what the trigger processor
// (src/triggers/processor.h, docs/triggers.md) has done and where it is in
// the event log. They read the store directly, so they work whether or not
// `bver up` (which runs the processor) is running.
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/store_command.h"
#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/store/open.h"
#include "src/triggers/processor.h"

namespace bver::cli {
namespace {

using nlohmann::json;

struct TriggerEnv {
  std::unique_ptr<store::Store> store;
  std::unique_ptr<triggers::TriggerProcessor> processor;  // never started here
};

Result<TriggerEnv> OpenTriggers(const StoreFlags& f) {
  BVER_ASSIGN_OR_RETURN(domain::Platform p, domain::CompileFile(f.file));
  BVER_ASSIGN_OR_RETURN(std::string fp, domain::ManifestFingerprint(domain::ToManifest(p)));
  BVER_ASSIGN_OR_RETURN(StoreLocation at, LocateStore(f));
  TriggerEnv env;
  BVER_ASSIGN_OR_RETURN(env.store,
                        store::OpenStore(at.url, at.project_dir, std::make_shared<domain::Platform>(std::move(p)), fp));
  env.processor = std::make_unique<triggers::TriggerProcessor>(*env.store);
  return env;
}

template <typename Fn>
CLI::App* Command(CLI::App* parent, Context& ctx, const char* name, const char* help, Fn body) {
  auto flags = std::make_shared<StoreFlags>();
  return AddStoreCommand(parent, ctx, name, help, flags, OpenTriggers,
                         [body](const Output& o, TriggerEnv& env) { return body(o, *env.processor); });
}

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

}  // namespace

void RegisterTriggerCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  CLI::App* t = app.add_subcommand(
      "triggers", "Triggers (bver.yaml triggers:): their counts, their firings, and the processor's cursor");
  t->require_subcommand(1);
  Command(t, ctx, "list", "Each trigger with its pattern, the operation it starts, fired/failed/suppressed counts, "
                          "and the processor's cursor",
          [](const Output& o, triggers::TriggerProcessor& p) {
            Result<json> l = p.ListTriggers();
            if (!l.ok()) return o.Fail(l.status());
            if (o.json) {
              o.Json(*l);
              return 0;
            }
            for (const json& tr : (*l)["triggers"]) {
              o.out << tr["name"].get<std::string>() << "  on " << Pattern(tr["on"]) << "  -> "
                    << tr["start"].get<std::string>() << "  fired " << tr["fired"] << ", failed " << tr["failed"]
                    << ", suppressed " << tr["suppressed"] << "\n";
            }
            o.out << (*l)["triggers"].size() << " trigger(s); cursor: ";
            if ((*l)["cursor"].is_null()) {
              o.out << "none yet (the processor of bver up starts at the end of the log)\n";
            } else {
              o.out << "next event offset " << (*l)["cursor"] << "\n";
            }
            return 0;
          });
  {
    struct Args {
      std::string trigger, cursor;
      std::size_t limit = 100;
    };
    auto a = std::make_shared<Args>();
    CLI::App* c = Command(t, ctx, "fires",
                          "The firings: one per (trigger, event), with state started, failed, suppressed or "
                          "starting, by trigger then event",
                          [a](const Output& o, triggers::TriggerProcessor& p) {
                            Result<json> f = p.ListFires(a->trigger, a->cursor, a->limit);
                            if (!f.ok()) return o.Fail(f.status());
                            if (o.json) {
                              o.Json(*f);
                              return 0;
                            }
                            for (const json& x : (*f)["fires"]) {
                              o.out << x.value("trigger", "") << "  offset " << x.value("event_offset", 0) << "  "
                                    << x.value("event_type", "") << " " << x.value("object", "") << "  "
                                    << x.value("state", "") << "  " << x.value("operation", "") << "  " << Detail(x)
                                    << "\n";
                            }
                            o.out << (*f)["fires"].size() << " firing(s)";
                            if (!(*f)["next_cursor"].is_null()) {
                              o.out << "; more with --cursor " << (*f)["next_cursor"].get<std::string>();
                            }
                            o.out << "\n";
                            return 0;
                          });
    c->add_option("--trigger", a->trigger, "only this trigger's firings");
    c->add_option("--cursor", a->cursor, "continue after this key (next_cursor of the previous page)");
    c->add_option("--limit", a->limit, "at most this many (default 100)")->check(CLI::Range(1, 1000));
  }
  {
    auto from = std::make_shared<std::uint64_t>(0);
    CLI::App* c = Command(t, ctx, "reset",
                          "Move the processor's cursor: replay from event offset N (firings already recorded are "
                          "not repeated), or 0 for the end of the log. Best while bver up is stopped",
                          [from](const Output& o, triggers::TriggerProcessor& p) {
                            Result<std::uint64_t> at = p.ResetCursor(*from);
                            if (!at.ok()) return o.Fail(at.status());
                            if (o.json) {
                              o.Json({{"cursor", *at}});
                            } else {
                              o.out << "cursor set: the next event processed is offset " << *at << "\n";
                            }
                            return 0;
                          });
    c->add_option("--from", *from, "the event offset to process next (0: the end of the log)")->required();
  }
}

}  // namespace bver::cli
