// bver migrate plan | apply: the store's migration to the domain bver.yaml
// declares now (src/migrate/, docs/migrations.md), as aliases of
// migrate.plan and migrate.apply (admin). `apply` in-process shows progress
// (count, rate, time left; --json: one line per batch) and asks on a
// terminal before a plan that loses data; with --server it is one call.

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/invoke.h"
#include "src/cli/output.h"
#include "src/cli/runtime.h"
#include "src/migrate/migrate.h"
#include "src/store/store.h"

namespace bver::cli {
namespace {

using nlohmann::json;

int PrintPlan(const Output& o, const json& p) {
  o.out << "migration " << p["from"].value("version", "") << " (" << migrate::ShortFingerprint(p["from"].value("fingerprint", "")) << ") -> "
        << p["to"].value("version", "") << " (" << migrate::ShortFingerprint(p["to"].value("fingerprint", "")) << "): " << p["state"].get<std::string>()
        << "\n";
  const json& s = p.value("summary", json::object());
  o.out << "  " << s.value("additive", 0) << " additive, " << s.value("compatible", 0) << " compatible, "
        << s.value("destructive", 0) << " destructive change(s)\n";
  for (std::size_t i = 0; i < p["changes"].size(); ++i) {
    const json& c = p["changes"][i];
    o.out << "  [" << i << "] " << c.value("class", "") << "  " << c.value("subject", "") << ": " << c.value("what", "");
    if (!c.value("detail", "").empty()) o.out << " -- " << c.value("detail", "");
    o.out << "\n";
    if (c.contains("sweep")) {
      const json& sw = c["sweep"];
      o.out << "        touches " << sw.value("count", 0) << " reference(s)";
      if (sw.contains("loses")) o.out << "; e.g. " << sw.value("loses", "");
      o.out << "\n";
      for (const json& ptr : sw["pointers"]) o.out << "          " << ptr.get<std::string>() << "\n";
      if (sw.value("more", false)) {
        o.out << "          ... (bver migrate plan --change " << i << " --offset N for the rest)\n";
      }
    }
  }
  if (p.contains("invalid_under_new_schema")) {
    const json& sw = p["invalid_under_new_schema"];
    o.out << "  invalid under the new schema: " << sw.value("count", 0) << " reference(s)\n";
    for (const json& ptr : sw["pointers"]) o.out << "          " << ptr.get<std::string>() << "\n";
  }
  const json& r = p["references"];
  o.out << "references: " << r.value("examined", 0) << " examined, " << r.value("rewritten", 0) << " to rewrite, "
        << r.value("unchanged", 0) << " unchanged, " << r.value("losing_data", 0) << " losing data";
  if (r.value("already_migrated", 0) > 0) o.out << ", " << r.value("already_migrated", 0) << " already migrated";
  o.out << "\n";
  for (const json& why : p["blocked_by"]) o.out << "blocked: " << why.get<std::string>() << "\n";
  if (p["state"] == "current") {
    o.out << "nothing to do: the store holds this manifest\n";
  } else if (p.value("can_apply", false)) {
    o.out << "next: bver migrate apply" << (p.value("needs_yes", false) ? " --yes (the plan loses data)" : "") << "\n";
  }
  return 0;
}

struct ApplyFlags {
  CallOptions call;
  bool yes = false;
  bool no_backup = false;
  int batch = 500;
};

int ApplyInProcess(Context& ctx, ApplyFlags& f) {
  Output o{ctx.out, ctx.err, f.call.store.json};
  if (f.batch < 1 || f.batch > 10000) {
    return o.Fail(InvalidArgumentError("--batch is 1 to 10000 references per transaction (got " +
                                       std::to_string(f.batch) + ")"));
  }
  RuntimeOptions ro;
  ro.job_threads = 0;
  ro.orch_threads = 0;
  Result<std::unique_ptr<Runtime>> rt = OpenRuntime(f.call.store, {}, ro);
  if (!rt.ok()) return o.Fail(rt.status());
  Runtime& r = **rt;
  bool yes = f.yes;
  if (!yes && !f.call.store.json && CanAsk()) {
    // On a terminal, a plan that loses data is shown and confirmed.
    Result<json> plan = migrate::Plan(*r.store, *r.manifest, r.fingerprint);
    if (!plan.ok()) return o.Fail(plan.status());
    if (plan->value("needs_yes", false) && plan->value("can_apply", false)) {
      PrintPlan(Output{ctx.err, ctx.err, false}, *plan);
      if (!Confirm(ctx.err, "This migration loses the data listed above (a snapshot is taken first). Type yes to apply: ",
                   {"yes"})) {
        return o.Fail(Status(StatusCode::kAborted, "not confirmed; nothing was written"));
      }
      yes = true;
    }
  }
  migrate::ApplyOptions options = server::MigrationOptions(r);
  options.yes = yes;
  options.backup = !f.no_backup;
  options.batch = static_cast<std::size_t>(f.batch);
  options.actor = "cli";
  const bool as_json = f.call.store.json;
  options.progress = [&ctx, as_json](const migrate::Progress& p) {
    if (as_json) {
      ctx.out << json{{"progress", {{"done", p.done}, {"total", p.total}, {"migrated", p.migrated},
                                    {"rate", std::round(p.rate)}, {"eta_seconds", std::round(p.eta_seconds * 10) / 10},
                                    {"repo", p.repo}}}}
                     .dump()
              << "\n"
              << std::flush;
      return;
    }
    char line[200];
    std::snprintf(line, sizeof line, "\rmigrate: %llu/%llu examined, %llu migrated, %.0f/s, %.0f s left   ",
                  static_cast<unsigned long long>(p.done), static_cast<unsigned long long>(p.total),
                  static_cast<unsigned long long>(p.migrated), p.rate, p.eta_seconds);
    ctx.err << line << std::flush;
  };
  Result<json> done = migrate::Apply(*r.store, *r.manifest, r.fingerprint, options);
  if (!as_json) ctx.err << "\n";
  if (!done.ok()) return o.Fail(done.status());
  if (as_json) {
    o.Json(*done);
    return 0;
  }
  const json& d = *done;
  if (d["state"] == "current") {
    o.out << "nothing to do: the store already holds this manifest\n";
    return 0;
  }
  o.out << "migrated " << d.value("migrated", 0) << " reference(s) of " << d.value("examined", 0) << " examined to "
        << d["to"].value("version", "") << " (" << migrate::ShortFingerprint(d["to"].value("fingerprint", "")) << ") in "
        << d.value("batches", 0) << " batch(es)" << (d.value("resumed", false) ? ", resuming an earlier apply" : "")
        << "\n";
  if (!d.value("backup", "").empty()) o.out << "snapshot before the migration: " << d.value("backup", "") << "\n";
  return 0;
}

}  // namespace

void RegisterMigrateCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  CLI::App* m = app.add_subcommand(
      "migrate", "Migrate the store to the domain bver.yaml declares now: plan, then apply (docs/migrations.md)");
  m->require_subcommand(1);
  {
    auto call = std::make_shared<CallOptions>();
    auto page = std::make_shared<json>(json::object());
    auto limit = std::make_shared<int>(20);
    auto change = std::make_shared<int>(-1);
    auto offset = std::make_shared<int>(0);
    CLI::App* cmd = m->add_subcommand(
        "plan", "Show every change since the store's manifest and what it does to stored references (migrate.plan)");
    AddStoreFlags(cmd, call->store);
    AddCallFlags(cmd, *call);
    cmd->add_option("--limit", *limit, "pointers listed per change (0-1000)")->capture_default_str();
    cmd->add_option("--change", *change, "list only this change's pointers (its [index]), from --offset");
    cmd->add_option("--offset", *offset, "with --change: the first pointer listed");
    cmd->callback([&ctx, call, limit, change, offset] {
      ctx.action = [&ctx, call, limit, change, offset] {
        json input = {{"limit", *limit}};
        if (*change >= 0) {
          input["change"] = *change;
          input["offset"] = *offset;
        }
        return RunOperation(ctx, *call, "migrate.plan", input, PrintPlan);
      };
    });
  }
  {
    auto f = std::make_shared<ApplyFlags>();
    CLI::App* cmd = m->add_subcommand(
        "apply", "Apply the migration: a snapshot, then a new version of each reference that changes, resumable "
                 "(migrate.apply)");
    AddStoreFlags(cmd, f->call.store);
    AddCallFlags(cmd, f->call);
    cmd->add_flag("--yes,-y", f->yes, "accept the data loss the plan lists (asked on a terminal otherwise)");
    cmd->add_flag("--no-backup", f->no_backup, "skip the snapshot (only when the store is backed up otherwise)");
    cmd->add_option("--batch", f->batch, "references per transaction (1-10000)")->capture_default_str();
    cmd->callback([&ctx, f] {
      ctx.action = [&ctx, f] {
        if (ChosenServer(f->call).empty()) return ApplyInProcess(ctx, *f);
        json input = {{"yes", f->yes}, {"backup", !f->no_backup}, {"batch", f->batch}};
        return RunOperation(ctx, f->call, "migrate.apply", input, [](const Output& o, const json& d) {
          o.out << "migrated " << d.value("migrated", 0) << " reference(s) of " << d.value("examined", 0)
                << " examined\n";
          return 0;
        });
      };
    });
  }
}

}  // namespace bver::cli
