#include "src/store/store.h"

#include "src/store/store_impl.h"

namespace bver::store {
namespace internal {

JsonPtr Share(json v) { return std::make_shared<const json>(std::move(v)); }

std::string RefKey(const std::string& ns, const std::string& repo, const std::string& id) {
  return ns + "/" + repo + "/" + id;
}

Result<json> ParseStored(const std::string& text, const char* what) {
  json v = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (v.is_discarded()) return DataLossError(std::string("stored ") + what + " is not valid JSON");
  return v;
}

// Collects the pointers held at `pattern` (a path pattern with [*] and .*)
// inside `v`, with the concrete path of each.
void CollectAt(const json& v, const std::vector<std::string>& parts, std::size_t i,
               const AttributePath& at, std::vector<std::pair<std::string, std::string>>& out) {
  if (i == parts.size()) {
    if (v.is_string()) out.emplace_back(at.ToString(), v.get<std::string>());
    return;
  }
  const std::string& p = parts[i];
  if (p == "[*]") {
    if (!v.is_array()) return;
    for (std::size_t k = 0; k < v.size(); ++k) CollectAt(v[k], parts, i + 1, at.Index(k), out);
  } else if (p == "*") {
    if (!v.is_object()) return;
    for (auto it = v.begin(); it != v.end(); ++it) CollectAt(it.value(), parts, i + 1, at.Key(it.key()), out);
  } else if (p.size() > 2 && p.front() == '[' && p.back() == ']') {
    std::uint64_t k = std::stoull(p.substr(1, p.size() - 2));
    if (v.is_array() && k < v.size()) CollectAt(v[k], parts, i + 1, at.Index(k), out);
  } else {
    if (!v.is_object() || !v.contains(p)) return;
    CollectAt(v[p], parts, i + 1, at.Key(p), out);
  }
}

// Splits a compiler path pattern ("terminals[*].connects_to") into parts.
std::vector<std::string> SplitPattern(const std::string& pattern) {
  std::vector<std::string> parts;
  std::string cur;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c == '.') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
    } else if (c == '[') {
      if (!cur.empty()) parts.push_back(cur);
      cur.clear();
      std::size_t end = pattern.find(']', i);
      if (end == std::string::npos) break;
      parts.push_back(pattern.substr(i, end - i + 1));
      i = end;
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) parts.push_back(cur);
  return parts;
}

bool Compare(const json& a, FilterOp op, const json& b) {
  switch (op) {
    case FilterOp::kEq: return a == b;
    case FilterOp::kNe: return a != b;
    default: break;
  }
  bool comparable = (a.is_number() && b.is_number()) || (a.is_string() && b.is_string());
  if (!comparable) return false;
  switch (op) {
    case FilterOp::kLt: return a < b;
    case FilterOp::kLe: return a <= b;
    case FilterOp::kGt: return a > b;
    case FilterOp::kGe: return a >= b;
    default: return false;
  }
}

}  // namespace internal

const char* ChangeTypeName(ChangeType c) {
  switch (c) {
    case ChangeType::kCreated: return "created";
    case ChangeType::kPatched: return "patched";
    case ChangeType::kReplaced: return "replaced";
    case ChangeType::kDeleted: return "deleted";
    case ChangeType::kMigrated: return "migrated";
  }
  return "created";
}

std::int64_t SystemClockMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<const domain::Repo*> Store::Impl::FindRepo(const std::string& name) const {
  const domain::Repo* r = platform->FindRepo(name);
  if (r == nullptr) return NotFoundError("no repo \"" + name + "\" in platform " + platform->id);
  return r;
}

Result<const domain::Repo*> Store::Impl::RepoOf(const Pointer& p) const {
  const domain::Repo* r = platform->FindRepo(p.repo());
  if (r == nullptr || r->ns != p.ns()) {
    return NotFoundError("no repo \"" + p.ns() + "/" + p.repo() + "\" in platform " + platform->id);
  }
  return r;
}

// Validates a body for repo (and kind); every violation listed.
Status Store::Impl::Validate(const domain::Repo& repo, const std::string& kind, const json& body) const {
  if (!body.is_object()) {
    return InvalidArgumentError("a reference body must be a JSON object",
                                {{"body", "type", "expected an object"}});
  }
  std::string key = repo.qualified_name() + (kind.empty() ? "" : "#" + kind);
  auto it = validators.find(key);
  if (it == validators.end()) return InternalError("no validator for " + key);
  Status s = it->second->Validate(body);
  if (!s.ok()) {
    // Paths name the field within the request ("body.name"), whichever
    // operation produced the body (a create, a replace, a patch's result).
    std::vector<Violation> at_body = domain::AtBody(s.violations());
    const std::string message = "body of " + repo.qualified_name() + (kind.empty() ? "" : " (kind " + kind + ")") +
                                " is invalid: " + std::to_string(at_body.size()) + " violation(s)";
    return InvalidArgumentError(message, std::move(at_body));
  }
  return Status::Ok();
}

