#include "src/server/health.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/timex.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "src/auth/api_keys.h"
#include "src/auth/config.h"
#include "src/domain/platform.h"
#include "src/migrate/migrate.h"
#include "src/plugin/registry.h"
#include "src/store/open.h"
#include "src/store/store.h"

namespace bver::server {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

HealthCheck Make(std::string name, HealthStatus status, std::string detail, std::string fix = "") {
  HealthCheck c;
  c.name = std::move(name);
  c.status = status;
  c.detail = std::move(detail);
  c.fix = std::move(fix);
  return c;
}

// The first line of a message: a check's detail is one line.
std::string FirstLine(const std::string& text) {
  std::size_t nl = text.find('\n');
  return nl == std::string::npos ? text : text.substr(0, nl) + " ...";
}

// Every problem a Status carries, on one line.
std::string Reasons(const Status& s) {
  if (s.violations().empty()) return FirstLine(s.message());
  std::string out;
  for (const Violation& v : s.violations()) out += (out.empty() ? "" : "; ") + v.message;
  return out;
}


std::string Bytes(std::uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string Percent(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", p);
  return buf;
}

// "3 h 2 min", "41 s", "1.5 s": a duration for people.
std::string Duration(std::int64_t us) {
  std::int64_t s = us / 1000000;
  char buf[64];
  if (s >= 86400) {
    std::snprintf(buf, sizeof buf, "%lld d %lld h", static_cast<long long>(s / 86400),
                  static_cast<long long>(s % 86400 / 3600));
  } else if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lld h %lld min", static_cast<long long>(s / 3600),
                  static_cast<long long>(s % 3600 / 60));
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lld min %lld s", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%.1f s", static_cast<double>(us) / 1e6);
  }
  return buf;
}

// ---- NATS: a TCP connect and the INFO line ----

struct NatsEndpoint {
  std::string shown;  // scheme://host:port, without user info
  std::string host;
  std::string port;
};

Result<NatsEndpoint> ParseNatsEndpoint(std::string text) {
  auto blank = [](char c) { return c == ' ' || c == '\t'; };
  while (!text.empty() && blank(text.front())) text.erase(text.begin());
  while (!text.empty() && blank(text.back())) text.pop_back();
  std::string scheme = "nats";
  if (std::size_t at = text.find("://"); at != std::string::npos) {
    scheme = text.substr(0, at);
    text = text.substr(at + 3);
  }
  if (std::size_t at = text.rfind('@'); at != std::string::npos) text = text.substr(at + 1);
  if (std::size_t slash = text.find('/'); slash != std::string::npos) text = text.substr(0, slash);
  NatsEndpoint e;
  e.port = "4222";
  if (!text.empty() && text.front() == '[') {
    std::size_t close = text.find(']');
    if (close == std::string::npos) return InvalidArgumentError("NATS URL: unclosed [ in " + text);
    e.host = text.substr(1, close - 1);
    if (close + 1 < text.size() && text[close + 1] == ':') e.port = text.substr(close + 2);
  } else if (std::size_t colon = text.rfind(':'); colon != std::string::npos) {
    e.host = text.substr(0, colon);
    e.port = text.substr(colon + 1);
  } else {
    e.host = text;
  }
  if (e.host.empty()) return InvalidArgumentError("NATS URL without a host");
  if (e.port.empty() || e.port.find_first_not_of("0123456789") != std::string::npos) {
    return InvalidArgumentError("NATS URL: the port \"" + e.port + "\" is not a number");
  }
  bool v6 = e.host.find(':') != std::string::npos;
  e.shown = scheme + "://" + (v6 ? "[" + e.host + "]" : e.host) + ":" + e.port;
  return e;
}

// A file descriptor closed when it goes out of scope.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Waits until `fd` is ready for `events` or `deadline` passes.
bool WaitFor(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return false;
  }
}

