#include "tests/support/pg_cluster.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <set>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace bver::testing {
namespace {

namespace fs = std::filesystem;

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return 0;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string FindBinDir() {
  std::string best;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    fs::path bin = e.path() / "bin";
    if (fs::exists(bin / "initdb") && bin.string() > best) best = bin.string();
  }
  return best;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

Result<std::unique_ptr<PgCluster>> PgCluster::Start() {
  std::unique_ptr<PgCluster> c(new PgCluster());
  c->bin_dir_ = FindBinDir();
  if (c->bin_dir_.empty()) {
    return UnavailableError("PostgreSQL server binaries not found under /usr/lib/postgresql (run scripts/deps.sh)");
  }
  char tmpl[] = "/tmp/bver-pg-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return UnavailableError("mkdtemp failed");
  c->data_dir_ = tmpl;
  if (::geteuid() == 0) {
    passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) return UnavailableError("running as root and there is no postgres user");
    if (::chown(c->data_dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return UnavailableError("cannot chown " + c->data_dir_);
    }
    c->run_as_ = "runuser -u postgres -- ";
  }
  std::string data = c->data_dir_ + "/data";
  std::string init = c->run_as_ + c->bin_dir_ + "/initdb -D " + data +
                     " -U postgres --auth=trust --no-sync -E UTF8 --locale=C >" + c->data_dir_ +
                     "/initdb.log 2>&1";
  if (std::system(init.c_str()) != 0) {
    return UnavailableError("initdb failed: " + Slurp(c->data_dir_ + "/initdb.log"));
  }
  for (int attempt = 0; attempt < 5 && !c->started_; ++attempt) {
    c->port_ = FreePort();
    std::string start = c->run_as_ + c->bin_dir_ + "/pg_ctl -D " + data + " -l " + c->data_dir_ +
                        "/server.log -w -t 60 -o \"-p " + std::to_string(c->port_) + " -k " + c->data_dir_ +
                        " -c listen_addresses=127.0.0.1 -c max_connections=200\" start >/dev/null 2>&1";
    c->started_ = std::system(start.c_str()) == 0;
  }
  if (!c->started_) {
    return UnavailableError("PostgreSQL did not start: " + Slurp(c->data_dir_ + "/server.log"));
  }
  return c;
}

PgCluster::~PgCluster() {
  if (started_) {
    std::string stop = run_as_ + bin_dir_ + "/pg_ctl -D " + data_dir_ + "/data -m fast -w stop >/dev/null 2>&1";
    if (std::system(stop.c_str()) != 0) {
      // Nothing more to do in a destructor; the folder is removed anyway.
    }
  }
  std::error_code ec;
  if (!data_dir_.empty()) fs::remove_all(data_dir_, ec);
}

std::string PgCluster::Url(const std::string& db) const {
  return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/" + db;
}

Result<std::string> PgCluster::NewDatabase(const std::string& name) {
  PGconn* c = PQconnectdb(Url("postgres").c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = PQerrorMessage(c);
    PQfinish(c);
    return UnavailableError("cannot connect to the test cluster: " + msg);
  }
  std::string sql = "DROP DATABASE IF EXISTS \"" + name + "\"";
  PQclear(PQexec(c, sql.c_str()));
  sql = "CREATE DATABASE \"" + name + "\"";
  PGresult* r = PQexec(c, sql.c_str());
  bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
  std::string err = PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
  if (!ok) return UnavailableError("CREATE DATABASE failed: " + err);
  return Url(name);
}

Result<PgCluster*> SharedPgCluster() {
  static Result<std::unique_ptr<PgCluster>>* cluster = new Result<std::unique_ptr<PgCluster>>(PgCluster::Start());
  static struct Stopper {
    ~Stopper() { delete cluster; }
  } stopper;
  if (!cluster->ok()) return cluster->status();
  return cluster->value().get();
}

Result<std::string> TestDatabaseUrl(const std::string& key) {
  BVER_ASSIGN_OR_RETURN(PgCluster * c, SharedPgCluster());
  std::string db = key;
  for (char& ch : db) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (db.size() > 60) db = db.substr(db.size() - 60);
  static std::set<std::string>* created = new std::set<std::string>();
  if (created->insert(db).second) {
    BVER_ASSIGN_OR_RETURN(std::string url, c->NewDatabase(db));
    return url;
  }
  return c->Url(db);
}

}  // namespace bver::testing