Status Store::Impl::CheckArtifacts(Txn& t, const domain::Repo& repo, const json& body) const {
  std::vector<Violation> missing;
  for (const std::string& pattern : repo.artifact_fields) {
    std::vector<std::pair<std::string, std::string>> found;
    CollectAt(body, SplitPattern(pattern), 0, AttributePath(), found);
    for (const auto& [path, digest] : found) {
      std::string hex = digest.rfind("sha256:", 0) == 0 ? digest.substr(7) : digest;
      BVER_ASSIGN_OR_RETURN(bool has, t.HasArtifact(hex));
      if (!has) {
        missing.push_back({path, "artifact", "no stored artifact " + digest + "; store it first (bver artifact put FILE)"});
      }
    }
  }
  if (!missing.empty()) {
    return InvalidArgumentError("body refers to artifacts that are not stored", missing);
  }
  return Status::Ok();
}

std::vector<EdgeRow> Store::Impl::EdgesOf(const domain::Repo& repo, const std::string& from, const json& body) const {
  std::vector<EdgeRow> edges;
  for (const domain::PointerField& f : repo.pointers) {
    std::vector<std::pair<std::string, std::string>> found;
    CollectAt(body, SplitPattern(f.path), 0, AttributePath(), found);
    for (const auto& [path, text] : found) {
      Result<Pointer> p = Pointer::Parse(text);
      if (!p.ok()) continue;  // the schema pattern has already checked the form
      edges.push_back({from, path, RefKey(p->ns(), p->repo(), p->id())});
    }
  }
  return edges;
}

Result<Reference> Store::Impl::ToReference(const VersionRow& row) const {
  Reference r;
  r.ns = row.ns;
  r.repo = row.repo;
  r.id = row.id;
  r.kind = row.kind;
  r.version = row.version;
  r.deleted = row.deleted;
  r.created_at_us = row.created_at_us;
  r.updated_at_us = row.committed_at_us;
  BVER_ASSIGN_OR_RETURN(r.body, BodyOf(row));
  if (!row.provenance.empty()) {
    BVER_ASSIGN_OR_RETURN(json prov, ParseStored(row.provenance, "provenance"));
    r.provenance = Share(std::move(prov));
  }
  return r;
}

// The parsed body of a stored version, from the cache when possible.
Result<JsonPtr> Store::Impl::BodyOf(const VersionRow& row) const {
  std::string key = RefKey(row.ns, row.repo, row.id) + "~" + std::to_string(row.version);
  if (JsonPtr hit = bodies.Find(key)) return hit;
  BVER_ASSIGN_OR_RETURN(json body, ParseStored(row.body, "body"));
  JsonPtr shared = Share(std::move(body));
  bodies.Put(key, shared);
  return shared;
}

Result<Store::Impl::Prepared> Store::Impl::Prepare(const domain::Repo& repo, const std::string& target, const std::string& kind_in,
                         ChangeType change, const std::optional<VersionRow>& head,
                         const std::function<Result<json>(const json* current)>& compute, bool body_checked) const {
  Prepared p;
  p.base_version = head ? head->version : 0;
  p.kind = head && change != ChangeType::kMigrated ? head->kind : kind_in;
  JsonPtr old_body;
  if (head) {
    BVER_ASSIGN_OR_RETURN(old_body, BodyOf(*head));
  }
  json new_body = json::object();
  if (change != ChangeType::kDeleted) {
    BVER_ASSIGN_OR_RETURN(new_body, compute(old_body.get()));
    // A create's or a migration's body may come checked with the store's
    // own validator (WriteContext::body_checked, migrate's dry run).
    const bool checked = body_checked && (change == ChangeType::kCreated || change == ChangeType::kMigrated);
    if (!checked) BVER_RETURN_IF_ERROR(Validate(repo, p.kind, new_body));
  }
  // One serialization of the body: its canonical form (RFC 8785) is the
  // I-JSON check, the digest's input and the stored snapshot. (It parses
  // back to an equal value; a float with no fraction reads back as an
  // integer, which JSON, JSON Schema and our diffs treat as the same number.)
  Result<std::string> canon = core::CanonicalJson(new_body);
  if (!canon.ok()) return InvalidArgumentError("body cannot be stored: " + canon.status().message());
  p.body_digest = "sha256:" + core::Sha256Hex(*canon);
  p.body_text = std::move(canon).value();
  // Version 1 has no previous version: its diff is empty and its snapshot
  // is the content.
  p.diff = head ? patch::Diff(*old_body, new_body) : json::array();
  p.diff_text = p.diff.dump();
  if (change != ChangeType::kDeleted) p.edges = EdgesOf(repo, target, new_body);
  // Most writes do not touch pointer fields: then the edge rows stay.
  std::vector<EdgeRow> old_edges = old_body ? EdgesOf(repo, target, *old_body) : std::vector<EdgeRow>{};
  p.edges_changed = !std::equal(p.edges.begin(), p.edges.end(), old_edges.begin(), old_edges.end(),
                                [](const EdgeRow& a, const EdgeRow& b) { return a.path == b.path && a.to == b.to; });
  for (const auto* list : {&p.edges, &old_edges}) {
    for (const EdgeRow& e : *list) p.touched.push_back(e.to);
  }
  std::sort(p.touched.begin(), p.touched.end());
  p.touched.erase(std::unique(p.touched.begin(), p.touched.end()), p.touched.end());
  p.body = Share(std::move(new_body));
  return p;
}

