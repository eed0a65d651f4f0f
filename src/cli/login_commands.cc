// bver login --server URL (the API key on standard input) and bver logout:
// keep a server's key for the commands that take --server (src/cli/credentials.h).
#include <unistd.h>

#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "src/cli/commands.h"
#include "src/cli/credentials.h"
#include "src/cli/output.h"
#include "src/net/client.h"

namespace bver::cli {
namespace {

struct LoginFlags {
  std::string server;
  bool json = false;
};

// Whether `key` is accepted by `server`: an authenticated call that any
// valid key may make answers anything but 401 (403 is a valid key without
// that scope).
Status Check(const std::string& server, const std::string& key) {
  BVER_ASSIGN_OR_RETURN(net::ClientTarget target, net::ParseServerUrl(server));
  api::HttpRequest req;
  req.method = "POST";
  req.target = "/v1/ops/events.read";
  req.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer " + key}};
  req.body = R"({"limit":1})";
  BVER_ASSIGN_OR_RETURN(api::HttpResponse res, net::SendRequest(target, req, std::chrono::seconds(30)));
  if (res.status == 401) return Status(StatusCode::kUnauthenticated, server + " does not accept this key");
  if (res.status >= 500) {
    return UnavailableError(server + " answered HTTP " + std::to_string(res.status) + "; try again later");
  }
  return Status::Ok();
}

int Login(Context& ctx, const LoginFlags& f) {
  Output o{ctx.out, ctx.err, f.json};
  if (::isatty(STDIN_FILENO)) ctx.err << "API key for " << f.server << ": " << std::flush;
  std::string key;
  std::getline(std::cin, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) {
    return o.Fail(InvalidArgumentError("no key on standard input: pipe one in (bver keys create ... | bver login "
                                       "--server URL), or type it"));
  }
  if (Status s = Check(f.server, key); !s.ok()) return o.Fail(s);
  if (Status s = StoreKey(f.server, key); !s.ok()) return o.Fail(s);
  if (o.json) {
    o.Json({{"server", NormalizedServer(f.server)}, {"stored", CredentialsPath()}});
  } else {
    o.out << "logged in to " << NormalizedServer(f.server) << " (key kept in " << CredentialsPath() << ")\n";
  }
  return 0;
}

int Logout(Context& ctx, const LoginFlags& f) {
  Output o{ctx.out, ctx.err, f.json};
  if (Status s = StoreKey(f.server, ""); !s.ok()) return o.Fail(s);
  if (o.json) {
    o.Json({{"server", NormalizedServer(f.server)}, {"stored", false}});
  } else {
    o.out << "logged out of " << NormalizedServer(f.server) << "\n";
  }
  return 0;
}

}  // namespace

void RegisterLoginCommands(CLI::App& app, Context& ctx, int& /*code*/) {
  auto f = std::make_shared<LoginFlags>();
  CLI::App* login = app.add_subcommand(
      "login", "Keep a server's API key for --server calls (the key on standard input; $BVER_API_KEY wins)");
  login->add_option("--server", f->server, "The server, http://HOST:PORT")->required();
  login->add_flag("--json", f->json, "Print JSON");
  login->callback([&ctx, f] { ctx.action = [&ctx, f] { return Login(ctx, *f); }; });
  CLI::App* logout = app.add_subcommand("logout", "Forget the API key kept for a server");
  logout->add_option("--server", f->server, "The server, http://HOST:PORT")->required();
  logout->add_flag("--json", f->json, "Print JSON");
  logout->callback([&ctx, f] { ctx.action = [&ctx, f] { return Logout(ctx, *f); }; });
}

}  // namespace bver::cli
