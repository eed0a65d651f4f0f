// The store's reads: references, lists, history, the graph, leases,
// events and the ledger walk (store_impl.h; docs/store.md).
#include "src/store/store_impl.h"

namespace bver::store {

Result<Reference> Store::Get(const Pointer& p) {
  BVER_ASSIGN_OR_RETURN(VersionRow row, impl_->Load(p));
  return impl_->ToReference(row);
}

Result<JsonPtr> Store::Resolve(const Pointer& p) {
  BVER_ASSIGN_OR_RETURN(Reference ref, Get(p));
  if (p.path().empty()) return ref.body;
  BVER_ASSIGN_OR_RETURN(const json* v, core::ResolvePath(*ref.body, p.path()));
  // Shares ownership of the (immutable) body: no copy of the value.
  return JsonPtr(ref.body, v);
}

Result<bool> Store::Exists(const Pointer& p) {
  Result<JsonPtr> r = Resolve(p);
  if (r.ok()) return true;
  if (r.status().code() == StatusCode::kNotFound) return false;
  return r.status();
}

Result<ListPage> Store::List(const ListQuery& q) {
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, impl_->FindRepo(q.repo));
  if (q.limit == 0 || q.limit > 1000) return InvalidArgumentError("limit must be from 1 to 1000");
  std::string after = q.cursor;
  if (!after.empty() && !IsValidReferenceId(after)) return InvalidArgumentError("invalid cursor");
  // Filters the backend can evaluate in its query go down to it; the rest
  // (objects or arrays as values, unusual keys) run here on the parsed body.
  std::vector<Filter> pushed, local;
  for (const Filter& f : q.filters) (IsPushableFilter(f) ? pushed : local).push_back(f);
  ListPage page;
  const std::size_t batch = local.empty() ? q.limit + 1 : std::max<std::size_t>(q.limit * 4, 256);
  while (true) {
    BVER_ASSIGN_OR_RETURN(std::vector<VersionRow> rows,
                          impl_->backend->ListHeads(repo->ns, repo->name, q.kind, after, batch,
                                                    q.include_deleted, pushed));
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const VersionRow& row = rows[i];
      after = row.id;
      BVER_ASSIGN_OR_RETURN(Reference ref, impl_->ToReference(row));
      bool keep = true;
      for (const Filter& f : local) {
        Result<const json*> v = core::ResolvePath(*ref.body, f.path);
        if (f.op == FilterOp::kExists) {
          keep = v.ok();
        } else if (f.op == FilterOp::kNotExists) {
          keep = !v.ok();
        } else {
          keep = v.ok() && f.value && Compare(**v, f.op, *f.value);
        }
        if (!keep) break;
      }
      if (!keep) continue;
      page.items.push_back(std::move(ref));
      if (page.items.size() == q.limit) {
        // More may follow; with local filters the last page may come back empty.
        if (i + 1 < rows.size() || (!local.empty() && rows.size() == batch)) page.next_cursor = after;
        return page;
      }
    }
    if (rows.size() < batch) return page;
  }
}

Result<std::vector<VersionInfo>> Store::History(const Pointer& p) {
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, impl_->RepoOf(p));
  BVER_ASSIGN_OR_RETURN(std::vector<VersionRow> rows, impl_->backend->History(repo->ns, repo->name, p.id()));
  if (rows.empty()) return NotFoundError("no reference " + p.Reference().ToString());
  std::vector<VersionInfo> out;
  for (const VersionRow& r : rows) {
    VersionInfo v;
    v.version = r.version;
    v.change = r.change;
    v.committed_at_us = r.committed_at_us;
    v.actor = r.actor;
    v.correlation_id = r.correlation_id;
    v.event_offset = r.event_offset;
    if (!r.provenance.empty()) {
      BVER_ASSIGN_OR_RETURN(json prov, ParseStored(r.provenance, "provenance"));
      v.provenance = Share(std::move(prov));
    }
    out.push_back(std::move(v));
  }
  return out;
}