// A namespace owned by a plugin is written only by that plugin.
Status Store::Impl::CheckOwner(const domain::Repo& repo, const WriteContext& ctx) const {
  for (const domain::Namespace& n : platform->namespaces) {
    if (n.name == repo.ns && n.owner != "core" && ctx.actor != "plugin:" + n.owner) {
      return PermissionDeniedError("namespace \"" + n.name + "\" is owned by plugin \"" + n.owner +
                                   "\"; only it may write " + repo.qualified_name() + " (actor was \"" +
                                   ctx.actor + "\")");
    }
  }
  return Status::Ok();
}

// Optimistic preparation against the head as read now, outside the
// transaction. A create's body does not depend on any head, so its
// validation errors are final.
Result<std::optional<Store::Impl::Prepared>> Store::Impl::PrepareEarly(const Plan& m) const {
  std::string target = RefKey(m.repo->ns, m.repo->name, m.id);
  if (m.change == ChangeType::kCreated) {
    BVER_ASSIGN_OR_RETURN(Prepared p, Prepare(*m.repo, target, m.kind, m.change, std::nullopt, m.compute,
                                                m.body_checked));
    return std::optional<Prepared>(std::move(p));
  }
  Result<std::optional<VersionRow>> head = backend->GetHead(m.repo->ns, m.repo->name, m.id);
  if (head.ok() && *head && !(*head)->deleted) {
    Result<Prepared> p = Prepare(*m.repo, target, m.kind, m.change, *head, m.compute, m.body_checked);
    if (p.ok()) return std::optional<Prepared>(std::move(p).value());
  }
  return std::optional<Prepared>();
}

