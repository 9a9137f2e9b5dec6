#pragma once
// Is the store readable right now? For meridiand's /readyz.

#include "zones/database.h"

namespace meridian::zones {

/// Reads the schema version through `db` after dropping the connection's
/// page cache, so the read really goes to the file (a cached page would keep
/// answering after the file went bad). Throws DatabaseError when it cannot.
/// The thread that owns `db`.
void checkReadable(Database& db);

}  // namespace meridian::zones