// The server's INFO object, or why there is none.
Result<json> ReadNatsInfo(const NatsEndpoint& e, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = ::getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &found); rc != 0) {
    return UnavailableError("cannot resolve " + e.host + ": " + ::gai_strerror(rc));
  }
  std::unique_ptr<addrinfo, void (*)(addrinfo*)> addresses(found, ::freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    Fd s{::socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol)};
    if (s.fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    if (::connect(s.fd, a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last_error = std::strerror(errno);
        continue;
      }
      if (!WaitFor(s.fd, POLLOUT, deadline)) {
        last_error = "no connection within " + std::to_string(timeout.count()) + " ms";
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last_error = std::strerror(err);
        continue;
      }
    }
    // NATS servers speak first: "INFO {...}\r\n".
    std::string line;
    char buf[4096];
    while (line.find("\r\n") == std::string::npos && line.size() < (1u << 20)) {
      if (!WaitFor(s.fd, POLLIN, deadline)) {
        return UnavailableError("connected, but no INFO line within " +
                                std::to_string(timeout.count()) + " ms: is it a NATS server?");
      }
      ssize_t n = ::recv(s.fd, buf, sizeof buf, 0);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0)
        return UnavailableError(
            "connected, but the server closed the connection before its INFO line");
      line.append(buf, static_cast<std::size_t>(n));
    }
    line = line.substr(0, line.find("\r\n"));
    if (line.rfind("INFO ", 0) != 0) {
      return UnavailableError("connected, but the server did not answer as NATS does (" +
                              FirstLine(line.substr(0, 40)) + ")");
    }
    json info = json::parse(line.substr(5), nullptr, false);
    if (!info.is_object()) return UnavailableError("connected, but its INFO line is not JSON");
    return info;
  }
  return UnavailableError(last_error);
}

// ---- the project's checks ----

HealthCheck CheckStore(const HealthReport& r, const Project* project) {
  if (!r.runtime) {
    return Make("store", HealthStatus::kFail,
                "does not open: " + FirstLine(r.runtime_status.message()),
                "the detail says why; `bver compile` checks bver.yaml, and --store, $BVER_STORE or "
                "bver.config.yaml name the store");
  }
  const Runtime& rt = *r.runtime;
  std::string where =
      store::RedactUrl(project->store_url) + ", manifest " + migrate::ShortFingerprint(rt.fingerprint);
  std::string pending = rt.store->MigrationPending();
  HealthCheck c =
      pending.empty()
          ? Make("store", HealthStatus::kOk, where + ": migrated to it")
          : Make("store", HealthStatus::kWarn,
                 where + ": WAITS FOR A MIGRATION: " + FirstLine(pending),
                 "`bver migrate plan` shows what changes, `bver migrate apply` migrates the store "
                 "(docs/migrations.md); until then writes are refused");
  c.facts["store"] = store::RedactUrl(project->store_url);
  c.facts["manifest"] = rt.fingerprint;
  c.facts["migration"] = pending.empty() ? "current" : "waiting";
  return c;
}

HealthCheck CheckPlugins(Runtime& rt) {
  Result<std::vector<plugin::InstalledPlugin>> all = rt.plugins->List();
  if (!all.ok()) {
    return Make("plugins", HealthStatus::kFail,
                "cannot read the plugin registry: " + FirstLine(all.status().message()),
                "check the store (see the store check)");
  }
  HealthCheck c = Make("plugins", HealthStatus::kOk, "");
  int bad = 0;
  for (const plugin::InstalledPlugin& p : *all) {
    Status s = plugin::Registry::Check(p, rt.platform.get(), *all);
    c.items.push_back({p.plugin_id + " " + p.version, s.ok(), s.ok() ? "compatible" : Reasons(s)});
    if (!s.ok()) ++bad;
  }
  std::vector<std::string> missing;
  for (const domain::Capability& cap : rt.platform->capabilities) {
    bool installed = std::any_of(all->begin(), all->end(), [&](const plugin::InstalledPlugin& p) {
      return p.plugin_id == cap.plugin;
    });
    if (!installed && std::find(missing.begin(), missing.end(), cap.plugin) == missing.end()) {
      missing.push_back(cap.plugin);
    }
  }
  std::string detail = std::to_string(all->size()) + " installed";
  if (bad > 0) {
    c.status = HealthStatus::kFail;
    detail += ", " + std::to_string(bad) + " not compatible:";
    std::string sep = " ";
    for (const HealthItem& i : c.items) {
      if (i.ok) continue;
      detail += sep + i.name;
      sep = ", ";
    }
    c.fix =
        "install a compatible version (`bver plugins install --replace FOLDER`) or remove it "
        "(`bver plugins "
        "remove ID`); `bver plugins show ID` says why";
  } else {
    detail += all->empty() ? "" : ", all compatible";
  }
  if (!missing.empty()) {
    std::string names;
    for (const std::string& m : missing) names += (names.empty() ? "" : ", ") + m;
    detail += "; bver.yaml's capabilities need " + names + ", not installed";
    if (c.status == HealthStatus::kOk) {
      c.status = HealthStatus::kWarn;
      c.fix =
          "`bver plugins install FOLDER` for each (docs/plugins.md); until then the jobs of those "
          "capabilities "
          "fail, and everything else works";
    }
  }
  c.detail = detail;
  return c;
}