// Checks and writes one mutation inside `t`: head state, expected version,
// lease, the body (prepared again when the head moved since `early`),
// artifacts; then the version, its event, edges and ledger entry.
// `bumps`: where a changeset gathers its link revision bumps (written once
// per target at the end); null: written here.
Result<Store::Impl::Written> Store::Impl::WriteOne(Txn& t, const Plan& m, const std::optional<Prepared>& early, const WriteContext& ctx,
                         std::int64_t now, LinkBumps* bumps) const {
  const domain::Repo& repo = *m.repo;
  const std::string& id = m.id;
  ChangeType change = m.change;
  std::string target = RefKey(repo.ns, repo.name, id);
  BVER_ASSIGN_OR_RETURN(std::optional<VersionRow> head, t.GetHead(repo.ns, repo.name, id));
  if (change == ChangeType::kCreated) {
    if (head && m.skip_if_exists && !head->deleted) {
      Written w;
      w.row = *head;
      w.skipped = true;
      return w;
    }
    if (head) {
      return AlreadyExistsError("reference bver://" + target + " already exists" +
                                (head->deleted ? " (deleted at version " + std::to_string(head->version) + ")" : ""));
    }
  } else if (!head || head->deleted) {
    return NotFoundError("no reference bver://" + target +
                         (head ? " (deleted at version " + std::to_string(head->version) + ")" : ""));
  }
  std::uint64_t current = head ? head->version : 0;
  if (m.base_version != 0 && m.base_version != current) {
    return AbortedError("bver://" + target + " changed while it was being migrated (version " +
                        std::to_string(m.base_version) + " read, the head is at " + std::to_string(current) +
                        "): stop the writers that do not know of the migration, then run apply again");
  }
  if (ctx.expected_version && *ctx.expected_version != current) {
    // A stale precondition (HTTP 412 for If-Match), not a race to retry:
    // the caller must read the new head first.
    return Status(StatusCode::kFailedPrecondition,
                  "version conflict on bver://" + target + ": expected version " +
                      std::to_string(*ctx.expected_version) + ", but the head is at version " + std::to_string(current),
                  {{"expected_version", "stale", "the head is at version " + std::to_string(current)}});
  }
  if (change != ChangeType::kCreated) {
    BVER_ASSIGN_OR_RETURN(std::optional<Lease> lease, t.GetLease(target));
    if (lease && lease->expires_at_us > now && lease->holder != ctx.lease_holder) {
      return AbortedError("bver://" + target + " is leased by \"" + lease->holder + "\" until " +
                          core::FormatTimestamp(lease->expires_at_us));
    }
  }
  // The head moved since the optimistic preparation: prepare again here.
  std::optional<Prepared> fresh;
  if (!early || early->base_version != current) {
    BVER_ASSIGN_OR_RETURN(Prepared p, Prepare(repo, target, m.kind, change, head, m.compute, m.body_checked));
    fresh = std::move(p);
  }
  const Prepared& p = fresh ? *fresh : *early;
  if (change != ChangeType::kDeleted) BVER_RETURN_IF_ERROR(CheckArtifacts(t, repo, *p.body));

  VersionRow row;
  row.ns = repo.ns;
  row.repo = repo.name;
  row.id = id;
  row.kind = p.kind;
  row.version = current + 1;
  row.change = change;
  row.deleted = change == ChangeType::kDeleted;
  row.created_at_us = head ? head->created_at_us : now;
  row.committed_at_us = now;
  row.body = p.body_text;
  row.diff = p.diff_text;
  row.provenance = ctx.provenance ? ctx.provenance->dump() : "";
  row.actor = ctx.actor;
  row.correlation_id = ctx.correlation_id;

  BVER_ASSIGN_OR_RETURN(std::uint64_t offset, t.NextEventOffset());
  row.event_offset = offset;
  std::string event_id = core::NewUuidV7();
  std::string pinned = "bver://" + target + "~" + std::to_string(row.version);
  std::string ts = core::FormatTimestamp(now);
  json payload = {{"version", row.version}, {"kind", p.kind}, {"diff", p.diff}, {"actor", ctx.actor}};
  if (ctx.provenance) payload["provenance"] = *ctx.provenance;
  json envelope = {{"event_id", event_id},
                   {"envelope_version", kEnvelopeVersion},
                   {"event_type", std::string("ref.") + ChangeTypeName(change)},
                   {"channel", "traffic"},
                   {"ts_utc", ts},
                   {"object_pointer", pinned},
                   {"change_type", ChangeTypeName(change)},
                   {"payload_schema", "bver.ref.change@1.0.0"},
                   {"payload", std::move(payload)},
                   {"correlation_id", ctx.correlation_id},
                   {"causation_id", ctx.causation_id},
                   {"manifest_fingerprint", options.manifest_fingerprint},
                   {"partition_key", target},
                   {"offset", offset}};
  if (!options.policy_revision.empty()) envelope["policy_revision"] = options.policy_revision;
  BVER_RETURN_IF_ERROR(t.AppendEvent(offset, event_id, envelope.dump()));
  BVER_RETURN_IF_ERROR(t.PutVersion(row));
  if (p.edges_changed) BVER_RETURN_IF_ERROR(t.ReplaceEdges(target, p.edges));
  const std::string from_repo = repo.ns + "/" + repo.name;
  for (const std::string& to : p.touched) {
    if (bumps != nullptr) {
      (*bumps)[{to, from_repo}] += 1;
    } else {
      BVER_RETURN_IF_ERROR(t.BumpLinkRev(to, from_repo, 1));
    }
  }
  BVER_RETURN_IF_ERROR(AppendLedgerEntry(t, ts, std::string("ref.") + ChangeTypeName(change), pinned, ctx,
                                         event_id, offset, p.body_digest));
  return Written{std::move(row), p.body, false};
}

// The next link of the ledger chain.
Status Store::Impl::AppendLedgerEntry(Txn& t, const std::string& ts, const std::string& act, const std::string& subject,
                                const WriteContext& ctx, const std::string& event_id, std::uint64_t offset,
                                const std::string& body_digest) {
  BVER_ASSIGN_OR_RETURN(std::optional<LedgerRow> last, t.LastLedger());
  LedgerRow lr;
  lr.seq = last ? last->seq + 1 : 1;
  json entry = {{"seq", lr.seq},
                {"prev_hash", last ? last->hash : std::string(64, '0')},
                {"ts_utc", ts},
                {"act", act},
                {"subject", subject},
                {"actor", ctx.actor},
                {"correlation_id", ctx.correlation_id},
                {"event_id", event_id},
                {"event_offset", offset},
                {"body_digest", body_digest}};
  // A migrated version's entry names the manifests it went from and to.
  if (act == "ref.migrated" && ctx.provenance && ctx.provenance->contains("migration")) {
    entry["migration"] = (*ctx.provenance)["migration"];
  }
  BVER_ASSIGN_OR_RETURN(lr.entry, core::CanonicalJson(entry));
  lr.hash = core::Sha256Hex(lr.entry);
  return t.AppendLedger(lr);
}

