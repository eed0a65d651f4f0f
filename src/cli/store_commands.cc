// bver ref ... | resolve | events tail | ledger verify
#include <filesystem>
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/store_command.h"
#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/server/runtime.h"
#include "src/store/filter.h"
#include "src/store/open.h"

namespace bver::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

Result<std::unique_ptr<store::Store>> Open(const StoreFlags& f) {
  BVER_ASSIGN_OR_RETURN(domain::Platform p, domain::CompileFile(f.file));
  BVER_ASSIGN_OR_RETURN(std::string fp, domain::ManifestFingerprint(domain::ToManifest(p)));
  BVER_ASSIGN_OR_RETURN(StoreLocation at, LocateStore(f));
  return store::OpenStore(at.url, at.project_dir, std::make_shared<domain::Platform>(std::move(p)), fp);
}

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
  if (v.is_discarded()) {
    return InvalidArgumentError(std::string(what) + " is not valid JSON (use @FILE to read a file)");
  }
  return v;
}

Result<Pointer> ParsePointerArg(const std::string& text) {
  Result<Pointer> p = Pointer::Parse(text);
  if (!p.ok()) return p.status();
  return p;
}

json RefJson(const store::Reference& r) {
  json j = {{"pointer", r.pointer().ToString()},
            {"id", r.id},
            {"version", r.version},
            {"kind", r.kind.empty() ? json(nullptr) : json(r.kind)},
            {"deleted", r.deleted},
            {"body", *r.body}};
  if (r.provenance) j["provenance"] = *r.provenance;
  return j;
}

void PrintRef(const Output& o, const store::Reference& r) {
  if (o.json) {
    o.Json(RefJson(r));
    return;
  }
  o.out << r.pointer().ToString() << (r.kind.empty() ? "" : "  kind " + r.kind) << "  version " << r.version
        << (r.deleted ? "  (deleted)" : "") << "\n"
        << r.body->dump(2) << "\n";
}


store::WriteContext Ctx(const std::string& idem, long long expect) {
  store::WriteContext c;
  c.actor = "cli";
  c.idempotency_key = idem;
  if (expect > 0) c.expected_version = static_cast<std::uint64_t>(expect);
  return c;
}

// Registers a subcommand whose action opens the store and runs `body`.
template <typename Fn>
CLI::App* Command(CLI::App* parent, Context& ctx, const char* name, const char* help,
                  std::shared_ptr<StoreFlags> flags, Fn body) {
  return AddStoreCommand(parent, ctx, name, help, flags, Open,
                         [body](const Output& o, std::unique_ptr<store::Store>& s) { return body(o, *s); });
}

}  // namespace

void AddStoreFlags(CLI::App* cmd, StoreFlags& f) {
  cmd->add_option("-f,--file", f.file, "The domain definition")->capture_default_str();
  cmd->add_option("--store", f.store, "Store URL: sqlite:PATH or postgresql://... (default: $BVER_STORE, "
                                      "bver.config.yaml, sqlite:.bver/bver.db)");
  cmd->add_flag("--json", f.json, "Print JSON (one object per line for lists)");
}

Result<StoreLocation> LocateStore(const StoreFlags& f) {
  BVER_ASSIGN_OR_RETURN(server::Project p, server::LocateProject(f.file, f.store));
  return StoreLocation{p.store_url, p.dir};
}

void RegisterStoreCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  CLI::App* ref = app.add_subcommand("ref", "Create, read, change and list references");
  ref->require_subcommand(1);
  {
    auto f = std::make_shared<StoreFlags>();
    auto a = std::make_shared<std::tuple<std::string, std::string, std::string, std::string, std::string>>();
    CLI::App* c = Command(ref, ctx, "create", "Create a reference", f, [a](const Output& o, store::Store& s) {
      auto& [repo, kind, data, id, idem] = *a;
      Result<json> body = ParseJsonArg(data, "--data");
      if (!body.ok()) return o.Fail(body.status());
      Result<store::Reference> r = s.Create(repo, kind, *body, Ctx(idem, 0), id);
      if (!r.ok()) return o.Fail(r.status());
      PrintRef(o, *r);
      return 0;
    });
    c->add_option("REPO", std::get<0>(*a), "repo or ns/repo")->required();
    c->add_option("--kind", std::get<1>(*a), "kind of the reference");
    c->add_option("--data", std::get<2>(*a), "the body: JSON, or @FILE")->required();
    c->add_option("--id", std::get<3>(*a), "id (default: a new UUIDv7)");
    c->add_option("--idempotency-key", std::get<4>(*a), "repeat-safe key");
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto ptr = std::make_shared<std::string>();
    CLI::App* c = Command(ref, ctx, "get", "Get a reference (latest, or ~N)", f, [ptr](const Output& o, store::Store& s) {
      Result<Pointer> p = ParsePointerArg(*ptr);
      if (!p.ok()) return o.Fail(p.status());
      Result<store::Reference> r = s.Get(*p);
      if (!r.ok()) return o.Fail(r.status());
      PrintRef(o, *r);
      return 0;
    });
    c->add_option("POINTER", *ptr, "bver://ns/repo/id[~N]")->required();
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto a = std::make_shared<std::tuple<std::string, std::string, std::string, long long, std::string>>("", "", "", 0, "");
    CLI::App* c = Command(ref, ctx, "patch", "Patch a reference (merge patch or JSON Patch)", f,
                          [a](const Output& o, store::Store& s) {
                            auto& [ptr, merge, jp, expect, idem] = *a;
                            if (merge.empty() == jp.empty()) {
                              return o.Fail(InvalidArgumentError("give exactly one of --merge and --json-patch"));
                            }
                            Result<Pointer> p = ParsePointerArg(ptr);
                            if (!p.ok()) return o.Fail(p.status());
                            Result<json> doc = ParseJsonArg(merge.empty() ? jp : merge, merge.empty() ? "--json-patch" : "--merge");
                            if (!doc.ok()) return o.Fail(doc.status());
                            Result<store::Reference> r =
                                s.Patch(*p, merge.empty() ? store::PatchFormat::kJsonPatch : store::PatchFormat::kMergePatch,
                                        *doc, Ctx(idem, expect));
                            if (!r.ok()) return o.Fail(r.status());
                            PrintRef(o, *r);
                            return 0;
                          });
    c->add_option("POINTER", std::get<0>(*a), "bver://ns/repo/id")->required();
    c->add_option("--merge", std::get<1>(*a), "RFC 7386 merge patch (JSON or @FILE)");
    c->add_option("--json-patch", std::get<2>(*a), "RFC 6902 JSON Patch (JSON or @FILE)");
    c->add_option("--expect-version", std::get<3>(*a), "fail unless the head is at this version");
    c->add_option("--idempotency-key", std::get<4>(*a), "repeat-safe key");
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto a = std::make_shared<std::tuple<std::string, std::string, long long>>("", "", 0);
    CLI::App* c = Command(ref, ctx, "replace", "Replace the body of a reference", f, [a](const Output& o, store::Store& s) {
      auto& [ptr, data, expect] = *a;
      Result<Pointer> p = ParsePointerArg(ptr);
      if (!p.ok()) return o.Fail(p.status());
      Result<json> body = ParseJsonArg(data, "--data");
      if (!body.ok()) return o.Fail(body.status());
      Result<store::Reference> r = s.Replace(*p, *body, Ctx("", expect));
      if (!r.ok()) return o.Fail(r.status());
      PrintRef(o, *r);
      return 0;
    });
    c->add_option("POINTER", std::get<0>(*a), "bver://ns/repo/id")->required();
    c->add_option("--data", std::get<1>(*a), "the new body: JSON, or @FILE")->required();
    c->add_option("--expect-version", std::get<2>(*a), "fail unless the head is at this version");
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto a = std::make_shared<std::tuple<std::string, long long>>("", 0);
    CLI::App* c = Command(ref, ctx, "delete", "Delete a reference (a tombstone version; history stays)", f,
                          [a](const Output& o, store::Store& s) {
                            Result<Pointer> p = ParsePointerArg(std::get<0>(*a));
                            if (!p.ok()) return o.Fail(p.status());
                            Result<store::Reference> r = s.Delete(*p, Ctx("", std::get<1>(*a)));
                            if (!r.ok()) return o.Fail(r.status());
                            PrintRef(o, *r);
                            return 0;
                          });
    c->add_option("POINTER", std::get<0>(*a), "bver://ns/repo/id")->required();
    c->add_option("--expect-version", std::get<1>(*a), "fail unless the head is at this version");
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto q = std::make_shared<store::ListQuery>();
    auto wheres = std::make_shared<std::vector<std::string>>();
    auto all = std::make_shared<bool>(false);
    CLI::App* c = Command(ref, ctx, "list", "List references of a repo, with filters", f,
                          [q, wheres, all](const Output& o, store::Store& s) {
                            store::ListQuery query = *q;
                            for (const std::string& w : *wheres) {
                              Result<store::Filter> filter = store::ParseFilter(w);
                              if (!filter.ok()) return o.Fail(filter.status());
                              query.filters.push_back(*filter);
                            }
                            std::size_t n = 0;
                            while (true) {
                              Result<store::ListPage> page = s.List(query);
                              if (!page.ok()) return o.Fail(page.status());
                              for (const store::Reference& r : page->items) {
                                ++n;
                                if (o.json) {
                                  o.Json(RefJson(r));
                                } else {
                                  o.out << r.pointer().ToString() << (r.kind.empty() ? "" : "  " + r.kind) << "  "
                                        << r.body->dump() << "\n";
                                }
                              }
                              if (page->next_cursor.empty()) break;
                              if (!*all) {
                                if (!o.json) o.out << "(more: --cursor " << page->next_cursor << ")\n";
                                break;
                              }
                              query.cursor = page->next_cursor;
                            }
                            if (!o.json) o.out << n << " reference(s)\n";
                            return 0;
                          });
    c->add_option("REPO", q->repo, "repo or ns/repo")->required();
    c->add_option("--where", *wheres, "filter PATH=V, PATH!=V, PATH<V, PATH<=V, PATH>V, PATH>=V, PATH (exists), !PATH");
    c->add_option("--kind", q->kind, "only this kind");
    c->add_option("--limit", q->limit, "page size (1-1000)")->capture_default_str();
    c->add_option("--cursor", q->cursor, "continue after this cursor");
    c->add_flag("--all", *all, "follow cursors to the end");
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto ptr = std::make_shared<std::string>();
    CLI::App* c = Command(ref, ctx, "history", "Versions of a reference", f, [ptr](const Output& o, store::Store& s) {
      Result<Pointer> p = ParsePointerArg(*ptr);
      if (!p.ok()) return o.Fail(p.status());
      Result<std::vector<store::VersionInfo>> h = s.History(*p);
      if (!h.ok()) return o.Fail(h.status());
      for (const store::VersionInfo& v : *h) {
        json j = {{"version", v.version},
                  {"change", store::ChangeTypeName(v.change)},
                  {"committed_at_us", v.committed_at_us},
                  {"actor", v.actor},
                  {"correlation_id", v.correlation_id},
                  {"event_offset", v.event_offset}};
        if (v.provenance) j["provenance"] = *v.provenance;
        if (o.json) {
          o.Json(j);
        } else {
          o.out << "v" << v.version << "  " << store::ChangeTypeName(v.change) << "  by " << v.actor << "  event "
                << v.event_offset << (v.provenance ? "  provenance " + v.provenance->dump() : "") << "\n";
        }
      }
      return 0;
    });
    c->add_option("POINTER", *ptr, "bver://ns/repo/id")->required();
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto a = std::make_shared<std::tuple<std::string, std::uint64_t, std::uint64_t>>("", 0, 0);
    CLI::App* c = Command(ref, ctx, "diff", "RFC 6902 diff between two versions", f, [a](const Output& o, store::Store& s) {
      Result<Pointer> p = ParsePointerArg(std::get<0>(*a));
      if (!p.ok()) return o.Fail(p.status());
      Result<json> d = s.Diff(*p, std::get<1>(*a), std::get<2>(*a));
      if (!d.ok()) return o.Fail(d.status());
      o.out << (o.json ? d->dump() : d->dump(2)) << "\n";
      return 0;
    });
    c->add_option("POINTER", std::get<0>(*a), "bver://ns/repo/id")->required();
    c->add_option("--from", std::get<1>(*a), "version")->required();
    c->add_option("--to", std::get<2>(*a), "version")->required();
  }
  {
    auto f = std::make_shared<StoreFlags>();
    auto ptr = std::make_shared<std::string>();
    CLI::App* c = Command(&app, ctx, "resolve", "Resolve a pointer to its value (any attribute of any version)", f,
                          [ptr](const Output& o, store::Store& s) {
                            Result<Pointer> p = ParsePointerArg(*ptr);
                            if (!p.ok()) return o.Fail(p.status());
                            Result<store::JsonPtr> v = s.Resolve(*p);
                            if (!v.ok()) return o.Fail(v.status());
                            o.out << (o.json ? json{{"pointer", p->ToString()}, {"value", **v}}.dump() : (*v)->dump(2))
                                  << "\n";
                            return 0;
                          });
    c->add_option("POINTER", *ptr, "bver://ns/repo/id[~N][@path]")->required();
  }
  {
    CLI::App* led = app.add_subcommand("ledger", "The tamper-evident ledger");
    led->require_subcommand(1);
    auto f = std::make_shared<StoreFlags>();
    Command(led, ctx, "verify", "Walk the hash chain and name the first broken link", f,
            [](const Output& o, store::Store& s) {
              Result<store::LedgerVerification> v = s.VerifyLedger();
              if (!v.ok()) return o.Fail(v.status());
              if (o.json) {
                o.Json({{"ok", v->ok}, {"entries", v->entries}, {"first_broken", v->first_broken}, {"problem", v->problem}});
              } else if (v->ok) {
                o.out << "ledger ok: " << v->entries << " entries verified\n";
              } else {
                o.err << "ledger BROKEN at entry " << v->first_broken << ": " << v->problem << "\n";
              }
              return v->ok ? 0 : 1;
            });
  }
}

}  // namespace bver::cli