HealthCheck CheckProfile(const Profile& profile, Runtime* rt, const std::string& project_dir) {
  std::string named = profile.name + " (" + profile.revision + ")";
  HealthCheck c = Make("profile", HealthStatus::kOk, named);
  c.facts["profile"] = profile.name;
  c.facts["policy_revision"] = profile.revision;
  c.facts["auth"] = profile.policy.auth_required ? "required" : "optional";
  // What is configured, whether or not it is required.
  std::string jwt;
  Result<auth::AuthConfig> config = auth::LoadAuthConfig(project_dir, profile.name);
  if (!config.ok()) {
    c.status = HealthStatus::kFail;
    c.detail =
        named + ": the JWT configuration does not load: " + FirstLine(config.status().message());
    c.fix = "correct it (profiles." + profile.name +
            ".wiring.jwt or auth.jwt in bver.config.yaml, and the "
            "variables or files they name; docs/auth.md)";
    return c;
  }
  if (config->jwt) {
    Result<std::unique_ptr<auth::JwtVerifier>> v = auth::JwtVerifier::Create(*config->jwt);
    if (!v.ok()) {
      c.status = HealthStatus::kFail;
      c.detail = named + ": the JWT configuration is refused: " + FirstLine(v.status().message());
      c.fix = "correct the JWT key it names (docs/auth.md)";
      return c;
    }
    jwt = config->jwt->rs256_public_key_pem.empty() ? "JWT HS256" : "JWT RS256";
    if (!config->jwt->hs256_secret.empty() && !config->jwt->rs256_public_key_pem.empty())
      jwt = "JWT HS256 and RS256";
  }
  std::optional<int> keys;
  if (rt != nullptr) {
    auth::ApiKeys table(rt->store->backend());
    Result<std::vector<auth::ApiKeyInfo>> listed = table.List();
    if (listed.ok()) {
      keys = static_cast<int>(std::count_if(listed->begin(), listed->end(),
                                            [](const auth::ApiKeyInfo& k) { return k.active(); }));
    }
  }
  std::string configured;
  if (keys && *keys > 0) configured = std::to_string(*keys) + " active API key(s)";
  if (!jwt.empty()) configured += (configured.empty() ? "" : " and ") + jwt;
  if (!profile.policy.auth_required) {
    c.detail = named + ", auth optional" + (configured.empty() ? "" : ": " + configured);
    return c;
  }
  if (!configured.empty()) {
    c.detail = named + ", auth required: " + configured;
    return c;
  }
  if (!keys) {
    c.status = HealthStatus::kSkipped;
    c.detail = named + ", auth required: API keys not counted, the store did not open";
    return c;
  }
  c.status = HealthStatus::kFail;
  c.detail = named + " requires auth, and none is configured: `bver up` refuses to start";
  c.fix = "create an API key (`bver keys create --scopes admin`) or configure JWTs (profiles." +
          profile.name + ".wiring.jwt or auth.jwt in bver.config.yaml, docs/auth.md)";
  return c;
}