// The shared path of every single mutation: one transaction.
Result<Reference> Store::Impl::Mutate(const Plan& m, const WriteContext& ctx) {
  BVER_RETURN_IF_ERROR(RefuseWhilePending());
  BVER_RETURN_IF_ERROR(CheckOwner(*m.repo, ctx));
  std::string request_digest;
  if (!ctx.idempotency_key.empty()) {
    BVER_ASSIGN_OR_RETURN(request_digest, core::JsonDigest(m.request));
  }
  BVER_ASSIGN_OR_RETURN(std::optional<Prepared> early, PrepareEarly(m));

  std::optional<Written> result;
  std::optional<IdempotencyRow> replayed;
  std::int64_t now = options.clock();

  Status st = backend->WriteTxn([&](Txn& t) -> Status {
    result.reset();
    replayed.reset();
    if (!ctx.idempotency_key.empty()) {
      BVER_ASSIGN_OR_RETURN(std::optional<IdempotencyRow> seen, t.GetIdempotency(ctx.idempotency_key));
      if (seen) {
        if (seen->request_digest != request_digest) {
          return AbortedError("idempotency key \"" + ctx.idempotency_key +
                              "\" was already used for a different request");
        }
        replayed = std::move(seen);
        return Status::Ok();
      }
    }
    BVER_ASSIGN_OR_RETURN(Written w, WriteOne(t, m, early, ctx, now));
    if (!ctx.idempotency_key.empty()) {
      BVER_RETURN_IF_ERROR(t.PutIdempotency(
          {ctx.idempotency_key, request_digest, m.repo->ns, m.repo->name, m.id, w.row.version}));
    }
    result = std::move(w);
    return Status::Ok();
  });
  BVER_RETURN_IF_ERROR(st);
  if (replayed) {
    BVER_ASSIGN_OR_RETURN(std::optional<VersionRow> v,
                          backend->GetVersion(replayed->ns, replayed->repo, replayed->id, replayed->version));
    if (!v) return InternalError("idempotent replay: version vanished");
    return ToReference(*v);
  }
  // The body just written is already parsed: no round trip through text.
  bodies.Put(RefKey(result->row.ns, result->row.repo, result->row.id) + "~" + std::to_string(result->row.version),
             result->body);
  return ToReference(result->row);
}

// Plans of the public mutations (the checks that need no transaction).
Result<Store::Impl::Plan> Store::Impl::PlanCreate(const std::string& repo_name, const std::string& kind, const json& body,
                        const std::string& id_in) const {
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, FindRepo(repo_name));
  if (!kind.empty() && repo->FindKind(kind) == nullptr) {
    std::string kinds;
    for (const domain::Kind& k : repo->kinds) kinds += (kinds.empty() ? "" : ", ") + k.name;
    return InvalidArgumentError("repo " + repo->qualified_name() + " has no kind \"" + kind + "\"" +
                                (kinds.empty() ? "" : "; kinds: " + kinds));
  }
  if (kind.empty() && repo->kind_required) {
    return InvalidArgumentError("repo " + repo->qualified_name() + " requires a kind");
  }
  std::string id = id_in.empty() ? core::NewUuidV7() : id_in;
  if (!IsValidReferenceId(id)) {
    return InvalidArgumentError("invalid id \"" + id + "\": expected [A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  }
  // Defaults declared at the top level of the schema are applied on create.
  json with_defaults = repo->WithDefaults(body);
  Plan m;
  m.repo = repo;
  m.id = id;
  m.kind = kind;
  m.change = ChangeType::kCreated;
  m.request = {{"op", "create"}, {"repo", repo->qualified_name()}, {"kind", kind}, {"id", id_in}, {"body", body}};
  m.compute = [with_defaults](const json*) -> Result<json> { return with_defaults; };
  return m;
}

Result<Store::Impl::Plan> Store::Impl::PlanChange(const Pointer& p, ChangeType change, json request,
                        std::function<Result<json>(const json*)> compute) const {
  if (p.version()) {
    return InvalidArgumentError("cannot change a pinned version (" + p.ToString() +
                                "); versions are never rewritten: drop the ~N");
  }
  if (!p.path().empty()) {
    return InvalidArgumentError("mutations address whole references; drop the @path from " + p.ToString());
  }
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, RepoOf(p));
  Plan m;
  m.repo = repo;
  m.id = p.id();
  m.change = change;
  m.request = std::move(request);
  m.compute = std::move(compute);
  return m;
}

