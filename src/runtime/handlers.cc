#include "src/runtime/handlers.h"

#include "src/store/filter.h"

#include <cstring>
#include <ctime>
#include <sstream>

#include <nlohmann/json.hpp>

#include "src/store/artifact_store.h"
#include "src/runtime/subscription_service.h"
#include "src/store/store.h"

namespace bver::runtime::internal {
namespace {

using nlohmann::json;
using domain::OperationKind;

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int B64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

Status NoStore() {
  return FailedPreconditionError("this operation table is not bound to a store (documentation only)");
}

Status NoArtifacts() {
  return FailedPreconditionError("artifacts are not configured on this server");
}

json RefJson(const store::Reference& r, bool with_body = true) {
  json j = {{"pointer", r.pointer().ToString()},
            {"ns", r.ns},
            {"repo", r.repo},
            {"id", r.id},
            {"version", r.version},
            {"kind", r.kind.empty() ? json(nullptr) : json(r.kind)},
            {"deleted", r.deleted},
            {"created_at", core::FormatTimestamp(r.created_at_us)},
            {"updated_at", core::FormatTimestamp(r.updated_at_us)}};
  if (with_body) j["body"] = r.body ? *r.body : json::object();
  if (r.provenance) j["provenance"] = *r.provenance;
  return j;
}

// The reference an input names, by `id` or by `pointer` (exactly one: the
// schema has checked that). A pinned pointer is refused unless
// `allow_version`; an attribute path always (the schema pattern has none).
Result<Pointer> TargetOf(const json& in, const domain::Repo& r, bool allow_version) {
  if (auto id = in.find("id"); id != in.end()) {
    return Pointer::Make(r.ns, r.name, id->get<std::string>());
  }
  std::string text = in.value("pointer", "");
  Result<Pointer> p = Pointer::Parse(text);
  if (!p.ok()) {
    std::vector<Violation> v = p.status().violations();
    for (Violation& x : v) x.path = "pointer";
    return InvalidArgumentError(p.status().message(), v);
  }
  if (p->ns() != r.ns || p->repo() != r.name) {
    return InvalidArgumentError("pointer " + p->ToString() + " is not in repo " + r.qualified_name(),
                                {{"pointer", "pointer.repo", "expected bver://" + r.qualified_name() + "/{id}"}});
  }
  if (!p->path().empty()) {
    return InvalidArgumentError("an attribute path is not allowed here (use resolve)",
                                {{"pointer", "pointer.path", "drop the @path"}});
  }
  if (p->version() && !allow_version) {
    return InvalidArgumentError("this operation works on the latest version; drop the ~N from the pointer",
                                {{"pointer", "pointer.version", "drop the ~N"}});
  }
  return *p;
}

store::WriteContext Context(const Call& call, const json& in) {
  store::WriteContext c;
  c.actor = call.principal.subject.empty() ? "anonymous" : call.principal.subject;
  c.correlation_id = call.correlation_id;
  c.causation_id = call.causation_id;
  if (auto v = in.find("expected_version"); v != in.end()) c.expected_version = v->get<std::uint64_t>();
  // Keys are per principal: one caller's key can never replay another's request.
  if (auto k = in.find("idempotency_key"); k != in.end()) c.idempotency_key = c.actor + " " + k->get<std::string>();
  return c;
}

Result<json> Mutation(const Call& call, store::Store& s, const domain::Repo& r, OperationKind kind) {
  const json& in = *call.input;
  BVER_ASSIGN_OR_RETURN(Pointer p, TargetOf(in, r, false));
  store::WriteContext ctx = Context(call, in);
  Result<store::Reference> out = InternalError("unreachable");
  switch (kind) {
    case OperationKind::kRefPatch:
      out = in.contains("merge") ? s.Patch(p, store::PatchFormat::kMergePatch, in.at("merge"), ctx)
                                 : s.Patch(p, store::PatchFormat::kJsonPatch, in.at("json_patch"), ctx);
      break;
    case OperationKind::kRefReplace:
      out = s.Replace(p, in.at("body"), ctx);
      break;
    case OperationKind::kRefDelete:
      out = s.Delete(p, ctx);
      break;
    default:
      break;
  }
  // The store's own answer is the precise one: a stale expected version is a
  // failed precondition (412), a lease or a reused idempotency key a conflict
  // (409).
  BVER_ASSIGN_OR_RETURN(store::Reference ref, std::move(out));
  return RefJson(ref, kind != OperationKind::kRefDelete);
}

Result<json> RefOp(const Call& call, store::Store* sp, const domain::Repo& r, OperationKind kind) {
  if (sp == nullptr) return NoStore();
  store::Store& s = *sp;
  const json& in = *call.input;
  switch (kind) {
    case OperationKind::kRefCreate: {
      store::WriteContext ctx = Context(call, in);
      // The broker has checked the body with the store's own validator
      // (OperationRow::check_body): the store does not check it again.
      ctx.body_checked = true;
      BVER_ASSIGN_OR_RETURN(store::Reference ref, s.Create(r.qualified_name(), in.value("kind", ""), in.at("body"), ctx,
                                                           in.value("id", "")));
      return RefJson(ref);
    }
    case OperationKind::kRefGet: {
      BVER_ASSIGN_OR_RETURN(Pointer p, TargetOf(in, r, false));
      BVER_ASSIGN_OR_RETURN(store::Reference ref, s.Get(p));
      return RefJson(ref);
    }
    case OperationKind::kRefPatch:
    case OperationKind::kRefReplace:
    case OperationKind::kRefDelete:
      return Mutation(call, s, r, kind);
    case OperationKind::kRefList: {
      store::ListQuery q;
      q.repo = r.qualified_name();
      q.kind = in.value("kind", "");
      q.cursor = in.value("cursor", "");
      q.limit = in.value("limit", std::size_t{100});
      q.include_deleted = in.value("include_deleted", false);
      if (auto w = in.find("where"); w != in.end()) {
        std::vector<Violation> bad;
        for (std::size_t i = 0; i < w->size(); ++i) {
          Result<store::Filter> f = store::ParseFilter((*w)[i].get<std::string>());
          if (f.ok()) {
            q.filters.push_back(*f);
          } else {
            bad.push_back({"where[" + std::to_string(i) + "]", "where", f.status().message()});
          }
        }
        if (!bad.empty()) return InvalidArgumentError("invalid filter", bad);
      }
      BVER_ASSIGN_OR_RETURN(store::ListPage page, s.List(q));
      json items = json::array();
      for (const store::Reference& ref : page.items) items.push_back(RefJson(ref));
      json out = {{"items", std::move(items)}};
      if (!page.next_cursor.empty()) out["next_cursor"] = page.next_cursor;
      return out;
    }
    case OperationKind::kRefHistory: {
      BVER_ASSIGN_OR_RETURN(Pointer p, TargetOf(in, r, false));
      BVER_ASSIGN_OR_RETURN(std::vector<store::VersionInfo> h, s.History(p));
      json versions = json::array();
      for (const store::VersionInfo& v : h) {
        json j = {{"version", v.version},
                  {"change", store::ChangeTypeName(v.change)},
                  {"committed_at", core::FormatTimestamp(v.committed_at_us)},
                  {"actor", v.actor},
                  {"correlation_id", v.correlation_id},
                  {"event_offset", v.event_offset}};
        if (v.provenance) j["provenance"] = *v.provenance;
        versions.push_back(std::move(j));
      }
      return json{{"pointer", p.ToString()}, {"versions", std::move(versions)}};
    }
    case OperationKind::kRefVersion: {
      BVER_ASSIGN_OR_RETURN(Pointer p, TargetOf(in, r, true));
      std::uint64_t v = in.at("version").get<std::uint64_t>();
      if (p.version() && *p.version() != v) {
        return InvalidArgumentError("the pointer names version " + std::to_string(*p.version()) + " but version is " +
                                        std::to_string(v),
                                    {{"version", "version", "must match the pointer's ~N"}});
      }
      BVER_ASSIGN_OR_RETURN(store::Reference ref, s.Get(p.WithVersion(v)));
      return RefJson(ref);
    }
    case OperationKind::kRefDiff: {
      BVER_ASSIGN_OR_RETURN(Pointer p, TargetOf(in, r, false));
      std::uint64_t from = in.at("from").get<std::uint64_t>();
      std::uint64_t to = in.at("to").get<std::uint64_t>();
      BVER_ASSIGN_OR_RETURN(json patch, s.Diff(p, from, to));
      return json{{"pointer", p.ToString()}, {"from", from}, {"to", to}, {"patch", std::move(patch)}};
    }
    default:
      return UnimplementedError("no handler for this operation");
  }
}

Result<json> GlobalOp(const Call& call, OperationTable::Bindings b, OperationKind kind) {
  const json& in = *call.input;
  switch (kind) {
    case OperationKind::kResolve: {
      if (b.store == nullptr) return NoStore();
      // The broker has parsed the pointer to check its repo's read scope.
      BVER_ASSIGN_OR_RETURN(Pointer p, Pointer::Parse(in.at("pointer").get<std::string>()));
      BVER_ASSIGN_OR_RETURN(store::JsonPtr v, b.store->Resolve(p));
      return json{{"pointer", p.ToString()}, {"value", *v}};
    }
    case OperationKind::kEventsRead: {
      if (b.subscriptions != nullptr) {
        json filter = json::object();
        for (const char* f : {"channels", "event_types", "pointer_prefix"}) {
          if (in.contains(f)) filter[f] = in[f];
        }
        return b.subscriptions->Read(in.value("from", std::uint64_t{1}), filter, in.value("limit", std::size_t{100}),
                                     in.value("wait_ms", std::int64_t{0}));
      }
      // A table without the events module (tests on a bare store): the log
      // in order, no filters.
      if (b.store == nullptr) return NoStore();
      for (const char* f : {"channels", "event_types", "pointer_prefix", "wait_ms"}) {
        if (in.contains(f)) {
          return FailedPreconditionError(std::string(f) + " needs the events module, which this runtime has not bound");
        }
      }
      std::uint64_t from = in.value("from", std::uint64_t{1});
      std::size_t limit = in.value("limit", std::size_t{100});
      BVER_ASSIGN_OR_RETURN(std::vector<store::Event> events, b.store->ReadEvents(from, limit));
      json out = json::array();
      std::uint64_t next = from;
      for (const store::Event& e : events) {
        json env = *e.envelope;
        env["offset"] = e.offset;
        out.push_back(std::move(env));
        next = e.offset + 1;
      }
      return json{{"events", std::move(out)}, {"next_offset", next}};
    }
    case OperationKind::kLedgerVerify: {
      if (b.store == nullptr) return NoStore();
      BVER_ASSIGN_OR_RETURN(store::LedgerVerification v, b.store->VerifyLedger());
      json out = {{"ok", v.ok}, {"entries", v.entries}};
      if (!v.ok) {
        out["first_broken"] = v.first_broken;
        out["problem"] = v.problem;
      }
      return out;
    }
    case OperationKind::kArtifactPut: {
      if (b.artifacts == nullptr) return NoArtifacts();
      const std::string& text = in.at("content_base64").get_ref<const std::string&>();
      if (text.size() / 4 * 3 > kMaxInlineArtifactBytes + 3) {
        return InvalidArgumentError("inline content is limited to 4 MiB; stream larger files",
                                    {{"content_base64", "maxLength", "at most 4 MiB once decoded"}});
      }
      std::optional<std::string> bytes = Base64Decode(text);
      if (!bytes) {
        return InvalidArgumentError("content_base64 is not base64",
                                    {{"content_base64", "contentEncoding", "expected RFC 4648 base64 with padding"}});
      }
      std::istringstream content(*bytes);
      BVER_ASSIGN_OR_RETURN(store::ArtifactInfo a, b.artifacts->Put(content));
      return json{{"digest", a.digest}, {"size", a.size}, {"existed", a.existed}};
    }
    case OperationKind::kArtifactGet: {
      if (b.artifacts == nullptr) return NoArtifacts();
      std::string digest = in.at("digest").get<std::string>();
      BVER_ASSIGN_OR_RETURN(store::ArtifactInfo a, b.artifacts->Stat(digest));
      json out = {{"digest", a.digest}, {"size", a.size}};
      if (in.value("include_content", false)) {
        if (a.size > kMaxInlineArtifactBytes) {
          return FailedPreconditionError("artifact " + a.digest + " has " + std::to_string(a.size) +
                                         " bytes; inline content is limited to 4 MiB: stream it instead");
        }
        std::ostringstream content;
        BVER_RETURN_IF_ERROR(b.artifacts->Get(digest, content));
        out["content_base64"] = Base64Encode(content.str());
      }
      return out;
    }
    default:
      return UnimplementedError("no handler for this operation");
  }
}

}  // namespace

Handler MakeHandler(const domain::Operation& op, const domain::Repo* repo, OperationTable::Bindings bindings) {
  OperationKind kind = op.kind;
  if (repo != nullptr) {
    return [bindings, repo, kind](const Call& call) { return RefOp(call, bindings.store, *repo, kind); };
  }
  return [bindings, kind](const Call& call) { return GlobalOp(call, bindings, kind); };
}



std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += kB64[v & 63];
  }
  if (bytes.size() - i == 1) {
    unsigned v = at(i) << 16;
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += "==";
  } else if (bytes.size() - i == 2) {
    unsigned v = (at(i) << 16) | (at(i + 1) << 8);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += kB64[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    bool last = i + 4 == text.size();
    int pad = 0;
    if (last && text[i + 3] == '=') pad = text[i + 2] == '=' ? 2 : 1;
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = text[i + k];
      int d = 0;
      if (k >= 4 - pad) {
        if (c != '=') return std::nullopt;
      } else {
        d = B64Value(c);
        if (d < 0) return std::nullopt;
      }
      v = (v << 6) | static_cast<unsigned>(d);
    }
    // Bits under the padding must be zero (one encoding per content).
    if ((pad == 1 && (v & 0xff) != 0) || (pad == 2 && (v & 0xffff) != 0)) return std::nullopt;
    out += static_cast<char>((v >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((v >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(v & 0xff);
  }
  return out;
}

}  // namespace bver::runtime::internal