Result<Reference> Store::GetAsOf(const Pointer& p, std::int64_t at_us) {
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, impl_->RepoOf(p));
  BVER_ASSIGN_OR_RETURN(std::optional<VersionRow> row,
                        impl_->backend->GetAsOf(repo->ns, repo->name, p.id(), at_us));
  if (!row) return NotFoundError("no version of " + p.Reference().ToString() + " existed at " + core::FormatTimestamp(at_us));
  return impl_->ToReference(*row);
}

Result<json> Store::Diff(const Pointer& p, std::uint64_t from, std::uint64_t to) {
  BVER_ASSIGN_OR_RETURN(Reference a, Get(p.Unpinned().WithPath({}).WithVersion(from)));
  BVER_ASSIGN_OR_RETURN(Reference b, Get(p.Unpinned().WithPath({}).WithVersion(to)));
  return patch::Diff(*a.body, *b.body);
}

Result<std::vector<Store::Backlink>> Store::ReferencesTo(const Pointer& target) {
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, impl_->RepoOf(target));
  (void)repo;
  BVER_ASSIGN_OR_RETURN(std::vector<EdgeRow> edges,
                        impl_->backend->EdgesTo(RefKey(target.ns(), target.repo(), target.id())));
  std::vector<Backlink> out;
  for (const EdgeRow& e : edges) {
    BVER_ASSIGN_OR_RETURN(Pointer from, Pointer::Parse("bver://" + e.from));
    out.push_back({std::move(from), e.path});
  }
  return out;
}

Result<std::map<std::string, std::uint64_t>> Store::LinkRevisions(const Pointer& target) {
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, impl_->RepoOf(target));
  (void)repo;
  return impl_->backend->LinkRevs(RefKey(target.ns(), target.repo(), target.id()));
}

Result<std::vector<Store::Backlink>> Store::ReferencesFrom(const Pointer& source) {
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, impl_->RepoOf(source));
  BVER_ASSIGN_OR_RETURN(Reference ref, Get(source.WithPath({})));
  std::vector<Backlink> out;
  for (const EdgeRow& e : impl_->EdgesOf(*repo, "", *ref.body)) {
    BVER_ASSIGN_OR_RETURN(Pointer to, Pointer::Parse("bver://" + e.to));
    out.push_back({std::move(to), e.path});
  }
  return out;
}

Result<Lease> Store::AcquireLease(const Pointer& target, const std::string& holder, std::int64_t ttl_ms) {
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, impl_->RepoOf(target));
  if (holder.empty()) return InvalidArgumentError("a lease needs a holder");
  if (ttl_ms <= 0) return InvalidArgumentError("lease ttl must be positive");
  std::string key = RefKey(repo->ns, repo->name, target.id());
  std::int64_t now = impl_->options.clock();
  Lease out;
  BVER_RETURN_IF_ERROR(impl_->backend->WriteTxn([&](Txn& t) -> Status {
    BVER_ASSIGN_OR_RETURN(std::optional<Lease> cur, t.GetLease(key));
    if (cur && cur->expires_at_us > now && cur->holder != holder) {
      return AbortedError("bver://" + key + " is leased by \"" + cur->holder + "\" until " +
                          core::FormatTimestamp(cur->expires_at_us));
    }
    out.target = target.Reference();
    out.holder = holder;
    out.acquired_at_us = (cur && cur->holder == holder && cur->expires_at_us > now) ? cur->acquired_at_us : now;
    out.expires_at_us = now + ttl_ms * 1000;
    return t.PutLease(key, out);
  }));
  return out;
}