Result<Store::Impl::Plan> Store::Impl::PlanPatch(const Pointer& p, PatchFormat format, const json& patch_doc) const {
  if (format == PatchFormat::kJsonPatch && !patch_doc.is_array()) {
    return InvalidArgumentError("a JSON Patch (RFC 6902) is an array of operations");
  }
  if (format == PatchFormat::kMergePatch && !patch_doc.is_object()) {
    return InvalidArgumentError("a merge patch (RFC 7386) of a reference body is a JSON object");
  }
  json request = {{"op", "patch"}, {"target", p.ToString()},
                  {"format", format == PatchFormat::kMergePatch ? "merge" : "json-patch"}, {"patch", patch_doc}};
  return PlanChange(p, ChangeType::kPatched, std::move(request), [format, patch_doc](const json* current) -> Result<json> {
    json next = *current;
    Status s = format == PatchFormat::kMergePatch ? patch::ApplyMergePatch(next, patch_doc)
                                                  : patch::ApplyJsonPatch(next, patch_doc);
    if (!s.ok()) return s;
    return next;
  });
}

Result<Store::Impl::Plan> Store::Impl::PlanReplace(const Pointer& p, const json& body) const {
  return PlanChange(p, ChangeType::kReplaced, {{"op", "replace"}, {"target", p.ToString()}, {"body", body}},
                    [body](const json*) -> Result<json> { return body; });
}

Result<Store::Impl::Plan> Store::Impl::PlanDelete(const Pointer& p) const {
  return PlanChange(p, ChangeType::kDeleted, {{"op", "delete"}, {"target", p.ToString()}},
                    [](const json*) -> Result<json> { return json::object(); });
}

