#include "src/events/registry.h"

#include <algorithm>
#include <charconv>
#include <chrono>

#include "src/core/clock.h"

namespace bver::events {
namespace {

using nlohmann::json;

std::string Key(const std::string& id, const SemVer& v) { return id + "@" + v.ToString(); }

Result<PayloadSchema> FromRecord(const store::RecordRow& row) {
  json j = json::parse(row.value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return DataLossError("payload schema record " + row.key + " is not JSON");
  PayloadSchema s;
  s.id = j.value("id", "");
  std::optional<SemVer> v = SemVer::Parse(j.value("version", ""));
  std::optional<CompatMode> m = ParseCompatMode(j.value("mode", ""));
  if (s.id.empty() || !v || !m || !j.contains("schema")) {
    return DataLossError("payload schema record " + row.key + " is malformed");
  }
  s.version = *v;
  s.mode = *m;
  s.schema = j["schema"];
  s.registered_at_us = j.value("registered_at_us", std::int64_t{0});
  return s;
}

Result<std::unique_ptr<schema::Validator>> Compile(const json& schema) {
  if (!schema.is_object() && !schema.is_boolean()) {
    return InvalidArgumentError("a payload schema is a JSON Schema document: an object or a boolean");
  }
  Result<std::unique_ptr<schema::Validator>> v = schema::Validator::Compile(schema);
  if (!v.ok()) return InvalidArgumentError("the schema does not compile: " + v.status().message(), v.status().violations());
  return v;
}

}  // namespace

std::optional<SemVer> SemVer::Parse(std::string_view text) {
  SemVer v;
  std::uint64_t* parts[] = {&v.major, &v.minor, &v.patch};
  std::size_t pos = 0;
  for (int i = 0; i < 3; ++i) {
    std::size_t end = i < 2 ? text.find('.', pos) : text.size();
    if (end == std::string_view::npos || end == pos || end - pos > 9) return std::nullopt;
    std::string_view part = text.substr(pos, end - pos);
    if (part.size() > 1 && part[0] == '0') return std::nullopt;
    auto [p, ec] = std::from_chars(part.data(), part.data() + part.size(), *parts[i]);
    if (ec != std::errc() || p != part.data() + part.size()) return std::nullopt;
    pos = end + 1;
  }
  return v;
}

std::string SemVer::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}

Status CheckSchemaId(std::string_view id) {
  bool ok = !id.empty() && id.size() <= 128 &&
            ((id[0] >= 'a' && id[0] <= 'z') || (id[0] >= '0' && id[0] <= '9')) &&
            std::all_of(id.begin(), id.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
            });
  if (ok) return Status::Ok();
  return InvalidArgumentError("invalid schema id \"" + std::string(id) + "\"",
                              {{"id", "schema.id",
                                "lower-case letters, digits, '.', '_' and '-', starting with a letter or digit, "
                                "at most 128 characters"}});
}

Result<SchemaRef> ParseSchemaRef(std::string_view text) {
  std::size_t at = text.rfind('@');
  if (at == std::string_view::npos) {
    return InvalidArgumentError("\"" + std::string(text) + "\" is not id@X.Y.Z",
                                {{"payload_schema", "schema.ref", "expected id@X.Y.Z, e.g. orders.created@1.0.0"}});
  }
  BVER_RETURN_IF_ERROR(CheckSchemaId(text.substr(0, at)));
  std::optional<SemVer> v = SemVer::Parse(text.substr(at + 1));
  if (!v) {
    return InvalidArgumentError("\"" + std::string(text.substr(at + 1)) + "\" is not a version X.Y.Z",
                                {{"version", "schema.version", "three numbers X.Y.Z without leading zeros"}});
  }
  return SchemaRef{std::string(text.substr(0, at)), *v};
}

json PayloadSchema::ToJson() const {
  return {{"id", id},
          {"version", version.ToString()},
          {"ref", Ref()},
          {"mode", std::string(CompatModeName(mode))},
          {"registered_at", core::FormatTimestamp(registered_at_us)},
          {"schema", schema}};
}

json CompatReport::ToJson() const {
  json b = json::array();
  for (const Violation& v : breaks) b.push_back({{"path", v.path}, {"rule", v.rule}, {"message", v.message}});
  return {{"id", id},
          {"mode", std::string(CompatModeName(mode))},
          {"previous", previous ? json(*previous) : json(nullptr)},
          {"compatible", compatible()},
          {"breaks", std::move(b)}};
}

PayloadRegistry::PayloadRegistry(store::RecordTable& records) : records_(records) {}

Result<std::vector<PayloadSchema>> PayloadRegistry::Versions(const std::string& id) {
  BVER_RETURN_IF_ERROR(CheckSchemaId(id));
  std::vector<PayloadSchema> out;
  std::string after = id + "@";  // sorts before every "id@X.Y.Z"
  std::string prefix = id + "@";
  for (;;) {
    BVER_ASSIGN_OR_RETURN(std::vector<store::RecordRow> rows, records_.ListRecords(kPayloadSchemaRecord, after, 200));
    bool more = rows.size() == 200;
    for (const store::RecordRow& r : rows) {
      if (r.key.compare(0, prefix.size(), prefix) != 0) {
        more = false;
        break;
      }
      BVER_ASSIGN_OR_RETURN(PayloadSchema s, FromRecord(r));
      out.push_back(std::move(s));
    }
    if (!more) break;
    after = rows.back().key;
  }
  // Keys sort as text ("1.10.0" < "1.9.0"): order by version.
  std::sort(out.begin(), out.end(), [](const PayloadSchema& a, const PayloadSchema& b) { return a.version < b.version; });
  return out;
}