HealthCheck CheckClockSync() {
#ifdef __linux__
  timex t{};
  int state = ::adjtimex(&t);
  if (state == -1) {
    return Make("clock.sync", HealthStatus::kSkipped,
                std::string("the kernel does not say: ") + std::strerror(errno));
  }
  if ((t.status & STA_UNSYNC) != 0 || state == TIME_ERROR) {
    return Make("clock.sync", HealthStatus::kWarn,
                "the kernel reports the clock as not synchronized (adjtimex: STA_UNSYNC)",
                "enable time synchronization (`timedatectl set-ntp true`, chrony or "
                "systemd-timesyncd); on a "
                "container the host's clock is the one to synchronize");
  }
  HealthCheck c = Make("clock.sync", HealthStatus::kOk,
                       "synchronized (estimated error " + std::to_string(t.esterror) + " us)");
  return c;
#else
  return Make("clock.sync", HealthStatus::kSkipped, "not known on this system");
#endif
}

// The store's newest event: its time, or std::nullopt for an empty log.
Result<std::optional<std::pair<std::int64_t, std::string>>> NewestEvent(store::Store& s) {
  BVER_ASSIGN_OR_RETURN(std::uint64_t last, s.backend().LastEventOffset());
  if (last == 0) return std::optional<std::pair<std::int64_t, std::string>>();
  BVER_ASSIGN_OR_RETURN(std::vector<store::Event> events, s.backend().ReadEvents(last, 1));
  if (events.empty() || !events[0].envelope)
    return std::optional<std::pair<std::int64_t, std::string>>();
  const json& env = *events[0].envelope;
  std::string ts =
      env.contains("ts_utc") && env["ts_utc"].is_string() ? env["ts_utc"].get<std::string>() : "";
  BVER_ASSIGN_OR_RETURN(std::int64_t us, ParseUtcTimestamp(ts));
  return std::optional<std::pair<std::int64_t, std::string>>(std::make_pair(us, ts));
}

std::int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

const char* HealthStatusName(HealthStatus s) {
  switch (s) {
    case HealthStatus::kOk:
      return "ok";
    case HealthStatus::kWarn:
      return "warn";
    case HealthStatus::kFail:
      return "fail";
    case HealthStatus::kSkipped:
      return "skipped";
  }
  return "fail";
}

nlohmann::json ToJson(const HealthCheck& c) {
  json j = {{"name", c.name}, {"status", HealthStatusName(c.status)}, {"detail", c.detail}};
  if ((c.status == HealthStatus::kWarn || c.status == HealthStatus::kFail) && !c.fix.empty())
    j["fix"] = c.fix;
  for (const auto& [k, v] : c.facts) j[k] = v;
  if (c.disk) {
    j["path"] = c.disk->path;
    j["free_bytes"] = c.disk->free_bytes;
    j["total_bytes"] = c.disk->total_bytes;
    j["free_percent"] = std::round(c.disk->free_percent * 10) / 10;
  }
  if (!c.items.empty() || c.name == "plugins") {
    json items = json::array();
    for (const HealthItem& i : c.items)
      items.push_back({{"name", i.name}, {"ok", i.ok}, {"detail", i.detail}});
    j["items"] = std::move(items);
  }
  return j;
}

bool HealthReport::ok() const {
  return std::none_of(checks.begin(), checks.end(),
                      [](const HealthCheck& c) { return c.status == HealthStatus::kFail; });
}

Result<std::int64_t> ParseUtcTimestamp(const std::string& text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, used = 0;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) !=
          6 ||
      used != 19) {
    return InvalidArgumentError("not an RFC 3339 UTC time: \"" + text + "\"");
  }
  std::int64_t micros = 0;
  std::size_t at = 19;
  if (at < text.size() && text[at] == '.') {
    int digits = 0;
    for (++at; at < text.size() && text[at] >= '0' && text[at] <= '9'; ++at, ++digits) {
      if (digits < 6) micros = micros * 10 + (text[at] - '0');
    }
    if (digits == 0) return InvalidArgumentError("not an RFC 3339 UTC time: \"" + text + "\"");
    for (; digits < 6; ++digits) micros *= 10;
  }
  if (text.substr(at) != "Z" && text.substr(at) != "+00:00") {
    return InvalidArgumentError("not an RFC 3339 UTC time: \"" + text + "\"");
  }
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  std::time_t secs = ::timegm(&tm);
  return static_cast<std::int64_t>(secs) * 1000000 + micros;
}

