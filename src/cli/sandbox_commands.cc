// bver init | reset: start a project, and start its store again.
//
// `bver init DIR` writes a project `bver up` serves at once: the template's
// files (embedded in the binary, src/cli/templates.h), a README.md with the
// next commands, and a .gitignore for the .bver folder. It refuses a folder
// that is not empty unless --force, which writes and never deletes.
//
// `bver reset` deletes the local SQLite store of a project (the database,
// its -wal/-shm/-journal files, the artifact folder when it lies under
// .bver, the installed plugins' copies, whose records were in the store)
// and keeps .bver/backups: the snapshots taken before migrations are what
// someone who reset by mistake needs. It asks on a terminal, wants --yes
// otherwise, and refuses a PostgreSQL store and a store that a process has
// open (the project's `bver up`, found by .bver/up.json, or any process,
// found by SQLite's lock).
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/cli/templates.h"
#include "src/core/status_map.h"
#include "src/domain/manifest.h"
#include "src/store/open.h"
#include "src/store/sqlite/sqlite_backend.h"

namespace bver::cli {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// ---- bver init ----

// What a template is, for the README and the next commands. Its files are
// in kEmbeddedTemplateFiles.
struct TemplateInfo {
  const char* name;
  const char* summary;
  const char* repo;  // ns/repo of the first reference to create
  const char* body;  // of that reference
  const char* plugins;  // what its jobs need installed; "" for nothing
};

constexpr TemplateInfo kTemplates[] = {
    {"minimal", "one namespace with one repo, `notes/note` (title, text, tags) and its kind `todo`", "notes/note",
     R"({"title":"First note","tags":["start"]})", ""},
    {"substation",
     "the substation example: sites, their assets and documents; creating a site of kind `power.substation` "
     "starts the orchestrator `design_site`",
     "sites/site", R"({"name":"North","voltage_levels_kv":[132,33]})",
     "The jobs `skeleton` and `sanity` (and so `design_site`) run the plugins `substation-starter` and "
     "`substation-checks`; from a BVER source tree, after `make build`:\n\n"
     "    bver plugins install BVER/build/default/plugins/substation-starter\n"
     "    bver plugins install BVER/plugins/substation-checks\n"},
    {"grid",
     "the power network example of the electrical pack: networks, buses, branches, generators, loads and the "
     "studies computed on them",
     "grid/network", R"({"name":"Demo","base_mva":100})",
     "Every job (import, powerflow, contingency, shortcircuit, ...) runs the electrical pack; from a BVER source "
     "tree, after `make build`:\n\n"
     "    bver plugins install BVER/build/default/packs/electrical\n"},
};

const TemplateInfo* FindTemplate(const std::string& name) {
  for (const TemplateInfo& t : kTemplates) {
    if (name == t.name) return &t;
  }
  return nullptr;
}

std::vector<std::string> TemplateNames() {
  std::vector<std::string> names;
  for (const TemplateInfo& t : kTemplates) names.push_back(t.name);
  return names;
}

// `text` quoted for a POSIX shell when it needs to be.
std::string ShellQuote(const std::string& text) {
  if (!text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@+,") ==
                           std::string::npos) {
    return text;
  }
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string RepoName(const TemplateInfo& t) {
  std::string repo = t.repo;
  return repo.substr(repo.find('/') + 1);
}

std::string CreateCommand(const TemplateInfo& t) {
  return "bver ref create " + RepoName(t) + " --data " + ShellQuote(t.body);
}

std::string Readme(const TemplateInfo& t, const std::string& project_name) {
  std::string repo = t.repo;
  std::string r = "# " + project_name + "\n\n";
  r += "A BVER project made with `bver init --template " + std::string(t.name) + "`: " + t.summary +
       ". The domain is declared in [bver.yaml](bver.yaml).\n\n";
  r += "## Run it\n\n";
  r += "    bver up\n\n";
  r += "serves http://127.0.0.1:8080 (`--listen HOST:PORT` for another): REST, the API reference at `/docs`, MCP "
       "at `/mcp`. Ctrl-C, or `bver down` from another terminal, stops it. In another terminal, in this folder:\n\n";
  r += "    " + CreateCommand(t) + "\n";
  r += "    bver ref list " + RepoName(t) + "\n";
  r += "    curl -s http://127.0.0.1:8080/v1/refs/" + repo + "    # the same over REST\n";
  r += "    bver call --list    # every operation\n\n";
  if (*t.plugins != '\0') r += std::string(t.plugins) + "\n";
  r += "## Change it\n\n";
  r += "Edit bver.yaml, then `bver plan` prints what it declares and `bver compile` checks it. Once the store "
       "holds references, `bver migrate plan` shows what a change does to them and `bver migrate apply` applies "
       "it.\n\n";
  r += "The store is `.bver/bver.db` (SQLite; `--store` or `bver.config.yaml` name another). `bver reset` deletes "
       "it to start again with an empty one (the snapshots in `.bver/backups` are kept).\n\n";
  r += "## Docs\n\n";
  r += "`bver --help` and `bver COMMAND --help`; in the BVER source tree: docs/operating.md (running a project "
       "locally), docs/cli.md (every command), docs/domain-format.md (bver.yaml), docs/rest.md (the REST API), "
       "docs/mcp.md (MCP).\n";
  return r;
}

struct InitFlags {
  std::string dir;
  std::string template_name = "minimal";
  bool force = false;
  bool json = false;
};

// A usage-class refusal (exit 2): printed like any error.
int Refuse(const Output& o, const Status& status) {
  o.Fail(status);
  return core::kExitUsage;
}

int Init(const Output& o, const InitFlags& f) {
  const TemplateInfo* t = FindTemplate(f.template_name);
  std::vector<const EmbeddedTemplateFile*> files;
  for (std::size_t i = 0; i < kEmbeddedTemplateFileCount; ++i) {
    if (f.template_name == kEmbeddedTemplateFiles[i].template_name) files.push_back(&kEmbeddedTemplateFiles[i]);
  }
  if (t == nullptr || files.empty()) {
    return o.Fail(InternalError("template " + f.template_name + " is not built into this binary"));
  }

  const fs::path dir = fs::path(f.dir);
  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  if (exists && !fs::is_directory(dir, ec)) {
    return Refuse(o, InvalidArgumentError(f.dir + " exists and is not a folder"));
  }
  if (exists && !f.force && !fs::is_empty(dir, ec)) {
    return Refuse(o, AlreadyExistsError(f.dir +
                                        " is not empty: bver init writes a new project into a new or empty folder; "
                                        "--force writes the template's files into it anyway (replacing files of the "
                                        "same name, deleting nothing)"));
  }
  fs::create_directories(dir, ec);
  if (ec) return o.Fail(UnavailableError("cannot create " + f.dir + ": " + ec.message()));

  const fs::path absolute = fs::weakly_canonical(fs::absolute(dir, ec), ec);
  std::string project_name = absolute.filename().string();
  if (project_name.empty()) project_name = "bver-project";

  std::vector<std::string> written, replaced;
  auto write = [&](const std::string& rel, const std::string& content) -> Status {
    fs::path path = dir / fs::path(rel);
    std::error_code e;
    fs::create_directories(path.parent_path(), e);
    if (e) return UnavailableError("cannot create " + path.parent_path().string() + ": " + e.message());
    if (fs::exists(path, e)) replaced.push_back(rel);
    BVER_RETURN_IF_ERROR(domain::WriteFileAtomic(path.string(), content));
    written.push_back(rel);
    return Status::Ok();
  };
  for (const EmbeddedTemplateFile* file : files) {
    if (Status s = write(file->path, file->content); !s.ok()) return o.Fail(s);
  }
  if (Status s = write("README.md", Readme(*t, project_name)); !s.ok()) return o.Fail(s);
  // A .gitignore of the folder's own (--force into a repository) keeps its
  // lines; the store's folder is added unless it is named already.
  {
    std::string existing;
    if (std::ifstream in(dir / ".gitignore"); in) {
      std::stringstream text;
      text << in.rdbuf();
      existing = text.str();
    }
    bool named = false;
    std::istringstream lines(existing);
    for (std::string line; std::getline(lines, line);) {
      named = named || line == ".bver" || line == ".bver/" || line == "/.bver" || line == "/.bver/";
    }
    if (!named) {
      if (!existing.empty() && existing.back() != '\n') existing += "\n";
      existing += "# the local store, its artifacts and build output (bver reset deletes the store)\n.bver/\n";
      if (Status s = write(".gitignore", existing); !s.ok()) return o.Fail(s);
    }
  }

  if (o.json) {
    o.Json({{"dir", absolute.string()}, {"template", t->name}, {"files", written}, {"replaced", replaced}});
    return 0;
  }
  o.out << "created a " << t->name << " project in " << f.dir << ":\n";
  for (const std::string& file : written) {
    const bool was = std::find(replaced.begin(), replaced.end(), file) != replaced.end();
    o.out << "  " << file << (was ? "  (replaced)" : "") << "\n";
  }
  o.out << "next:\n"
        << "  cd " << ShellQuote(f.dir) << " && bver up\n"
        << "  " << CreateCommand(*t) << "    # in another terminal, in " << ShellQuote(f.dir) << "\n";
  return 0;
}

// ---- bver reset ----

struct ResetFlags {
  StoreFlags store;
  bool yes = false;
};

// `path` inside `folder` (both made absolute and normal first).
bool IsInside(const fs::path& path, const fs::path& folder) {
  std::error_code ec;
  const fs::path p = fs::weakly_canonical(fs::absolute(path, ec), ec);
  const fs::path d = fs::weakly_canonical(fs::absolute(folder, ec), ec);
  return std::mismatch(d.begin(), d.end(), p.begin(), p.end()).first == d.end() && p != d;
}

int Reset(const Output& o, Context& ctx, const ResetFlags& f) {
  if (Status s = RequireProject(f.store); !s.ok()) return o.Fail(s);
  Result<StoreLocation> where = LocateStore(f.store);
  if (!where.ok()) return o.Fail(where.status());
  Result<std::string> db = store::SqliteFile(where->url, where->project_dir);
  if (!db.ok()) {
    if (db.status().code() == StatusCode::kFailedPrecondition) {
      return o.Fail(FailedPreconditionError(
          "this project's store is a PostgreSQL database: bver reset deletes only a local SQLite store; drop the "
          "database with your PostgreSQL tools (dropdb, or DROP DATABASE) and create it again empty"));
    }
    return o.Fail(db.status());
  }
  if (std::optional<RunningServer> up = FindRunningServer(where->project_dir)) {
    return o.Fail(FailedPreconditionError("`bver up` serves this project (pid " + std::to_string(up->pid) + " at " +
                                          up->url + "): stop it with `bver down` first"));
  }
  if (Status s = store::sqlite::CheckNotInUse(*db); !s.ok()) return o.Fail(s);

  const fs::path project = fs::path(where->project_dir);
  const fs::path dot_bver = project / ".bver";
  auto shown = [](const fs::path& p) { return p.lexically_normal().string(); };
  std::error_code ec;
  std::vector<fs::path> remove;
  std::vector<std::string> kept;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    fs::path p = *db + suffix;
    if (fs::exists(p, ec)) remove.push_back(p);
  }
  if (Result<std::string> artifacts = store::ChooseArtifactDir(where->url, where->project_dir);
      artifacts.ok() && fs::exists(*artifacts, ec)) {
    if (IsInside(*artifacts, dot_bver)) {
      remove.push_back(*artifacts);
    } else {
      kept.push_back(shown(*artifacts));  // configured elsewhere: maybe shared, never ours to delete
    }
  }
  // The installed plugins' copies: their records were in the store.
  if (fs::exists(dot_bver / "plugins", ec)) remove.push_back(dot_bver / "plugins");
  if (fs::exists(dot_bver / "backups", ec)) kept.push_back(shown(dot_bver / "backups"));

  std::vector<std::string> removed_names;
  for (const fs::path& p : remove) removed_names.push_back(shown(p));
  if (remove.empty()) {
    if (o.json) {
      o.Json({{"removed", json::array()}, {"kept", kept}});
    } else {
      o.out << "nothing to reset: there is no store at " << shown(*db) << "\n";
    }
    return 0;
  }

  if (!f.yes) {
    std::error_code e;
    std::string name = fs::weakly_canonical(fs::absolute(project, e), e).filename().string();
    if (o.json || !CanAsk()) {
      return o.Fail(FailedPreconditionError(
          "bver reset deletes this project's store (" + shown(*db) +
          "); pass --yes to confirm (" + (o.json ? "--json never asks" : "standard input is not a terminal to ask on") +
          ")"));
    }
    std::string question = "bver reset deletes the store of project " + name + ":\n";
    for (const std::string& r : removed_names) question += "  " + r + "\n";
    for (const std::string& k : kept) question += "and keeps " + k + "\n";
    question += "Type the project folder's name (" + name + ") or yes to delete it: ";
    if (!Confirm(ctx.err, question, {name, "yes"})) {
      return o.Fail(Status(StatusCode::kAborted, "not confirmed; nothing was deleted"));
    }
  }

  std::vector<std::string> done;
  for (const fs::path& p : remove) {
    std::error_code e;
    fs::remove_all(p, e);
    if (e) {
      return o.Fail(UnavailableError("cannot delete " + shown(p) + ": " + e.message() +
                                     (done.empty() ? std::string() : "; already deleted: " + json(done).dump())));
    }
    done.push_back(shown(p));
  }
  if (o.json) {
    o.Json({{"removed", done}, {"kept", kept}});
    return 0;
  }
  for (const std::string& r : done) o.out << "removed " << r << "\n";
  for (const std::string& k : kept) o.out << "kept    " << k << "\n";
  o.out << "the next `bver up` starts with an empty store";
  if (fs::exists(dot_bver / "backups", ec)) {
    o.out << "; a snapshot in " << shown(dot_bver / "backups") << " is restored by copying it to " << shown(*db);
  }
  o.out << "\n";
  for (const fs::path& p : remove) {
    if (p == dot_bver / "plugins") o.out << "install the project's plugins again (bver plugins install FOLDER)\n";
  }
  return 0;
}

}  // namespace

void RegisterSandboxCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  {
    auto f = std::make_shared<InitFlags>();
    CLI::App* cmd = app.add_subcommand(
        "init", "Create a project in DIR that `bver up` serves at once: a template's bver.yaml, a README.md and a "
                ".gitignore");
    cmd->add_option("DIR", f->dir, "The new project's folder (new or empty)")->required();
    std::string names;
    for (const std::string& n : TemplateNames()) names += (names.empty() ? "" : ", ") + n;
    cmd->add_option("-t,--template", f->template_name, "The domain to start from: " + names)
        ->check(CLI::IsMember(TemplateNames()))
        ->capture_default_str();
    cmd->add_flag("--force", f->force,
                  "Write into a folder that is not empty (files of the same name are replaced; nothing is deleted)");
    cmd->add_flag("--json", f->json, "Print JSON: {dir, template, files, replaced}");
    cmd->callback([&ctx, f] {
      ctx.action = [&ctx, f] { return Init(Output{ctx.out, ctx.err, f->json}, *f); };
    });
  }
  {
    auto f = std::make_shared<ResetFlags>();
    CLI::App* cmd = app.add_subcommand(
        "reset", "Delete this project's local SQLite store (database, artifacts, installed plugin copies) to start "
                 "again empty; .bver/backups is kept");
    AddStoreFlags(cmd, f->store);
    cmd->add_flag("-y,--yes", f->yes, "Delete without asking (needed when standard input is not a terminal)");
    cmd->callback([&ctx, f] {
      ctx.action = [&ctx, f] { return Reset(Output{ctx.out, ctx.err, f->store.json}, ctx, *f); };
    });
  }
}

}  // namespace bver::cli
