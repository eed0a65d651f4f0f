// Where `bver login` keeps API keys for remote servers: one JSON file,
// $XDG_CONFIG_HOME/bver/credentials.json (else ~/.config/bver/...), mode 0600,
// {"servers": {"http://host:port": {"api_key": "bver_..."}}}. $BVER_API_KEY,
// when set, wins over it.
#pragma once

#include <string>

#include "bver/status.h"

namespace bver::cli {

std::string CredentialsPath();
// The key stored for `server` ("" when none); errors only for an unreadable file.
Result<std::string> StoredKey(const std::string& server);
// Stores (key non-empty) or forgets (key empty) the key of `server`.
Status StoreKey(const std::string& server, const std::string& key);
// "http://h:p/" -> "http://h:p": how servers are keyed.
std::string NormalizedServer(std::string server);

}  // namespace bver::cli