std::string WithoutUserInfo(const std::string& url) {
  std::string out;
  std::stringstream in(url);
  std::string part;
  while (std::getline(in, part, ',')) {
    std::size_t scheme = part.find("://");
    std::size_t start = scheme == std::string::npos ? 0 : scheme + 3;
    std::size_t at = part.find('@', start);
    std::size_t slash = part.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash))
      part.erase(start, at + 1 - start);
    out += (out.empty() ? "" : ",") + part;
  }
  return out;
}

HealthCheck ClassifyDisk(const std::string& name, const DiskSpace& space) {
  std::string detail = space.path + ": " + Bytes(space.free_bytes) + " free of " +
                       Bytes(space.total_bytes) + " (" + Percent(space.free_percent) + ")";
  const std::string fix = "free space on the filesystem of " + space.path +
                          " (old snapshots in .bver/backups can go), or move the store or "
                          "artifacts_dir to a larger one";
  HealthCheck c;
  if (space.free_percent < kDiskFailPercent || space.free_bytes < kDiskFailBytes) {
    c = Make(name, HealthStatus::kFail, detail + ": under 2 % or 100 MiB, writes may fail soon",
             fix);
  } else if (space.free_percent < kDiskWarnPercent || space.free_bytes < kDiskWarnBytes) {
    c = Make(name, HealthStatus::kWarn, detail + ": under 10 % or 1 GiB", fix);
  } else {
    c = Make(name, HealthStatus::kOk, detail);
  }
  c.disk = space;
  return c;
}

HealthCheck CheckDisk(const std::string& name, const std::string& path) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec).lexically_normal();
  fs::path probe = p;
  while (!probe.empty() && !fs::exists(probe, ec) && probe.has_parent_path() &&
         probe != probe.parent_path()) {
    probe = probe.parent_path();
  }
  struct statvfs v {};
  if (::statvfs(probe.c_str(), &v) != 0) {
    return Make(name, HealthStatus::kFail, p.string() + ": " + std::strerror(errno),
                "check that the folder exists and can be read");
  }
  DiskSpace space;
  space.path = p.string();
  const std::uint64_t unit = v.f_frsize != 0 ? v.f_frsize : v.f_bsize;
  space.free_bytes = static_cast<std::uint64_t>(v.f_bavail) * unit;
  space.total_bytes = static_cast<std::uint64_t>(v.f_blocks) * unit;
  space.free_percent = space.total_bytes == 0 ? 0
                                              : 100.0 * static_cast<double>(space.free_bytes) /
                                                    static_cast<double>(space.total_bytes);
  return ClassifyDisk(name, space);
}

HealthCheck CheckNats(const std::string& url, std::chrono::milliseconds timeout) {
  HealthCheck c = Make("nats", HealthStatus::kOk, "");
  const std::string shown_url = WithoutUserInfo(url);
  c.facts["url"] = shown_url;
  std::stringstream in(url);
  std::string part;
  std::vector<std::string> up, down, no_jetstream;
  while (std::getline(in, part, ',')) {
    Result<NatsEndpoint> e = ParseNatsEndpoint(part);
    if (!e.ok()) {
      down.push_back(WithoutUserInfo(part) + ": " + e.status().message());
      continue;
    }
    Result<json> info = ReadNatsInfo(*e, timeout);
    if (!info.ok()) {
      down.push_back(e->shown + ": " + info.status().message());
      continue;
    }
    std::string about = e->shown + " (nats-server " + info->value("version", std::string("?"));
    bool js = info->contains("jetstream") && (*info)["jetstream"].is_boolean() &&
              (*info)["jetstream"].get<bool>();
    about += js ? ", JetStream on)" : ", no JetStream)";
    up.push_back(about);
    if (!js) no_jetstream.push_back(e->shown);
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const std::string& x : v) s += (s.empty() ? "" : "; ") + x;
    return s;
  };
  if (up.empty()) {
    c.status = HealthStatus::kFail;
    c.detail = "not reachable: " + join(down);
    c.fix = "start the NATS server at " + shown_url +
            " (with JetStream: nats-server -js), or correct the URL (--nats-url, $BVER_NATS_URL or "
            "the profile's "
            "wiring.nats_url); until then bver up's relay retries and events wait in the store";
    return c;
  }
  c.detail = "answers: " + join(up);
  if (!down.empty()) {
    c.status = HealthStatus::kWarn;
    c.detail += "; not reachable: " + join(down);
    c.fix = "start the servers that do not answer, or drop them from the URL";
  }
  if (!no_jetstream.empty()) {
    c.status = HealthStatus::kWarn;
    c.fix =
        "start nats-server with JetStream (-js): the relay publishes into a JetStream stream "
        "(docs/events.md)";
  }
  return c;
}

