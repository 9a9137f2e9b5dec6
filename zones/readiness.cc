#include "zones/readiness.h"

namespace meridian::zones {

void checkReadable(Database& db) {
  db.exec("PRAGMA shrink_memory");
  Statement s = db.prepare("SELECT version FROM schema_version");
  s.step();
}

}  // namespace meridian::zones
