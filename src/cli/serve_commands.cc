// bver up: serves the platform of the current folder over HTTP (REST) in the
// foreground until SIGINT or SIGTERM, then exits 0 once in-flight requests
// have finished.
#include <arpa/inet.h>

#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>

#include "src/api/rest.h"
#include "src/auth/api_keys.h"
#include "src/auth/authenticator.h"
#include "src/auth/config.h"
#include "src/cli/commands.h"
#include "src/cli/output.h"
#include "src/domain/compiler.h"
#include "src/domain/manifest.h"
#include "src/net/server.h"
#include "src/runtime/broker.h"
#include "src/runtime/operations.h"
#include "src/store/open.h"

namespace bver::cli {
namespace {

struct UpFlags {
  StoreFlags store;
  std::string listen = "127.0.0.1:8080";
  unsigned threads = 0;
  long request_timeout_ms = 10000;
  std::size_t max_connections = 1024;
};

// "HOST:PORT" or "[V6]:PORT".
Status SplitListen(const std::string& text, std::string* host, std::uint16_t* port) {
  std::size_t colon = text.rfind(':');
  if (colon == std::string::npos) return InvalidArgumentError("--listen must be HOST:PORT, not " + text);
  *host = text.substr(0, colon);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') *host = host->substr(1, host->size() - 2);
  std::string p = text.substr(colon + 1);
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos || std::stoul(p) > 65535) {
    return InvalidArgumentError("--listen: not a port: " + p);
  }
  *port = static_cast<std::uint16_t>(std::stoul(p));
  return Status::Ok();
}

bool IsLoopback(const std::string& host) {
  in_addr v4{};
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) return IN6_IS_ADDR_LOOPBACK(&v6);
  return false;
}

int Up(const Output& o, const UpFlags& f) {
  std::string host;
  std::uint16_t port = 0;
  if (Status s = SplitListen(f.listen, &host, &port); !s.ok()) return o.Fail(s);
  if (host == "localhost") host = "127.0.0.1";

  Result<domain::Platform> platform = domain::CompileFile(f.store.file);
  if (!platform.ok()) return o.Fail(platform.status());
  Result<std::string> fp = domain::ManifestFingerprint(domain::ToManifest(*platform));
  if (!fp.ok()) return o.Fail(fp.status());
  Result<StoreLocation> at = LocateStore(f.store);
  if (!at.ok()) return o.Fail(at.status());
  auto shared_platform = std::make_shared<const domain::Platform>(*std::move(platform));
  Result<std::unique_ptr<store::Store>> store = store::OpenStore(at->url, at->project_dir, shared_platform, *fp);
  if (!store.ok()) return o.Fail(store.status());

  // Auth: JWTs when configured, API keys from the store.
  Result<auth::AuthConfig> config = auth::LoadAuthConfig(at->project_dir);
  if (!config.ok()) return o.Fail(config.status());
  std::unique_ptr<auth::JwtVerifier> jwt;
  if (config->jwt) {
    Result<std::unique_ptr<auth::JwtVerifier>> v = auth::JwtVerifier::Create(*config->jwt);
    if (!v.ok()) return o.Fail(v.status());
    jwt = std::move(v).value();
  }
  bool jwt_configured = jwt != nullptr;
  auth::ApiKeys keys((*store)->backend());
  Result<std::vector<auth::ApiKeyInfo>> listed = keys.List();
  if (!listed.ok()) return o.Fail(listed.status());
  bool keys_configured = false;
  for (const auth::ApiKeyInfo& k : *listed) keys_configured = keys_configured || k.active();
  bool auth_configured = jwt_configured || keys_configured;
  if (!IsLoopback(host) && !auth_configured) {
    return o.Fail(FailedPreconditionError(
        "refusing to listen on " + host +
        " with auth off: anyone who can reach it would act as admin. Create an API key (bver keys create "
        "--scopes ...) or configure JWTs (docs/auth.md), or listen on 127.0.0.1"));
  }
  auth::Authenticator authenticator(&keys, std::move(jwt));

  runtime::OperationTable::Bindings bindings;
  bindings.store = store->get();
  Result<std::unique_ptr<runtime::OperationTable>> table = runtime::OperationTable::Build(shared_platform, bindings);
  if (!table.ok()) return o.Fail(table.status());
  runtime::Broker broker(std::shared_ptr<const runtime::OperationTable>(std::move(table).value()));

  api::Rest::Options rest_options;
  // On loopback with no auth configured, callers are the local operator:
  // the same trust as running the CLI on this machine (docs/rest.md).
  rest_options.local_operator = IsLoopback(host) && !auth_configured;
  api::Rest rest(broker, &authenticator, rest_options);

  net::ServerOptions options;
  options.address = host;
  options.port = port;
  options.threads = f.threads;
  options.request_timeout = std::chrono::milliseconds(f.request_timeout_ms);
  options.max_connections = f.max_connections;
  net::Server server(options, [&rest](const api::HttpRequest& r) { return rest.Handle(r); });
  if (Status s = server.Start(); !s.ok()) return o.Fail(s);
  std::string shown = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  o.out << "listening on http://" << shown << ":" << server.port() << std::endl;
  server.Run();
  return 0;
}

}  // namespace

void RegisterServeCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  auto f = std::make_shared<UpFlags>();
  CLI::App* up = app.add_subcommand("up", "Serve the platform over HTTP in the foreground (SIGTERM stops it)");
  AddStoreFlags(up, f->store);
  up->add_option("--listen", f->listen, "HOST:PORT to listen on (port 0: a free port); loopback unless auth is on")
      ->capture_default_str();
  up->add_option("--threads", f->threads, "Worker threads (default: one per core)");
  up->add_option("--request-timeout-ms", f->request_timeout_ms,
                 "A request (header and body) must arrive within this time, else 408")
      ->check(CLI::Range(100L, 3600000L))
      ->capture_default_str();
  up->add_option("--max-connections", f->max_connections, "Open connections at most; more get 503")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  up->callback([&ctx, f] {
    ctx.action = [&ctx, f] {
      Output o{ctx.out, ctx.err, f->store.json};
      return Up(o, *f);
    };
  });
}

}  // namespace bver::cli