HealthCheck CheckClock(std::optional<std::int64_t> newest_event_us,
                       const std::string& newest_event_ts, std::int64_t now_us,
                       std::chrono::seconds tolerance) {
  // Time moves forward: both clocks advance over a short sleep, and by
  // about the same (a realtime clock stepped meanwhile shows as a gap).
  auto mono0 = std::chrono::steady_clock::now();
  auto real0 = std::chrono::system_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  auto mono1 = std::chrono::steady_clock::now();
  auto real1 = std::chrono::system_clock::now();
  const auto mono_us = std::chrono::duration_cast<std::chrono::microseconds>(mono1 - mono0).count();
  const auto real_us = std::chrono::duration_cast<std::chrono::microseconds>(real1 - real0).count();
  if (mono_us <= 0 || real_us <= 0) {
    return Make("clock", HealthStatus::kFail,
                "time does not move forward (over 20 ms of sleep: monotonic +" +
                    std::to_string(mono_us) + " us, realtime +" + std::to_string(real_us) + " us)",
                "the system clock is broken or being set backwards: check the time synchronization "
                "service");
  }
  if (std::llabs(static_cast<long long>(real_us - mono_us)) > 1000000) {
    return Make("clock", HealthStatus::kWarn,
                "the system clock was stepped by " +
                    Duration(std::llabs(static_cast<long long>(real_us - mono_us))) +
                    " while it was checked",
                "run `bver doctor` again; if it repeats, something keeps setting the clock");
  }
  if (!newest_event_us)
    return Make("clock", HealthStatus::kOk,
                "moves forward; the store has no event to compare with");
  const std::int64_t behind = *newest_event_us - now_us;
  HealthCheck c;
  if (behind > std::chrono::duration_cast<std::chrono::microseconds>(tolerance).count()) {
    c = Make("clock", HealthStatus::kFail,
             "the system clock is " + Duration(behind) + " behind the store's newest event (" +
                 newest_event_ts + ")",
             "set the system clock right (`timedatectl set-ntp true`, or `date -s`); events "
             "written now would be "
             "stamped before events already in the store");
  } else {
    c = Make("clock", HealthStatus::kOk,
             "moves forward, and is not behind the store's newest event (" + newest_event_ts + ")");
  }
  c.facts["newest_event_ts"] = newest_event_ts;
  return c;
}

