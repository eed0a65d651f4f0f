// bver ref ... | resolve | ledger verify: aliases of the reference
// operations. Each builds the input of its row (refs.<repo>.create, .get,
// .patch, .replace, .delete, .list, .history, .diff; resolve; ledger.verify)
// and runs it through the invoker (src/cli/invoke.h) -- in-process as the
// local operator, or against a server with --server -- so the JSON is REST's,
// the errors are its problems, and every write carries a correlation id.
// Without --json the answer is printed for a person.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "bver/pointer.h"
#include "src/cli/commands.h"
#include "src/cli/invoke.h"
#include "src/cli/output.h"
#include "src/server/runtime.h"

namespace bver::cli {
namespace {

using nlohmann::json;

// JSON text, or @FILE for a file's content.
Result<json> ParseJsonArg(const std::string& arg, const char* what) {
  std::string text = arg;
  if (!arg.empty() && arg[0] == '@') {
    std::ifstream in(arg.substr(1));
    if (!in) return InvalidArgumentError(std::string(what) + ": cannot read " + arg.substr(1));
    std::stringstream s;
    s << in.rdbuf();
    text = s.str();
  }
  json v = json::parse(text, nullptr, false);
  if (v.is_discarded()) return InvalidArgumentError(std::string(what) + " is not valid JSON (use @FILE to read a file)");
  return v;
}

// "site" or "sites/site" -> "site", the name operations carry.
std::string RepoName(const std::string& repo) {
  const std::size_t slash = repo.rfind('/');
  return slash == std::string::npos ? repo : repo.substr(slash + 1);
}

// The operation `refs.<repo>.<verb>` for a pointer's repo.
Result<std::string> RefOp(const std::string& pointer, const char* verb) {
  BVER_ASSIGN_OR_RETURN(Pointer p, Pointer::Parse(pointer));
  return "refs." + p.repo() + "." + verb;
}

int PrintRef(const Output& o, const json& r) {
  o.out << r.value("pointer", "") << (r["kind"].is_string() ? "  kind " + r["kind"].get<std::string>() : "")
        << "  version " << r.value("version", 0) << (r.value("deleted", false) ? "  (deleted)" : "") << "\n";
  if (r.contains("body")) o.out << r["body"].dump(2) << "\n";
  return 0;
}

// A subcommand that runs one operation: the store flags, the call flags,
// and `build` (the operation and its input from the arguments, or an error
// printed as a problem).
struct Alias {
  CallOptions call;
};

template <typename Build, typename Text>
CLI::App* AddAlias(CLI::App* parent, Context& ctx, const char* name, const char* help, Build build, Text text,
                   std::function<int(const json&)> exit_code = nullptr) {
  auto a = std::make_shared<Alias>();
  CLI::App* cmd = parent->add_subcommand(name, help);
  AddStoreFlags(cmd, a->call.store);
  AddCallFlags(cmd, a->call);
  cmd->callback([&ctx, a, build, text, exit_code] {
    ctx.action = [&ctx, a, build, text, exit_code] {
      std::string op;
      json input = json::object();
      if (Status s = build(&op, &input); !s.ok()) return PrintProblem(Output{ctx.out, ctx.err, a->call.store.json}, s, "");
      return RunOperation(ctx, a->call, op, std::move(input), text, exit_code);
    };
  });
  return cmd;
}

}  // namespace

Result<StoreLocation> LocateStore(const StoreFlags& f) {
  BVER_ASSIGN_OR_RETURN(server::Project p, server::LocateProject(f.file, f.store, f.profile));
  return StoreLocation{p.store_url, p.dir, std::move(p.profile)};
}

Status RequireProject(const StoreFlags& f) {
  std::error_code ec;
  if (std::filesystem::exists(f.file, ec)) return Status::Ok();
  return FailedPreconditionError("no " + f.file + " in " + std::filesystem::current_path(ec).string() +
                                 ": this is not a BVER project folder; run the command in one, or name it with "
                                 "`bver -C DIR ...` or `-f FILE`");
}

void AddStoreFlags(CLI::App* cmd, StoreFlags& f) {
  cmd->add_option("-f,--file", f.file, "The domain definition")->capture_default_str();
  cmd->add_option("--store", f.store, "Store URL: sqlite:PATH or postgresql://... (default: $BVER_STORE, "
                                      "bver.config.yaml, sqlite:.bver/bver.db)");
  cmd->add_option("--profile", f.profile,
                  "Profile: policy and wiring (local, dev, prod, or one of bver.config.yaml's profiles:; "
                  "default: $BVER_PROFILE, else local). docs/operating.md");
  cmd->add_flag("--json", f.json, "Print JSON (the operation's output, as REST answers it)");
}

void RegisterStoreCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  CLI::App* ref = app.add_subcommand("ref", "Create, read, change and list references (aliases of refs.<repo>.*)");
  ref->require_subcommand(1);
  {
    struct A { std::string repo, kind, data, id, idem; };
    auto a = std::make_shared<A>();
    CLI::App* c = AddAlias(
        ref, ctx, "create", "Create a reference (refs.<repo>.create)",
        [a](std::string* op, json* in) -> Status {
          BVER_ASSIGN_OR_RETURN(json body, ParseJsonArg(a->data, "--data"));
          *op = "refs." + RepoName(a->repo) + ".create";
          (*in)["body"] = std::move(body);
          if (!a->kind.empty()) (*in)["kind"] = a->kind;
          if (!a->id.empty()) (*in)["id"] = a->id;
          if (!a->idem.empty()) (*in)["idempotency_key"] = a->idem;
          return Status::Ok();
        },
        PrintRef);
    c->add_option("REPO", a->repo, "repo or ns/repo")->required();
    c->add_option("--kind", a->kind, "kind of the reference");
    c->add_option("--data", a->data, "the body: JSON, or @FILE")->required();
    c->add_option("--id", a->id, "id (default: a new UUIDv7)");
    c->add_option("--idempotency-key", a->idem, "repeat-safe key");
  }
  {
    auto ptr = std::make_shared<std::string>();
    CLI::App* c = AddAlias(
        ref, ctx, "get", "Get a reference, latest or ~N (refs.<repo>.get)",
        [ptr](std::string* op, json* in) -> Status {
          BVER_ASSIGN_OR_RETURN(*op, RefOp(*ptr, "get"));
          (*in)["pointer"] = *ptr;
          return Status::Ok();
        },
        PrintRef);
    c->add_option("POINTER", *ptr, "bver://ns/repo/id[~N]")->required();
  }
  {
    struct A { std::string ptr, merge, json_patch, idem; long long expect = 0; };
    auto a = std::make_shared<A>();
    CLI::App* c = AddAlias(
        ref, ctx, "patch", "Patch a reference with a merge patch or a JSON Patch (refs.<repo>.patch)",
        [a](std::string* op, json* in) -> Status {
          if (a->merge.empty() == a->json_patch.empty()) {
            return InvalidArgumentError("give exactly one of --merge and --json-patch");
          }
          BVER_ASSIGN_OR_RETURN(*op, RefOp(a->ptr, "patch"));
          const bool merge = !a->merge.empty();
          BVER_ASSIGN_OR_RETURN(json doc, ParseJsonArg(merge ? a->merge : a->json_patch, merge ? "--merge" : "--json-patch"));
          (*in)["pointer"] = a->ptr;
          (*in)[merge ? "merge" : "json_patch"] = std::move(doc);
          if (a->expect > 0) (*in)["expected_version"] = a->expect;
          if (!a->idem.empty()) (*in)["idempotency_key"] = a->idem;
          return Status::Ok();
        },
        PrintRef);
    c->add_option("POINTER", a->ptr, "bver://ns/repo/id")->required();
    c->add_option("--merge", a->merge, "RFC 7386 merge patch (JSON or @FILE)");
    c->add_option("--json-patch", a->json_patch, "RFC 6902 JSON Patch (JSON or @FILE)");
    c->add_option("--expect-version", a->expect, "fail unless the head is at this version");
    c->add_option("--idempotency-key", a->idem, "repeat-safe key");
  }
  {
    struct A { std::string ptr, data, idem; long long expect = 0; };
    auto a = std::make_shared<A>();
    CLI::App* c = AddAlias(
        ref, ctx, "replace", "Replace the body of a reference (refs.<repo>.replace)",
        [a](std::string* op, json* in) -> Status {
          BVER_ASSIGN_OR_RETURN(*op, RefOp(a->ptr, "replace"));
          BVER_ASSIGN_OR_RETURN(json body, ParseJsonArg(a->data, "--data"));
          (*in)["pointer"] = a->ptr;
          (*in)["body"] = std::move(body);
          if (a->expect > 0) (*in)["expected_version"] = a->expect;
          if (!a->idem.empty()) (*in)["idempotency_key"] = a->idem;
          return Status::Ok();
        },
        PrintRef);
    c->add_option("POINTER", a->ptr, "bver://ns/repo/id")->required();
    c->add_option("--data", a->data, "the new body: JSON, or @FILE")->required();
    c->add_option("--expect-version", a->expect, "fail unless the head is at this version");
    c->add_option("--idempotency-key", a->idem, "repeat-safe key");
  }
  {
    struct A { std::string ptr, idem; long long expect = 0; };
    auto a = std::make_shared<A>();
    CLI::App* c = AddAlias(
        ref, ctx, "delete", "Delete a reference: a tombstone version, history stays (refs.<repo>.delete)",
        [a](std::string* op, json* in) -> Status {
          BVER_ASSIGN_OR_RETURN(*op, RefOp(a->ptr, "delete"));
          (*in)["pointer"] = a->ptr;
          if (a->expect > 0) (*in)["expected_version"] = a->expect;
          if (!a->idem.empty()) (*in)["idempotency_key"] = a->idem;
          return Status::Ok();
        },
        PrintRef);
    c->add_option("POINTER", a->ptr, "bver://ns/repo/id")->required();
    c->add_option("--expect-version", a->expect, "fail unless the head is at this version");
    c->add_option("--idempotency-key", a->idem, "repeat-safe key");
  }
  {
    // One page per call; --all follows the cursors (one call each) and
    // prints every item, as one list with --json.
    struct A {
      CallOptions call;
      std::string repo, kind, cursor;
      std::vector<std::string> where;
      int limit = 100;
      bool all = false, deleted = false;
    };
    auto a = std::make_shared<A>();
    CLI::App* c = ref->add_subcommand("list", "List references of a repo, with filters (refs.<repo>.list)");
    AddStoreFlags(c, a->call.store);
    AddCallFlags(c, a->call);
    c->add_option("REPO", a->repo, "repo or ns/repo")->required();
    c->add_option("--where", a->where, "filter PATH=V, PATH!=V, PATH<V, PATH<=V, PATH>V, PATH>=V, PATH (exists), !PATH");
    c->add_option("--kind", a->kind, "only this kind");
    c->add_option("--limit", a->limit, "page size (1-1000)")->capture_default_str();
    c->add_option("--cursor", a->cursor, "continue after this cursor");
    c->add_flag("--all", a->all, "follow cursors to the end");
    c->add_flag("--include-deleted", a->deleted, "include deleted references (their tombstones)");
    c->callback([&ctx, a] {
      ctx.action = [&ctx, a] {
        Output o{ctx.out, ctx.err, a->call.store.json};
        Result<std::unique_ptr<Invoker>> inv = Invoker::Open(a->call);
        if (!inv.ok()) return PrintProblem(o, inv.status(), "");
        json input = {{"limit", a->limit}};
        if (!a->where.empty()) input["where"] = a->where;
        if (!a->kind.empty()) input["kind"] = a->kind;
        if (!a->cursor.empty()) input["cursor"] = a->cursor;
        if (a->deleted) input["include_deleted"] = true;
        const std::string op = "refs." + RepoName(a->repo) + ".list";
        json items = json::array();
        json next = nullptr;
        while (true) {
          Result<json> page = (*inv)->Call(op, input);
          if (!page.ok()) return PrintProblem(o, page.status(), (*inv)->correlation_id());
          for (json& r : (*page)["items"]) {
            if (!o.json) {
              o.out << r.value("pointer", "") << (r["kind"].is_string() ? "  " + r["kind"].get<std::string>() : "")
                    << "  " << r["body"].dump() << "\n";
            }
            items.push_back(std::move(r));
          }
          next = page->value("next_cursor", json(nullptr));
          if (next.is_null() || !a->all) break;
          input["cursor"] = next;
        }
        if (o.json) {
          json out = {{"items", std::move(items)}};
          if (!next.is_null()) out["next_cursor"] = next;
          o.Json(out);
          return 0;
        }
        if (!next.is_null()) o.out << "(more: --cursor " << next.get<std::string>() << ")\n";
        o.out << items.size() << " reference(s)\n";
        return 0;
      };
    });
  }
  {
    auto ptr = std::make_shared<std::string>();
    CLI::App* c = AddAlias(
        ref, ctx, "history", "Versions of a reference (refs.<repo>.history)",
        [ptr](std::string* op, json* in) -> Status {
          BVER_ASSIGN_OR_RETURN(*op, RefOp(*ptr, "history"));
          (*in)["pointer"] = *ptr;
          return Status::Ok();
        },
        [](const Output& o, const json& h) {
          for (const json& v : h["versions"]) {
            o.out << "v" << v.value("version", 0) << "  " << v.value("change", "") << "  " << v.value("committed_at", "")
                  << "  by " << v.value("actor", "") << "  event " << v.value("event_offset", 0)
                  << (v.contains("provenance") ? "  provenance " + v["provenance"].dump() : "") << "\n";
          }
          return 0;
        });
    c->add_option("POINTER", *ptr, "bver://ns/repo/id")->required();
  }
  {
    struct A { std::string ptr; std::uint64_t from = 0, to = 0; };
    auto a = std::make_shared<A>();
    CLI::App* c = AddAlias(
        ref, ctx, "diff", "RFC 6902 diff between two versions (refs.<repo>.diff)",
        [a](std::string* op, json* in) -> Status {
          BVER_ASSIGN_OR_RETURN(*op, RefOp(a->ptr, "diff"));
          *in = {{"pointer", a->ptr}, {"from", a->from}, {"to", a->to}};
          return Status::Ok();
        },
        [](const Output& o, const json& d) {
          o.out << d["patch"].dump(2) << "\n";
          return 0;
        });
    c->add_option("POINTER", a->ptr, "bver://ns/repo/id")->required();
    c->add_option("--from", a->from, "version")->required();
    c->add_option("--to", a->to, "version")->required();
  }
  {
    auto ptr = std::make_shared<std::string>();
    CLI::App* c = AddAlias(
        &app, ctx, "resolve", "Resolve a pointer to its value, any attribute of any version (resolve)",
        [ptr](std::string* op, json* in) -> Status {
          *op = "resolve";
          (*in)["pointer"] = *ptr;
          return Status::Ok();
        },
        [](const Output& o, const json& r) {
          o.out << r["value"].dump(2) << "\n";
          return 0;
        });
    c->add_option("POINTER", *ptr, "bver://ns/repo/id[~N][@path]")->required();
  }
  {
    CLI::App* led = app.add_subcommand("ledger", "The tamper-evident ledger");
    led->require_subcommand(1);
    AddAlias(
        led, ctx, "verify", "Walk the hash chain and name the first broken link (ledger.verify)",
        [](std::string* op, json*) -> Status {
          *op = "ledger.verify";
          return Status::Ok();
        },
        [](const Output& o, const json& v) {
          if (v.value("ok", false)) {
            o.out << "ledger ok: " << v.value("entries", 0) << " entries verified\n";
            return 0;
          }
          o.err << "ledger BROKEN at entry " << v.value("first_broken", 0) << ": " << v.value("problem", "") << "\n";
          return 1;
        },
        [](const json& v) { return v.value("ok", false) ? 0 : 1; });
  }
}

}  // namespace bver::cli
