// Configuration rows <-> replica keys and JSON values (zones/replica_store.h).
// One table description drives the dump, the upserts and the deletions, so a
// column added to a table is one line here.

#include "zones/replica_store.h"

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "zones/validation.h"

namespace meridian::zones {

namespace {

enum class ColumnType { kInt, kReal, kText, kBlob };

struct Column {
  const char* name;
  ColumnType type;
  bool nullable = false;
};

struct TableSpec {
  const char* name;
  std::vector<Column> columns;
  std::vector<const char*> key_columns;  // in key order
  bool zone_data;                        // moves the zones generation
};

// Parents first: applying in this order satisfies every foreign key;
// deleting in the reverse order does too.
const std::vector<TableSpec>& tables() {
  static const std::vector<TableSpec> kTables = {
      {"zones",
       {{"id", ColumnType::kInt},
        {"name", ColumnType::kText},
        {"created_at", ColumnType::kInt},
        {"updated_at", ColumnType::kInt}},
       {"id"},
       true},
      {"regions",
       {{"id", ColumnType::kInt},
        {"name", ColumnType::kText},
        {"latitude", ColumnType::kReal},
        {"longitude", ColumnType::kReal},
        {"continent", ColumnType::kText, true},
        {"countries", ColumnType::kText}},
       {"id"},
       false},
      {"records",
       {{"id", ColumnType::kInt},
        {"zone_id", ColumnType::kInt},
        {"owner", ColumnType::kText},
        {"type", ColumnType::kInt},
        {"ttl", ColumnType::kInt},
        {"rdata", ColumnType::kBlob}},
       {"id"},
       true},
      {"steered_names",
       {{"id", ColumnType::kInt},
        {"zone_id", ColumnType::kInt},
        {"owner", ColumnType::kText},
        {"type", ColumnType::kInt},
        {"spec", ColumnType::kText}},
       {"id"},
       true},
      {"endpoints",
       {{"id", ColumnType::kInt},
        {"name", ColumnType::kText},
        {"region_id", ColumnType::kInt},
        {"address", ColumnType::kText},
        {"weight", ColumnType::kInt},
        {"capacity", ColumnType::kInt, true},
        {"state", ColumnType::kText},
        {"check_spec", ColumnType::kText, true},
        {"readiness_spec", ColumnType::kText, true},
        {"vote_policy", ColumnType::kText, true}},
       {"id"},
       false},
      {"latency_prefixes",
       {{"prefix", ColumnType::kText},
        {"region_id", ColumnType::kInt},
        {"rtt_ms", ColumnType::kReal}},
       {"region_id", "prefix"},
       false},
  };
  return kTables;
}

const TableSpec* tableOf(const std::string& key, std::string* rest) {
  const size_t slash = key.find('/');
  if (slash == std::string::npos) return nullptr;
  const std::string name = key.substr(0, slash);
  for (const TableSpec& t : tables()) {
    if (name == t.name) {
      *rest = key.substr(slash + 1);
      return &t;
    }
  }
  return nullptr;
}

std::string toHex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string fromHex(const std::string& key, const std::string& hex) {
  if (hex.size() % 2 != 0) throw ValidationError(key, "odd number of hex digits");
  std::string out(hex.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = hexDigit(hex[2 * i]), lo = hexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) throw ValidationError(key, "not hex: " + hex.substr(2 * i, 2));
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string columnList(const TableSpec& t) {
  std::string out;
  for (const Column& c : t.columns) out += (out.empty() ? "" : ", ") + std::string(c.name);
  return out;
}

std::string keyWhere(const TableSpec& t) {
  std::string out;
  for (const char* k : t.key_columns) out += (out.empty() ? "" : " AND ") + std::string(k) + " = ?";
  return out;
}

// The key's primary-key values in key_columns order. "3/81.2.69.0/24" for
// (region_id, prefix): the last key column takes the rest, slashes and all.
std::vector<std::string> keyParts(const TableSpec& t, const std::string& key,
                                  const std::string& rest) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i < t.key_columns.size(); ++i) {
    if (i + 1 == t.key_columns.size()) {
      parts.push_back(rest.substr(start));
    } else {
      const size_t slash = rest.find('/', start);
      if (slash == std::string::npos) throw ValidationError(key, "key has too few parts");
      parts.push_back(rest.substr(start, slash - start));
      start = slash + 1;
    }
  }
  for (const std::string& p : parts) {
    if (p.empty()) throw ValidationError(key, "key has an empty part");
  }
  return parts;
}

const Column& columnNamed(const TableSpec& t, const char* name) {
  for (const Column& c : t.columns) {
    if (std::string_view(c.name) == name) return c;
  }
  throw std::logic_error("no column " + std::string(name));
}

void bindKeyPart(Statement& s, int index, const Column& c, const std::string& key,
                 const std::string& part) {
  if (c.type == ColumnType::kInt) {
    size_t used = 0;
    int64_t value = 0;
    try {
      value = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size() || part.empty()) throw ValidationError(key, "not an integer: " + part);
    s.bind(index, value);
  } else {
    s.bind(index, part);
  }
}

std::string keyOf(const TableSpec& t, Statement& s) {
  std::string key = t.name;
  for (const char* k : t.key_columns) {
    for (size_t i = 0; i < t.columns.size(); ++i) {
      if (std::string_view(t.columns[i].name) != k) continue;
      key += '/';
      key += t.columns[i].type == ColumnType::kInt
                 ? std::to_string(s.columnInt(static_cast<int>(i)))
                 : s.columnText(static_cast<int>(i));
    }
  }
  return key;
}

// Prepared statements of one transaction, one per table and kind (a
// 1,000,000-record load prepares two, not a million).
class StatementCache {
 public:
  explicit StatementCache(Database& db) : db_(db) {}
  Statement& get(const TableSpec& t, bool upsert, const std::function<std::string()>& sql) {
    auto& slot = (upsert ? upserts_ : deletes_)[t.name];
    if (!slot) slot = std::make_unique<Statement>(db_.prepare(sql()));
    slot->reset();
    return *slot;
  }