Result<VersionRow> Store::Impl::Load(const Pointer& p) {
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, RepoOf(p));
  (void)repo;
  std::optional<VersionRow> row;
  if (p.version()) {
    BVER_ASSIGN_OR_RETURN(row, backend->GetVersion(p.ns(), p.repo(), p.id(), *p.version()));
    if (!row) {
      BVER_ASSIGN_OR_RETURN(std::optional<VersionRow> head, backend->GetHead(p.ns(), p.repo(), p.id()));
      if (!head) return NotFoundError("no reference " + p.Reference().ToString());
      return NotFoundError("no version " + std::to_string(*p.version()) + " of " +
                           p.Reference().ToString() + " (latest is " + std::to_string(head->version) + ")");
    }
    return *row;
  }
  BVER_ASSIGN_OR_RETURN(row, backend->GetHead(p.ns(), p.repo(), p.id()));
  if (!row) return NotFoundError("no reference " + p.Reference().ToString());
  if (row->deleted) {
    return NotFoundError("reference " + p.Reference().ToString() + " was deleted at version " +
                         std::to_string(row->version) + "; earlier versions stay readable with ~N");
  }
  return *row;
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::Open(std::shared_ptr<const domain::Platform> platform,
                                           std::unique_ptr<Backend> backend, Options options) {
  auto impl = std::make_unique<Impl>();
  // The domain compiler's validators, shared with the operation table.
  for (const domain::Repo& r : platform->repos) {
    BVER_ASSIGN_OR_RETURN(impl->validators[r.qualified_name()], r.BodyValidator(""));
    for (const domain::Kind& k : r.kinds) {
      BVER_ASSIGN_OR_RETURN(impl->validators[r.qualified_name() + "#" + k.name], r.BodyValidator(k.name));
    }
  }
  impl->platform = std::move(platform);
  impl->backend = std::move(backend);
  impl->options = std::move(options);
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

const domain::Platform& Store::platform() const { return *impl_->platform; }
const std::string& Store::policy_revision() const { return impl_->options.policy_revision; }
Backend& Store::backend() { return *impl_->backend; }

Result<Reference> Store::Create(const std::string& repo_name, const std::string& kind,
                                const json& body, const WriteContext& ctx, const std::string& id_in) {
  BVER_ASSIGN_OR_RETURN(Impl::Plan m, impl_->PlanCreate(repo_name, kind, body, id_in));
  m.body_checked = ctx.body_checked;
  return impl_->Mutate(m, ctx);
}

Result<Reference> Store::Patch(const Pointer& p, PatchFormat format, const json& patch_doc,
                               const WriteContext& ctx) {
  BVER_ASSIGN_OR_RETURN(Impl::Plan m, impl_->PlanPatch(p, format, patch_doc));
  return impl_->Mutate(m, ctx);
}

Result<Reference> Store::Replace(const Pointer& p, const json& body, const WriteContext& ctx) {
  BVER_ASSIGN_OR_RETURN(Impl::Plan m, impl_->PlanReplace(p, body));
  return impl_->Mutate(m, ctx);
}

Result<Reference> Store::Delete(const Pointer& p, const WriteContext& ctx) {
  BVER_ASSIGN_OR_RETURN(Impl::Plan m, impl_->PlanDelete(p));
  return impl_->Mutate(m, ctx);
}

Result<std::vector<Reference>> Store::Apply(const std::vector<Change>& changes, const WriteContext& ctx,
                                            const std::function<Status(Txn&, const TxnHelpers&)>& also) {
  if (!ctx.idempotency_key.empty()) {
    return InvalidArgumentError("a changeset takes no idempotency key; make the work that produces it idempotent");
  }
  if (ctx.expected_version) {
    return InvalidArgumentError("a changeset takes no expected version for all of its entries");
  }
  bool migrating_only = std::all_of(changes.begin(), changes.end(),
                                    [](const Change& c) { return c.op == Change::Op::kMigrate; });
  if (!migrating_only) BVER_RETURN_IF_ERROR(impl_->RefuseWhilePending());
  std::vector<Impl::Plan> plans;
  std::vector<std::optional<Impl::Prepared>> early;
  std::vector<Violation> problems;
  std::set<std::string> touched;
  for (std::size_t i = 0; i < changes.size(); ++i) {
    const Change& c = changes[i];
    std::string where = "changes[" + std::to_string(i) + "]";
    Result<Impl::Plan> m = [&]() -> Result<Impl::Plan> {
      if (!c.body && (c.op == Change::Op::kCreate || c.op == Change::Op::kReplace || c.op == Change::Op::kPatch)) {
        return InvalidArgumentError(where + " has no body");
      }
      switch (c.op) {
        case Change::Op::kCreate: {
          BVER_ASSIGN_OR_RETURN(Impl::Plan p, impl_->PlanCreate(c.repo, c.kind, *c.body, c.id));
          p.skip_if_exists = c.skip_if_exists;
          return p;
        }
        case Change::Op::kPatch: return impl_->PlanPatch(c.target, c.format, *c.body);
        case Change::Op::kReplace: return impl_->PlanReplace(c.target, *c.body);
        case Change::Op::kDelete: return impl_->PlanDelete(c.target);
        case Change::Op::kMigrate: {
          BVER_ASSIGN_OR_RETURN(Impl::Plan p, impl_->PlanReplace(c.target, *c.body));
          if (!c.kind.empty() && p.repo->FindKind(c.kind) == nullptr) {
            return InvalidArgumentError("repo " + p.repo->qualified_name() + " has no kind \"" + c.kind + "\"");
          }
          p.change = ChangeType::kMigrated;
          p.kind = c.kind;
          p.body_checked = c.body_checked;
          p.base_version = c.base_version;
          p.request["op"] = "migrate";
          return p;
        }
      }
      return InternalError("unknown change");
    }();
    if (!m.ok()) {
      problems.push_back({where, "change", m.status().message()});
      for (const Violation& v : m.status().violations()) {
        problems.push_back({where + ".body" + (v.path.empty() ? "" : "." + v.path), v.rule, v.message});
      }
      continue;
    }
    // A migration reshapes what a plugin's namespace holds for the new
    // manifest; it writes as the operator, not as the plugin.
    if (Status s = c.op == Change::Op::kMigrate ? Status::Ok() : impl_->CheckOwner(*m->repo, ctx); !s.ok()) {
      problems.push_back({where, "owner", s.message()});
      continue;
    }
    std::string key = RefKey(m->repo->ns, m->repo->name, m->id);
    if (!touched.insert(key).second) {
      problems.push_back({where, "unique", "bver://" + key + " appears twice in the changeset; merge the two changes"});
      continue;
    }
    Result<std::optional<Impl::Prepared>> e = impl_->PrepareEarly(*m);
    if (!e.ok()) {
      problems.push_back({where, "body", e.status().message()});
      for (const Violation& v : e.status().violations()) {
        problems.push_back({where + ".body" + (v.path.empty() ? "" : "." + v.path), v.rule, v.message});
      }
      continue;
    }
    plans.push_back(*std::move(m));
    early.push_back(*std::move(e));
  }
  if (!problems.empty()) {
    return InvalidArgumentError("the changeset is invalid: " + std::to_string(problems.size()) +
                                    " problem(s); nothing was written",
                                problems);
  }

  std::vector<Impl::Written> written;
  std::int64_t now = impl_->options.clock();
  TxnHelpers helpers(*this, now);
  Status st = impl_->backend->WriteTxn([&](Txn& t) -> Status {
    written.clear();
    Impl::LinkBumps bumps;
    for (std::size_t i = 0; i < plans.size(); ++i) {
      Result<Impl::Written> w = impl_->WriteOne(t, plans[i], early[i], ctx, now, &bumps);
      if (!w.ok()) return w.status().WithPrefix("changes[" + std::to_string(i) + "]");
      written.push_back(*std::move(w));
    }
    for (const auto& [key, by] : bumps) BVER_RETURN_IF_ERROR(t.BumpLinkRev(key.first, key.second, by));
    if (also) BVER_RETURN_IF_ERROR(also(t, helpers));
    return Status::Ok();
  });
  BVER_RETURN_IF_ERROR(st);
  std::vector<Reference> out;
  for (const Impl::Written& w : written) {
    if (!w.skipped) {
      impl_->bodies.Put(RefKey(w.row.ns, w.row.repo, w.row.id) + "~" + std::to_string(w.row.version), w.body);
    }
    BVER_ASSIGN_OR_RETURN(Reference r, impl_->ToReference(w.row));
    out.push_back(std::move(r));
  }
  return out;
}

Store::TxnHelpers::TxnHelpers(Store& store, std::int64_t now_us) : store_(store), now_us_(now_us) {}

Result<std::uint64_t> Store::TxnHelpers::AppendEvent(Txn& t, const std::string& channel, const std::string& event_type,
                                                     const std::string& subject, const json& payload,
                                                     const WriteContext& ctx, bool audit) const {
  BVER_ASSIGN_OR_RETURN(std::uint64_t offset, t.NextEventOffset());
  std::string event_id = core::NewUuidV7();
  std::string ts = core::FormatTimestamp(now_us_);
  json envelope = {{"event_id", event_id},
                   {"envelope_version", kEnvelopeVersion},
                   {"event_type", event_type},
                   {"channel", channel},
                   {"ts_utc", ts},
                   {"object_pointer", subject},
                   {"change_type", nullptr},
                   {"payload_schema", "bver." + event_type + "@1.0.0"},
                   {"payload", payload},
                   {"correlation_id", ctx.correlation_id},
                   {"causation_id", ctx.causation_id},
                   {"manifest_fingerprint", store_.impl_->options.manifest_fingerprint},
                   {"partition_key", subject},
                   {"offset", offset}};
  if (!store_.impl_->options.policy_revision.empty()) {
    envelope["policy_revision"] = store_.impl_->options.policy_revision;
  }
  BVER_RETURN_IF_ERROR(t.AppendEvent(offset, event_id, envelope.dump()));
  if (audit) {
    BVER_ASSIGN_OR_RETURN(std::string canon, core::CanonicalJson(payload));
    BVER_RETURN_IF_ERROR(Impl::AppendLedgerEntry(t, ts, event_type, subject, ctx, event_id, offset,
                                                 "sha256:" + core::Sha256Hex(canon)));
  }
  return offset;
}

Result<std::uint64_t> Store::AppendEvent(const std::string& channel, const std::string& event_type,
                                         const std::string& subject, const json& payload, const WriteContext& ctx,
                                         bool audit) {
  std::uint64_t offset = 0;
  TxnHelpers helpers(*this, impl_->options.clock());
  BVER_RETURN_IF_ERROR(impl_->backend->WriteTxn([&](Txn& t) -> Status {
    BVER_ASSIGN_OR_RETURN(offset, helpers.AppendEvent(t, channel, event_type, subject, payload, ctx, audit));
    return Status::Ok();
  }));
  return offset;
}

std::int64_t Store::Now() const { return impl_->options.clock(); }

void Store::SetMigrationPending(std::string reason) {
  std::lock_guard<std::mutex> lock(impl_->pending_mu);
  impl_->pending = !reason.empty();
  impl_->pending_reason = std::move(reason);
}

std::string Store::MigrationPending() const {
  std::lock_guard<std::mutex> lock(impl_->pending_mu);
  return impl_->pending_reason;
}

void Store::SetMigrationRecheck(std::function<std::string()> recheck) {
  std::lock_guard<std::mutex> lock(impl_->pending_mu);
  impl_->recheck = std::move(recheck);
}

Status Store::Impl::RefuseWhilePending() const {
  if (!pending.load(std::memory_order_acquire)) return Status::Ok();
  std::unique_lock<std::mutex> lock(pending_mu);
  if (pending_reason.empty()) return Status::Ok();
  // Another process may have applied the migration since: ask again, at
  // most once a second, outside the lock (it reads the store).
  const std::int64_t now = options.clock();
  if (recheck && now - last_recheck_us >= 1000000) {
    last_recheck_us = now;
    std::function<std::string()> ask = recheck;
    lock.unlock();
    std::string reason = ask();
    lock.lock();
    pending_reason = std::move(reason);
    pending.store(!pending_reason.empty(), std::memory_order_release);
    if (pending_reason.empty()) return Status::Ok();
  }
  return Status(StatusCode::kFailedPrecondition, pending_reason,
                {{"store", "migration_required", "run `bver migrate plan`, then `bver migrate apply`"}});
}

}  // namespace bver::store
