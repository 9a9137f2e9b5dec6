#pragma once
// Explain: how a query for NAME/TYPE from CLIENT is answered, and why. It
// runs the real query path (handleQuery on a private context, with the
// client as an ECS option) against the published snapshot and then reports
// what the client, geo and steer stages decided. Control plane (API thread).

#include <nlohmann/json.hpp>
#include <string>

#include "server/snapshot.h"

namespace meridian::server {

/// `client` is "IP" or "IP/PREFIX" (IPv4 or IPv6). Every well-formed question
/// gets a document: for a name that is not steered (static data, a name
/// steered only for the other type, a name outside every zone) it has
/// "steered": false, the rcode, the answer count and a "note" saying why the
/// answer is the same for every client. Throws zones::ValidationError (field
/// "name", "type" or "client") for bad input.
nlohmann::json explainQuery(const Snapshot& snapshot, const std::string& name,
                            const std::string& type, const std::string& client);

}  // namespace meridian::server