 private:
  Database& db_;
  std::map<std::string, std::unique_ptr<Statement>> upserts_, deletes_;
};

void upsert(StatementCache& cache, const TableSpec& t, const std::string& key,
            const std::string& rest, const std::string& value) {
  const nlohmann::json row = nlohmann::json::parse(value, nullptr, false);
  if (!row.is_object()) throw ValidationError(key, "the value is not a JSON object");
  // The key and the row must name the same row.
  const std::vector<std::string> parts = keyParts(t, key, rest);
  std::string conflict, updates, marks;
  for (const char* k : t.key_columns) conflict += (conflict.empty() ? "" : ", ") + std::string(k);
  for (const Column& c : t.columns) {
    marks += marks.empty() ? "?" : ", ?";
    if (std::find_if(t.key_columns.begin(), t.key_columns.end(), [&](const char* k) {
          return std::string_view(k) == c.name;
        }) == t.key_columns.end()) {
      updates += (updates.empty() ? "" : ", ") + std::string(c.name) + " = excluded." + c.name;
    }
  }
  Statement& s = cache.get(t, true, [&] {
    return "INSERT INTO " + std::string(t.name) + "(" + columnList(t) + ") VALUES (" + marks +
           ") ON CONFLICT(" + conflict + ") DO UPDATE SET " + updates;
  });
  for (size_t i = 0; i < t.columns.size(); ++i) {
    const Column& c = t.columns[i];
    const int index = static_cast<int>(i) + 1;
    const std::string field = key + ": " + c.name;
    const auto it = row.find(c.name);
    if (it == row.end() || it->is_null()) {
      if (!c.nullable) throw ValidationError(field, "missing");
      s.bindNull(index);
      continue;
    }
    switch (c.type) {
      case ColumnType::kInt:
        if (!it->is_number_integer()) throw ValidationError(field, "not an integer");
        s.bind(index, it->get<int64_t>());
        break;
      case ColumnType::kReal:
        if (!it->is_number()) throw ValidationError(field, "not a number");
        s.bind(index, it->get<double>());
        break;
      case ColumnType::kText:
        if (!it->is_string()) throw ValidationError(field, "not a string");
        s.bind(index, it->get<std::string>());
        break;
      case ColumnType::kBlob: {
        if (!it->is_string()) throw ValidationError(field, "not a hex string");
        const std::string bytes = fromHex(field, it->get<std::string>());
        s.bindBlob(index, bytes.data(), bytes.size());
        break;
      }
    }
  }
  for (size_t i = 0; i < t.key_columns.size(); ++i) {
    const nlohmann::json& v = row[t.key_columns[i]];
    const std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    if (text != parts[i]) {
      throw ValidationError(key, std::string("the row's ") + t.key_columns[i] + " is " + text);
    }
  }
  s.run();
}

void removeRow(StatementCache& cache, const TableSpec& t, const std::string& key,
               const std::string& rest) {
  const std::vector<std::string> parts = keyParts(t, key, rest);
  Statement& s = cache.get(
      t, false, [&] { return "DELETE FROM " + std::string(t.name) + " WHERE " + keyWhere(t); });
  for (size_t i = 0; i < parts.size(); ++i) {
    bindKeyPart(s, static_cast<int>(i) + 1, columnNamed(t, t.key_columns[i]), key, parts[i]);
  }
  s.run();
}

void recordRevision(Database& db, int64_t revision, bool zone_data) {
  db.prepare(
        "INSERT INTO meta(key, value) VALUES ('cluster_revision', ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
      .bind(1, revision)
      .run();
  // Always move a generation: a commit that moves none makes the reloader
  // rebuild everything.
  if (zone_data) {
    db.bumpZonesGeneration();
  } else {
    db.bumpConfigGeneration();
  }
}

size_t tableIndex(const TableSpec* t) {
  return static_cast<size_t>(t - tables().data());
}

}  // namespace

std::vector<ReplicaRow> dumpReplicaRows(Database& db) {
  std::vector<ReplicaRow> rows;
  ReadTransaction view(db);
  for (const TableSpec& t : tables()) {
    Statement s = db.prepare("SELECT " + columnList(t) + " FROM " + t.name);
    while (s.step()) {
      nlohmann::json row = nlohmann::json::object();
      for (size_t i = 0; i < t.columns.size(); ++i) {
        const int col = static_cast<int>(i);
        const Column& c = t.columns[i];
        if (s.columnIsNull(col)) {
          row[c.name] = nullptr;
          continue;
        }
        switch (c.type) {
          case ColumnType::kInt:
            row[c.name] = s.columnInt(col);
            break;
          case ColumnType::kReal:
            row[c.name] = s.columnDouble(col);
            break;
          case ColumnType::kText:
            row[c.name] = s.columnText(col);
            break;
          case ColumnType::kBlob:
            row[c.name] = toHex(s.columnBlob(col));
            break;
        }
      }
      rows.push_back({keyOf(t, s), row.dump()});
    }
  }
  return rows;
}

void applyReplicaChanges(Database& db, const std::vector<ReplicaChange>& changes,
                         int64_t revision) {
  struct Item {
    const TableSpec* table;
    std::string rest;
    const ReplicaChange* change;
  };
  std::vector<Item> items;
  bool zone_data = false;
  for (const ReplicaChange& c : changes) {
    std::string rest;
    const TableSpec* t = tableOf(c.key, &rest);
    if (t == nullptr) continue;  // a table of a newer build
    items.push_back({t, rest, &c});
    zone_data = zone_data || t->zone_data;
  }
  // Deletions children first, then upserts parents first (stable within a
  // table, so two changes of one key keep their order).
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    const bool da = !a.change->value, dbl = !b.change->value;
    if (da != dbl) return da;
    return da ? tableIndex(a.table) > tableIndex(b.table)
              : tableIndex(a.table) < tableIndex(b.table);
  });
  db.transaction([&] {
    StatementCache cache(db);
    for (const Item& item : items) {
      if (item.change->value) {
        upsert(cache, *item.table, item.change->key, item.rest, *item.change->value);
      } else {
        removeRow(cache, *item.table, item.change->key, item.rest);
      }
    }
    recordRevision(db, revision, zone_data);
  });
}