HealthReport CheckHealth(const HealthOptions& options) {
  HealthReport r;
  std::error_code ec;
  r.in_project = fs::exists(options.domain_file, ec);
  const std::string not_project = "not in a project folder (no " + options.domain_file + ")";

  // Where the project is, under which profile, and its runtime (read only:
  // no workers, no triggers).
  std::optional<Project> project;
  std::optional<Profile> profile;
  Status profile_status;
  if (r.in_project) {
    Result<Project> located =
        LocateProject(options.domain_file, options.store_flag, options.profile_name);
    if (located.ok()) {
      project = *located;
      profile = project->profile;
      RuntimeOptions ro;
      ro.job_threads = 0;
      ro.orch_threads = 0;
      Result<std::unique_ptr<Runtime>> rt = OpenRuntime(*project, {}, ro);
      if (rt.ok()) {
        r.runtime = std::move(rt).value();
      } else {
        r.runtime_status = rt.status();
      }
    } else {
      r.runtime_status = located.status();
      const fs::path parent = fs::path(options.domain_file).parent_path();
      Result<Profile> p = LoadProfile(parent.empty() ? "." : parent.string(), options.profile_name);
      if (p.ok()) {
        profile = *p;
      } else {
        profile_status = p.status();
      }
    }
  }

  // store
  r.checks.push_back(r.in_project ? CheckStore(r, project ? &*project : nullptr)
                                  : Make("store", HealthStatus::kSkipped, not_project));

  // plugins
  if (r.runtime) {
    r.checks.push_back(CheckPlugins(*r.runtime));
  } else {
    r.checks.push_back(Make("plugins", HealthStatus::kSkipped,
                            r.in_project ? "the store did not open (see store)" : not_project));
  }

  // nats: the flag, the environment, the profile's wiring (bver up's order).
  std::string nats = options.nats_url;
  std::string source = "--nats-url";
  if (nats.empty()) {
    if (const char* env = std::getenv("BVER_NATS_URL"); env != nullptr && *env != '\0') {
      nats = env;
      source = "$BVER_NATS_URL";
    }
  }
  if (nats.empty() && profile && !profile->wiring.nats_url.empty()) {
    nats = profile->wiring.nats_url;
    source = "profile " + profile->name;
  }
  if (nats.empty()) {
    r.checks.push_back(
        Make("nats", HealthStatus::kSkipped,
             "not configured (--nats-url, $BVER_NATS_URL or the profile's wiring.nats_url)"));
  } else {
    HealthCheck c = CheckNats(nats, options.nats_timeout);
    c.facts["source"] = source;
    r.checks.push_back(std::move(c));
  }

  // disk.store, disk.artifacts
  if (!project) {
    const std::string why =
        r.in_project ? "the project could not be located (see store)" : not_project;
    r.checks.push_back(Make("disk.store", HealthStatus::kSkipped, why));
    r.checks.push_back(Make("disk.artifacts", HealthStatus::kSkipped, why));
  } else {
    Result<std::string> db = store::SqliteFile(project->store_url, project->dir);
    if (db.ok()) {
      r.checks.push_back(CheckDisk("disk.store", fs::path(*db).parent_path().string()));
    } else {
      r.checks.push_back(Make("disk.store", HealthStatus::kSkipped,
                              "not a SQLite store: the database's disk is its server's to watch"));
    }
    Result<std::string> artifacts = store::ChooseArtifactDir(project->store_url, project->dir);
    if (artifacts.ok()) {
      r.checks.push_back(CheckDisk("disk.artifacts", *artifacts));
    } else {
      r.checks.push_back(Make("disk.artifacts", HealthStatus::kSkipped,
                              "no artifact folder: " + FirstLine(artifacts.status().message())));
    }
  }

  // clock
  std::optional<std::int64_t> newest_us;
  std::string newest_ts;
  HealthCheck clock;
  bool clock_done = false;
  if (r.runtime) {
    Result<std::optional<std::pair<std::int64_t, std::string>>> newest =
        NewestEvent(*r.runtime->store);
    if (!newest.ok()) {
      clock = Make("clock", HealthStatus::kFail,
                   "cannot read the store's newest event: " + FirstLine(newest.status().message()),
                   "check the store (`bver ledger verify`)");
      clock_done = true;
    } else if (*newest) {
      newest_us = (*newest)->first;
      newest_ts = (*newest)->second;
    }
  }
  if (!clock_done) clock = CheckClock(newest_us, newest_ts, NowMicros(), options.clock_tolerance);
  r.checks.push_back(std::move(clock));
  r.checks.push_back(CheckClockSync());

  // profile
  if (!r.in_project) {
    r.checks.push_back(Make("profile", HealthStatus::kSkipped, not_project));
  } else if (!profile) {
    r.checks.push_back(
        Make("profile", HealthStatus::kFail, FirstLine(profile_status.message()),
             "name a profile `bver profiles` lists, or correct bver.config.yaml's profiles:"));
  } else {
    const fs::path parent = fs::path(options.domain_file).parent_path();
    r.checks.push_back(
        CheckProfile(*profile, r.runtime.get(),
                     project ? project->dir : (parent.empty() ? "." : parent.string())));
  }
  return r;
}

}  // namespace bver::server