Result<Lease> Store::RenewLease(const Pointer& target, const std::string& holder, std::int64_t ttl_ms) {
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, impl_->RepoOf(target));
  if (ttl_ms <= 0) return InvalidArgumentError("lease ttl must be positive");
  std::string key = RefKey(repo->ns, repo->name, target.id());
  std::int64_t now = impl_->options.clock();
  Lease out;
  BVER_RETURN_IF_ERROR(impl_->backend->WriteTxn([&](Txn& t) -> Status {
    BVER_ASSIGN_OR_RETURN(std::optional<Lease> cur, t.GetLease(key));
    if (!cur || cur->holder != holder || cur->expires_at_us <= now) {
      return FailedPreconditionError("\"" + holder + "\" holds no live lease on bver://" + key +
                                     (cur && cur->holder != holder ? " (held by \"" + cur->holder + "\")" : ""));
    }
    out = *cur;
    out.expires_at_us = now + ttl_ms * 1000;
    return t.PutLease(key, out);
  }));
  return out;
}

Status Store::ReleaseLease(const Pointer& target, const std::string& holder) {
  BVER_ASSIGN_OR_RETURN(const domain::Repo* repo, impl_->RepoOf(target));
  std::string key = RefKey(repo->ns, repo->name, target.id());
  return impl_->backend->WriteTxn([&](Txn& t) -> Status {
    BVER_ASSIGN_OR_RETURN(std::optional<Lease> cur, t.GetLease(key));
    if (!cur) return NotFoundError("no lease on bver://" + key);
    if (cur->holder != holder) {
      return AbortedError("the lease on bver://" + key + " is held by \"" + cur->holder + "\", not \"" + holder + "\"");
    }
    return t.DeleteLease(key);
  });
}

Result<std::vector<Event>> Store::ReadEvents(std::uint64_t from_offset, std::size_t limit) {
  if (limit == 0 || limit > 10000) return InvalidArgumentError("limit must be from 1 to 10000");
  return impl_->backend->ReadEvents(from_offset, limit);
}

Result<LedgerVerification> Store::VerifyLedger() {
  LedgerVerification v;
  auto broken = [&v](std::uint64_t seq, std::string why) {
    v.ok = false;
    v.first_broken = seq;
    v.problem = std::move(why);
    return v;
  };
  std::string prev(64, '0');
  std::uint64_t next = 1;
  std::uint64_t last_event_offset = 0;
  while (true) {
    BVER_ASSIGN_OR_RETURN(std::vector<LedgerRow> rows, impl_->backend->ReadLedger(next, 1000));
    for (const LedgerRow& r : rows) {
      if (r.seq != next) return broken(next, "entry " + std::to_string(next) + " is missing");
      if (core::Sha256Hex(r.entry) != r.hash) {
        return broken(r.seq, "entry " + std::to_string(r.seq) + " does not match its hash");
      }
      json e = json::parse(r.entry, nullptr, false);
      if (e.is_discarded() || e.value("prev_hash", "") != prev) {
        return broken(r.seq, "entry " + std::to_string(r.seq) + " does not link to entry " +
                                 std::to_string(r.seq - 1));
      }
      last_event_offset = std::max(last_event_offset, e.value("event_offset", std::uint64_t{0}));
      prev = r.hash;
      ++next;
      ++v.entries;
    }
    if (rows.size() < 1000) break;
  }
  // Every reference mutation writes its traffic event and its ledger entry
  // together, so a traffic event past the last entry's means entries were
  // cut off the end. Control events (job and workflow transitions) have no
  // entry of their own and may follow it.
  for (std::uint64_t from = last_event_offset + 1;;) {
    BVER_ASSIGN_OR_RETURN(std::vector<Event> after, impl_->backend->ReadEvents(from, 1000));
    for (const Event& e : after) {
      if (e.envelope && e.envelope->value("channel", "") == "traffic") {
        return broken(next, "entry " + std::to_string(next) + " is missing: event " + std::to_string(e.offset) +
                                " has no ledger entry (the ledger was truncated)");
      }
    }
    if (after.size() < 1000) break;
    from = after.back().offset + 1;
  }
  return v;
}

}  // namespace bver::store