Result<std::vector<PayloadSchema>> PayloadRegistry::List() {
  std::vector<PayloadSchema> out;
  std::string after;
  for (;;) {
    BVER_ASSIGN_OR_RETURN(std::vector<store::RecordRow> rows, records_.ListRecords(kPayloadSchemaRecord, after, 200));
    for (const store::RecordRow& r : rows) {
      BVER_ASSIGN_OR_RETURN(PayloadSchema s, FromRecord(r));
      out.push_back(std::move(s));
    }
    if (rows.size() < 200) break;
    after = rows.back().key;
  }
  std::sort(out.begin(), out.end(), [](const PayloadSchema& a, const PayloadSchema& b) {
    return a.id != b.id ? a.id < b.id : a.version < b.version;
  });
  return out;
}

Result<PayloadSchema> PayloadRegistry::Get(const std::string& id, const std::string& version) {
  BVER_RETURN_IF_ERROR(CheckSchemaId(id));
  if (version.empty()) {
    BVER_ASSIGN_OR_RETURN(std::vector<PayloadSchema> all, Versions(id));
    if (all.empty()) return NotFoundError("no payload schema " + id);
    return all.back();
  }
  std::optional<SemVer> v = SemVer::Parse(version);
  if (!v) {
    return InvalidArgumentError("\"" + version + "\" is not a version X.Y.Z",
                                {{"version", "schema.version", "three numbers X.Y.Z without leading zeros"}});
  }
  BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, records_.GetRecord(kPayloadSchemaRecord, Key(id, *v)));
  if (!row) return NotFoundError("no payload schema " + Key(id, *v));
  return FromRecord(*row);
}

Result<CompatReport> PayloadRegistry::Check(const std::string& id, const json& schema, std::optional<CompatMode> mode) {
  BVER_RETURN_IF_ERROR(CheckSchemaId(id));
  BVER_RETURN_IF_ERROR(Compile(schema).status());
  BVER_ASSIGN_OR_RETURN(std::vector<PayloadSchema> all, Versions(id));
  CompatReport report;
  report.id = id;
  report.mode = mode ? *mode : (all.empty() ? CompatMode::kBackward : all.back().mode);
  if (!all.empty()) {
    report.previous = all.back().Ref();
    report.breaks = CheckCompatibility(all.back().schema, schema, report.mode);
  }
  return report;
}

Result<PayloadSchema> PayloadRegistry::Register(const std::string& id, const std::string& version, const json& schema,
                                                std::optional<CompatMode> mode) {
  BVER_RETURN_IF_ERROR(CheckSchemaId(id));
  std::optional<SemVer> v = SemVer::Parse(version);
  if (!v) {
    return InvalidArgumentError("\"" + version + "\" is not a version X.Y.Z",
                                {{"version", "schema.version", "three numbers X.Y.Z without leading zeros"}});
  }
  BVER_ASSIGN_OR_RETURN(CompatReport report, Check(id, schema, mode));
  BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> same, records_.GetRecord(kPayloadSchemaRecord, Key(id, *v)));
  if (same) {
    BVER_ASSIGN_OR_RETURN(PayloadSchema existing, FromRecord(*same));
    if (existing.schema == schema) return existing;
    return AlreadyExistsError(Key(id, *v) + " is registered with another schema; registered versions never change");
  }
  if (report.previous) {
    BVER_ASSIGN_OR_RETURN(SchemaRef prev, ParseSchemaRef(*report.previous));
    if (!(prev.version < *v)) {
      return FailedPreconditionError("version " + v->ToString() + " is not above the latest, " + *report.previous);
    }
  }
  if (!report.compatible()) {
    return Status(StatusCode::kFailedPrecondition,
                  Key(id, *v) + " is not " + std::string(CompatModeName(report.mode)) + "-compatible with " +
                      *report.previous + " (" + std::to_string(report.breaks.size()) + " break(s))",
                  report.breaks);
  }
  PayloadSchema s;
  s.id = id;
  s.version = *v;
  s.mode = report.mode;
  s.schema = schema;
  s.registered_at_us = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::system_clock::now().time_since_epoch()).count();
  json value = {{"id", s.id},
                {"version", s.version.ToString()},
                {"mode", std::string(CompatModeName(s.mode))},
                {"schema", s.schema},
                {"registered_at_us", s.registered_at_us}};
  // Inserted only where no record is (compare-and-set against none): two
  // registrations racing for one version must not both win.
  BVER_ASSIGN_OR_RETURN(bool won, records_.CompareAndSetRecord(
                                       {kPayloadSchemaRecord, Key(id, *v), value.dump(), s.registered_at_us},
                                       std::nullopt));
  if (!won) return AbortedError(Key(id, *v) + " was registered concurrently; try again");
  return s;
}

Result<std::shared_ptr<const schema::Validator>> PayloadRegistry::ValidatorFor(const std::string& ref) {
  BVER_ASSIGN_OR_RETURN(SchemaRef r, ParseSchemaRef(ref));
  std::string key = r.ToString();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = validators_.find(key);
    if (it != validators_.end()) return it->second;
  }
  BVER_ASSIGN_OR_RETURN(std::optional<store::RecordRow> row, records_.GetRecord(kPayloadSchemaRecord, key));
  if (!row) return NotFoundError("payload schema " + key + " is not registered");
  BVER_ASSIGN_OR_RETURN(PayloadSchema s, FromRecord(*row));
  BVER_ASSIGN_OR_RETURN(std::unique_ptr<schema::Validator> v, Compile(s.schema));
  std::shared_ptr<const schema::Validator> shared(std::move(v));
  std::lock_guard<std::mutex> lock(mu_);
  validators_.emplace(key, shared);
  return shared;
}

}  // namespace bver::events