void replaceReplica(Database& db, const std::vector<ReplicaRow>& rows, int64_t revision) {
  std::vector<std::vector<std::pair<const ReplicaRow*, std::string>>> by_table(tables().size());
  for (const ReplicaRow& r : rows) {
    std::string rest;
    const TableSpec* t = tableOf(r.key, &rest);
    if (t != nullptr) by_table[tableIndex(t)].push_back({&r, rest});
  }
  db.transaction([&] {
    StatementCache cache(db);
    // Rows the new state does not hold go first, children first.
    for (size_t ti = tables().size(); ti-- > 0;) {
      const TableSpec& t = tables()[ti];
      std::set<std::string> keep;
      for (const auto& [row, rest] : by_table[ti]) keep.insert(row->key);
      std::vector<std::string> gone;
      Statement s = db.prepare("SELECT " + columnList(t) + " FROM " + t.name);
      while (s.step()) {
        std::string key = keyOf(t, s);
        if (!keep.contains(key)) gone.push_back(std::move(key));
      }
      for (const std::string& key : gone) removeRow(cache, t, key, key.substr(key.find('/') + 1));
    }
    for (size_t ti = 0; ti < tables().size(); ++ti) {
      for (const auto& [row, rest] : by_table[ti]) {
        upsert(cache, tables()[ti], row->key, rest, row->value);
      }
    }
    recordRevision(db, revision, true);
  });
}

int64_t replicaRevision(Database& db) {
  Statement s = db.prepare("SELECT value FROM meta WHERE key = 'cluster_revision'");
  return s.step() ? s.columnInt(0) : 0;
}

}  // namespace meridian::zones
