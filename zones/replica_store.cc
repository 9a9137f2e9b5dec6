// Configuration rows <-> replica keys and JSON values (zones/replica_store.h).
// One table description drives the dump, the upserts and the deletions, so a
// column added to a table is one line here.

#include "zones/replica_store.h"

#include <algorithm>
#include <charconv>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>
#include <variant>

#include "zones/compact_chunk.h"
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
        {"countries", ColumnType::kText},
        {"min_healthy", ColumnType::kText, true}},
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
      // Pushed load (PUT /api/v1/endpoints/{name}/load): written like
      // configuration, so every node's answers weigh the same load.
      {"endpoint_load",
       {{"endpoint_id", ColumnType::kInt},
        {"load", ColumnType::kReal},
        {"error_rate", ColumnType::kReal, true},
        {"updated_at", ColumnType::kInt}},
       {"endpoint_id"},
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

// The integer `text` spells as std::to_string would, else nullopt: no
// sign but '-', no leading zero or space, so one row or chunk has one key.
std::optional<int64_t> canonicalInteger(const std::string& text) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || std::to_string(value) != text)
    return std::nullopt;
  return value;
}

void bindKeyPart(Statement& s, int index, const Column& c, const std::string& key,
                 const std::string& part) {
  if (c.type == ColumnType::kInt) {
    const std::optional<int64_t> value = canonicalInteger(part);
    if (!value) throw ValidationError(key, "not an integer: " + part);
    s.bind(index, *value);
  } else {
    s.bind(index, part);
  }
}

std::string keyOf(const TableSpec& t, const Statement& s) {
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

// Column `i` of the row `s` stands on (selected with columnList) as JSON.
nlohmann::json columnJson(const TableSpec& t, const Statement& s, size_t i) {
  const int col = static_cast<int>(i);
  if (s.columnIsNull(col)) return nullptr;
  switch (t.columns[i].type) {
    case ColumnType::kInt:
      return s.columnInt(col);
    case ColumnType::kReal:
      return s.columnDouble(col);
    case ColumnType::kText:
      return s.columnText(col);
    case ColumnType::kBlob:
      return toHex(s.columnBlob(col));
  }
  return nullptr;
}

// The row `s` stands on as its JSON value (an object).
std::string rowValue(const TableSpec& t, const Statement& s) {
  nlohmann::json row = nlohmann::json::object();
  for (size_t i = 0; i < t.columns.size(); ++i) row[t.columns[i].name] = columnJson(t, s, i);
  return row.dump();
}

// Records travel in chunks (replica_store.h): "record_chunks/N" holds the
// records whose id is in [N * kRecordChunkSpan, (N + 1) * kRecordChunkSpan).
constexpr std::string_view kChunkPrefix = "record_chunks/";

const TableSpec& recordsTable() {
  static const TableSpec& records =
      *std::find_if(tables().begin(), tables().end(),
                    [](const TableSpec& t) { return t.name == std::string_view("records"); });
  return records;
}

// Floor division, so a negative id (SQLite allows them) has a chunk too:
// ids -64..-1 are chunk -1 (-1 / 64 is 0, remainder -1: one chunk lower).
int64_t chunkOf(int64_t id) {
  return id / kRecordChunkSpan - (id % kRecordChunkSpan < 0 ? 1 : 0);
}

// The first and last id of a chunk, inclusive: chunk -144115188075855872
// starts at INT64_MIN and chunk 144115188075855871 ends at INT64_MAX, so
// neither overflows.
int64_t chunkFirst(int64_t chunk) { return chunk * kRecordChunkSpan; }
int64_t chunkLast(int64_t chunk) { return chunk * kRecordChunkSpan + (kRecordChunkSpan - 1); }

std::string chunkKey(int64_t chunk) { return std::string(kChunkPrefix) + std::to_string(chunk); }

// The chunk number of a "record_chunks/N" key; nullopt for another key.
std::optional<int64_t> chunkNumber(const std::string& key) {
  if (!key.starts_with(kChunkPrefix)) return std::nullopt;
  const std::optional<int64_t> chunk = canonicalInteger(key.substr(kChunkPrefix.size()));
  if (!chunk) throw ValidationError(key, "not a chunk number");
  if (*chunk < INT64_MIN / kRecordChunkSpan || *chunk > INT64_MAX / kRecordChunkSpan)
    throw ValidationError(key, "chunk number out of range");
  return chunk;
}

// Steps `s` (records rows, columnList order, by id) to its end and appends
// one chunk per run of rows in the same chunk:
//   {"records":[[7,1,"www.example.com.",1,300,"c0000201"],...]}
// A row is an array in the records table's column order: a 1,000,000-record
// zone is 14 bytes a row smaller than with the column names.
void appendChunks(Statement& s, std::vector<ReplicaRow>& out) {
  const TableSpec& t = recordsTable();
  nlohmann::json rows = nlohmann::json::array();
  int64_t current = 0;
  const auto flush = [&] {
    if (rows.empty()) return;
    out.push_back({chunkKey(current), nlohmann::json{{"records", std::move(rows)}}.dump()});
    rows = nlohmann::json::array();
  };
  while (s.step()) {
    const int64_t chunk = chunkOf(s.columnInt(0));
    if (chunk != current) flush();
    current = chunk;
    nlohmann::json row = nlohmann::json::array();
    for (size_t i = 0; i < t.columns.size(); ++i) row.push_back(columnJson(t, s, i));
    rows.push_back(std::move(row));
  }
  flush();
}

// Every record this database holds, as chunks in id order.
void appendRecordChunks(Database& db, std::vector<ReplicaRow>& out) {
  Statement s = db.prepare("SELECT " + columnList(recordsTable()) + " FROM records ORDER BY id");
  appendChunks(s, out);
}

// Prepared statements of one transaction, one per table and kind (a
// 1,000,000-record load prepares two, not a million).
class StatementCache {
 public:
  explicit StatementCache(Database& db) : db_(db) {}
  Statement& get(const TableSpec& t, const char* kind, const std::function<std::string()>& sql) {
    auto& slot = statements_[std::string(kind) + ' ' + t.name];
    if (!slot) slot = std::make_unique<Statement>(db_.prepare(sql()));
    slot->reset();
    return *slot;
  }

 private:
  Database& db_;
  std::map<std::string, std::unique_ptr<Statement>> statements_;
};

// One column's value of a parsed row: NULL, an integer, a real, or text or
// blob bytes (the column's type says which).
using Value = std::variant<std::monostate, int64_t, double, std::string>;

// One column's value from its JSON, or ValidationError naming `field`.
Value decodeColumn(const Column& c, const nlohmann::json& v, const std::string& field) {
  if (v.is_null()) {
    if (!c.nullable) throw ValidationError(field, "missing");
    return {};
  }
  switch (c.type) {
    case ColumnType::kInt:
      if (!v.is_number_integer()) throw ValidationError(field, "not an integer");
      return v.get<int64_t>();
    case ColumnType::kReal:
      if (!v.is_number()) throw ValidationError(field, "not a number");
      return v.get<double>();
    case ColumnType::kText:
      if (!v.is_string()) throw ValidationError(field, "not a string");
      return v.get<std::string>();
    case ColumnType::kBlob:
      if (!v.is_string()) throw ValidationError(field, "not a hex string");
      return fromHex(field, v.get_ref<const std::string&>());
  }
  return {};
}

// The row `value` of `key` as one Value per column of `t`, or
// ValidationError naming the key and the column.
std::vector<Value> parseRow(const TableSpec& t, const std::string& key, const std::string& rest,
                            const std::string& value) {
  const nlohmann::json row = nlohmann::json::parse(value, nullptr, false);
  if (!row.is_object()) throw ValidationError(key, "the value is not a JSON object");
  const std::vector<std::string> parts = keyParts(t, key, rest);
  static const nlohmann::json kNull;
  std::vector<Value> values;
  values.reserve(t.columns.size());
  for (const Column& c : t.columns) {
    const auto it = row.find(c.name);
    values.push_back(decodeColumn(c, it == row.end() ? kNull : *it, key + ": " + c.name));
  }
  // The key and the row must name the same row.
  for (size_t i = 0; i < t.key_columns.size(); ++i) {
    const nlohmann::json& v = row[t.key_columns[i]];
    const std::string text = v.is_string() ? v.get<std::string>() : v.dump();
    if (text != parts[i]) {
      throw ValidationError(key, std::string("the row's ") + t.key_columns[i] + " is " + text);
    }
  }
  return values;
}

// The rows of chunk `chunk`'s value, each with its id, in id order; or
// ValidationError naming the key and what is wrong.
std::vector<std::pair<int64_t, std::vector<Value>>> parseChunk(const std::string& key,
                                                               int64_t chunk,
                                                               const std::string& value) {
  const TableSpec& t = recordsTable();
  const nlohmann::json doc = nlohmann::json::parse(value, nullptr, false);
  if (!doc.is_object() || !doc.contains("records") || !doc["records"].is_array())
    throw ValidationError(key, "the value is not a JSON object with a \"records\" array");
  std::vector<std::pair<int64_t, std::vector<Value>>> out;
  out.reserve(doc["records"].size());
  std::optional<int64_t> previous;
  for (const nlohmann::json& row : doc["records"]) {
    const std::string where = key + ": row " + std::to_string(out.size());
    if (!row.is_array() || row.size() != t.columns.size())
      throw ValidationError(where, "not an array of " + std::to_string(t.columns.size()) + " columns");
    std::vector<Value> values;
    values.reserve(t.columns.size());
    for (size_t i = 0; i < t.columns.size(); ++i)
      values.push_back(decodeColumn(t.columns[i], row[i], where + ": " + t.columns[i].name));
    const int64_t id = std::get<int64_t>(values[0]);
    if (id < chunkFirst(chunk) || id > chunkLast(chunk))
      throw ValidationError(where, "id " + std::to_string(id) + " is not in this chunk");
    if (previous && id <= *previous)
      throw ValidationError(where, "id " + std::to_string(id) + " is not after the row before it");
    previous = id;
    out.emplace_back(id, std::move(values));
  }
  return out;
}

void bindValue(Statement& s, int index, const Column& c, const Value& v) {
  if (std::holds_alternative<std::monostate>(v)) {
    s.bindNull(index);
  } else if (const int64_t* i = std::get_if<int64_t>(&v)) {
    s.bind(index, *i);
  } else if (const double* d = std::get_if<double>(&v)) {
    s.bind(index, *d);
  } else if (c.type == ColumnType::kBlob) {
    const std::string& bytes = std::get<std::string>(v);
    s.bindBlob(index, bytes.data(), bytes.size());
  } else {
    s.bind(index, std::get<std::string>(v));
  }
}

// Binds the key's parts to ?first, ?first+1, ...
void bindKey(Statement& s, int first, const TableSpec& t, const std::string& key,
             const std::string& rest) {
  const std::vector<std::string> parts = keyParts(t, key, rest);
  for (size_t i = 0; i < parts.size(); ++i) {
    bindKeyPart(s, first + static_cast<int>(i), columnNamed(t, t.key_columns[i]), key, parts[i]);
  }
}

bool isKeyColumn(const TableSpec& t, std::string_view name) {
  return std::find_if(t.key_columns.begin(), t.key_columns.end(),
                      [&](const char* k) { return name == k; }) != t.key_columns.end();
}

void upsert(StatementCache& cache, const TableSpec& t, const std::vector<Value>& values) {
  Statement& s = cache.get(t, "upsert", [&] {
    std::string conflict, updates, marks;
    for (const char* k : t.key_columns) conflict += (conflict.empty() ? "" : ", ") + std::string(k);
    for (const Column& c : t.columns) {
      marks += marks.empty() ? "?" : ", ?";
      if (!isKeyColumn(t, c.name)) {
        updates += (updates.empty() ? "" : ", ") + std::string(c.name) + " = excluded." + c.name;
      }
    }
    return "INSERT INTO " + std::string(t.name) + "(" + columnList(t) + ") VALUES (" + marks +
           ") ON CONFLICT(" + conflict + ") DO UPDATE SET " + updates;
  });
  for (size_t i = 0; i < t.columns.size(); ++i) {
    bindValue(s, static_cast<int>(i) + 1, t.columns[i], values[i]);
  }
  s.run();
}

void removeRow(StatementCache& cache, const TableSpec& t, const std::string& key,
               const std::string& rest) {
  Statement& s = cache.get(
      t, "delete", [&] { return "DELETE FROM " + std::string(t.name) + " WHERE " + keyWhere(t); });
  bindKey(s, 1, t, key, rest);
  s.run();
}

// The UNIQUE constraints of one table, as the schema declares them (so a
// constraint a later migration adds is covered without a line here):
// `columns` every column some UNIQUE constraint other than the primary key
// covers, `aside` one text column per constraint, the one that is moved
// aside (below). Indexes into TableSpec::columns.
struct UniqueColumns {
  std::vector<size_t> columns, aside;
};

UniqueColumns uniqueColumns(Database& db, const TableSpec& t) {
  Statement s = db.prepare(
      "SELECT il.name, ii.name FROM pragma_index_list(?) AS il, pragma_index_info(il.name) AS ii "
      "WHERE il.\"unique\" AND il.origin <> 'pk' ORDER BY il.seq, ii.seqno");
  s.bind(1, t.name);
  std::map<std::string, std::vector<size_t>> constraints;
  while (s.step()) {
    const std::string column = s.columnText(1);
    size_t i = 0;
    while (i < t.columns.size() && t.columns[i].name != column) ++i;
    if (i == t.columns.size()) {
      throw DatabaseError(std::string("replica: UNIQUE column ") + t.name + "." + column +
                          " is not a replicated column");
    }
    constraints[s.columnText(0)].push_back(i);
  }
  UniqueColumns u;
  for (const auto& [index, columns] : constraints) {
    const auto text = std::find_if(columns.begin(), columns.end(), [&](size_t i) {
      return t.columns[i].type == ColumnType::kText && !isKeyColumn(t, t.columns[i].name);
    });
    if (text == columns.end()) {
      throw DatabaseError(std::string("replica: UNIQUE index ") + index + " of " + t.name +
                          " has no text column to move aside");
    }
    if (std::find(u.aside.begin(), u.aside.end(), *text) == u.aside.end()) u.aside.push_back(*text);
    for (size_t i : columns) {
      if (std::find(u.columns.begin(), u.columns.end(), i) == u.columns.end())
        u.columns.push_back(i);
    }
  }
  return u;
}

// What no real value holds: names are [a-z0-9._-] and owners canonical
// presentation text, where a control byte is written as \001. The key makes
// it unique within the table.
std::string asideValue(const std::string& key) {
  return "\x01replica-moving:" + key;
}

// Moves the row `key` out of the way of every UNIQUE constraint of `t`: its
// `aside` columns become asideValue(key). With `values` (the row's new
// values), only when one of its unique columns changes; without (a row about
// to be deleted), always.
void moveAside(StatementCache& cache, const TableSpec& t, const UniqueColumns& u,
               const std::string& key, const std::string& rest, const std::vector<Value>* values) {
  Statement& s = cache.get(t, values ? "aside-if-changed" : "aside", [&] {
    std::string sets, changed;
    for (size_t i : u.aside)
      sets += (sets.empty() ? "" : ", ") + std::string(t.columns[i].name) + " = ?";
    for (size_t i : u.columns) {
      changed += (changed.empty() ? "" : " OR ") + std::string(t.columns[i].name) + " IS NOT ?";
    }
    return "UPDATE " + std::string(t.name) + " SET " + sets + " WHERE " + keyWhere(t) +
           (values ? " AND (" + changed + ")" : "");
  });
  int index = 1;
  const std::string aside = asideValue(key);
  for (size_t n = 0; n < u.aside.size(); ++n) s.bind(index++, aside);
  bindKey(s, index, t, key, rest);
  index += static_cast<int>(t.key_columns.size());
  if (values) {
    for (size_t i : u.columns) bindValue(s, index++, t.columns[i], (*values)[i]);
  }
  s.run();
}

// One row of the new state: its put (row set) or its deletion.
struct Change {
  std::string key;                        // "TABLE/PK"
  std::optional<std::vector<Value>> row;  // nullopt: delete
};

size_t tableIndex(const TableSpec* t) {
  return static_cast<size_t>(t - tables().data());
}

// The changes of one apply, grouped by table index, one per row: the last
// change of a row counts. Applying "delete, then put" of one row as two
// steps would delete first, and let CASCADE take (or RESTRICT refuse for)
// rows the revision does not touch.
class RowChanges {
 public:
  RowChanges() : by_table_(tables().size()) {}

  void set(size_t table, std::string key, std::optional<std::vector<Value>> row) {
    const auto [it, added] = index_.try_emplace(key, table, by_table_[table].size());
    if (added) {
      by_table_[table].push_back({std::move(key), std::move(row)});
    } else {
      by_table_[it->second.first][it->second.second].row = std::move(row);
    }
  }
  // The put or deletion of key `key` of table `t`, its value parsed.
  void setKey(const TableSpec& t, const std::string& key, const std::string* value) {
    // A key per record was the layout before chunks: applying it next to a
    // chunk that holds the same record would let the older one win.
    if (&t == &recordsTable()) {
      throw ValidationError(key, "a record in the layout before record chunks; push the "
                                 "configuration again with meridianctl cluster init");
    }
    const std::string rest = key.substr(std::string_view(t.name).size() + 1);
    std::optional<std::vector<Value>> row;
    if (value != nullptr) row = parseRow(t, key, rest, *value);
    else keyParts(t, key, rest);  // a deletion's key must be well formed too
    set(tableIndex(&t), key, std::move(row));
  }
  bool contains(const std::string& key) const { return index_.contains(key); }
  const std::vector<std::vector<Change>>& byTable() const { return by_table_; }

 private:
  std::vector<std::vector<Change>> by_table_;
  std::unordered_map<std::string, std::pair<size_t, size_t>> index_;  // key -> its Change
};

// Writes record chunks (records are leaves: nothing references them, and
// they have no UNIQUE column to move aside, so clearing a chunk's ids and
// inserting its rows is always safe). Each value is parsed as it is written:
// a 1,000,000-record load never holds a million parsed rows.
//
// With replace_all (a full load), the chunks written become the whole
// records table: finish() clears the chunks held here that were not
// written, and a chunk whose value equals what is held here is left alone,
// so a node that reloads everything after a compaction rewrites what
// changed, not a million records (1,000,000 unchanged records: 17 s
// rewritten, 2 s compared).
class RecordChunkWriter {
 public:
  RecordChunkWriter(Database& db, bool replace_all)
      : db_(db), cache_(db), replace_all_(replace_all) {
    if (!replace_all_) return;
    std::vector<ReplicaRow> held;
    appendRecordChunks(db_, held);
    for (ReplicaRow& h : held) held_.emplace(*chunkNumber(h.key), std::move(h.value));
  }

  // Makes chunk `chunk` hold `value`'s rows (nullptr: none). A chunk written
  // twice holds the second value.
  void write(int64_t chunk, const std::string* value) {
    const bool again = !written_.insert(chunk).second;
    if (replace_all_ && !again) {
      const auto held = held_.find(chunk);
      if (held == held_.end()) {
        if (value != nullptr) insertRows(chunk, *value);  // nothing here to clear
        return;
      }
      if (value != nullptr && *value == held->second) return;  // unchanged
    }
    clear(chunk);
    if (value != nullptr) insertRows(chunk, *value);
  }

  // With replace_all: clears the chunks held here that were never written.
  void finish() {
    for (const auto& [chunk, value] : held_) {
      if (!written_.contains(chunk)) clear(chunk);
    }
  }

 private:
  void clear(int64_t chunk) {
    Statement& s = cache_.get(recordsTable(), "clear-chunk", [] {
      return std::string("DELETE FROM records WHERE id BETWEEN ? AND ?");
    });
    s.bind(1, chunkFirst(chunk)).bind(2, chunkLast(chunk));
    s.run();
  }

  Statement& insertStatement() {
    const TableSpec& t = recordsTable();
    return cache_.get(t, "insert", [&] {
      std::string marks;
      for (size_t i = 0; i < t.columns.size(); ++i) marks += i == 0 ? "?" : ", ?";
      return "INSERT INTO records(" + columnList(t) + ") VALUES (" + marks + ")";
    });
  }

  void insertRows(int64_t chunk, const std::string& value) {
    if (insertCompact(chunk, value)) return;
    // Not in the compact form, or not valid: the JSON parser decides, and
    // names what is wrong.
    const TableSpec& t = recordsTable();
    for (const auto& [id, row] : parseChunk(chunkKey(chunk), chunk, value)) {
      Statement& insert = insertStatement();
      for (size_t i = 0; i < t.columns.size(); ++i) {
        bindValue(insert, static_cast<int>(i) + 1, t.columns[i], row[i]);
      }
      insert.run();
    }
  }

  // The chunk's rows read by readCompactChunk, checked as parseChunk checks
  // them and inserted; false (nothing inserted) for a value it does not
  // read or a row parseChunk would refuse, so parseChunk names the fault.
  bool insertCompact(int64_t chunk, const std::string& value) {
    const TableSpec& t = recordsTable();
    if (kinds_.empty()) {
      for (const Column& c : t.columns) {
        if (c.nullable || c.type == ColumnType::kReal) {
          kinds_.clear();  // a cell the compact form cannot hold: always parse
          return false;
        }
        kinds_.push_back(c.type == ColumnType::kInt ? CompactCellKind::kInteger
                                                    : CompactCellKind::kString);
      }
    }
    if (!readCompactChunk(value, kinds_, cells_)) return false;
    // Check every row (and decode the blobs) before inserting any.
    const size_t width = t.columns.size();
    blobs_.clear();
    blob_ends_.clear();
    for (size_t row = 0; row * width < cells_.size(); ++row) {
      const int64_t id = cells_[row * width].integer;  // column 0: id
      if (id < chunkFirst(chunk) || id > chunkLast(chunk)) return false;
      if (row > 0 && id <= cells_[(row - 1) * width].integer) return false;
      for (size_t i = 0; i < width; ++i) {
        if (t.columns[i].type != ColumnType::kBlob) continue;
        const std::string_view hex = cells_[row * width + i].text;
        if (hex.size() % 2 != 0) return false;
        for (size_t k = 0; k < hex.size(); k += 2) {
          const int hi = hexDigit(hex[k]), lo = hexDigit(hex[k + 1]);
          if (hi < 0 || lo < 0) return false;
          blobs_.push_back(static_cast<char>(hi * 16 + lo));
        }
        blob_ends_.push_back(blobs_.size());
      }
    }
    size_t blob = 0;
    for (size_t row = 0; row * width < cells_.size(); ++row) {
      Statement& insert = insertStatement();
      for (size_t i = 0; i < width; ++i) {
        const CompactCell& cell = cells_[row * width + i];
        const int index = static_cast<int>(i) + 1;
        switch (t.columns[i].type) {
          case ColumnType::kInt:
            insert.bind(index, cell.integer);
            break;
          case ColumnType::kText:
            insert.bind(index, cell.text);
            break;
          case ColumnType::kBlob: {
            const size_t begin = blob == 0 ? 0 : blob_ends_[blob - 1];
            insert.bindBlob(index, blobs_.data() + begin, blob_ends_[blob] - begin);
            ++blob;
            break;
          }
          case ColumnType::kReal:
            return false;  // ruled out above
        }
      }
      insert.run();
    }
    return true;
  }

  Database& db_;
  StatementCache cache_;
  bool replace_all_;
  std::map<int64_t, std::string> held_;  // replace_all: chunk -> the value held here
  std::set<int64_t> written_;
  // insertCompact's buffers, kept from chunk to chunk.
  std::vector<CompactCellKind> kinds_;
  std::vector<CompactCell> cells_;
  std::string blobs_;              // every blob of the chunk, decoded, one after another
  std::vector<size_t> blob_ends_;  // where each blob ends in blobs_
};

// Makes each key of `changes` (grouped by table index, one change per key)
// hold its new value, inside the caller's transaction. Correct for every
// change between two states that each satisfy the schema, because of the
// order, whatever the changes are:
//  1. Every row that is deleted, or whose unique columns change, is moved
//     aside: one text column of each UNIQUE constraint gets a value no real
//     row holds and no other row gets (asideValue). Ids do not change, so
//     no reference notices.
//  2. Puts, parents first (records: their chunks, RecordChunkWriter). A
//     row then only meets rows of the new state
//     (untouched or already put) and moved-aside rows: the new state is
//     unique, and nothing equals an aside value, so no UNIQUE constraint
//     fails, whatever names swap, chain or are reused (A:x,B:y -> A:y,B:x).
//     Every parent a put row names is in the new state, so it is there
//     already: untouched, or put before (parents first), and nothing has
//     been deleted yet. An existing row is updated in place (ON CONFLICT DO
//     UPDATE), so its health rows stay.
//  3. Deletions, children first. Every row left that names the deleted row
//     is also being deleted (the new state does not name it) and went
//     before, so ON DELETE RESTRICT (endpoints -> regions) never fires, and
//     CASCADE removes only rows the new state does not hold either.
// Step 1 leaves nothing behind: each moved row is put again or deleted.
void applyChanges(Database& db, const std::vector<std::vector<Change>>& changes,
                  const std::function<void()>& write_records) {
  StatementCache cache(db);
  std::vector<UniqueColumns> unique;
  for (const TableSpec& t : tables()) unique.push_back(uniqueColumns(db, t));
  const auto restOf = [](const TableSpec& t, const std::string& key) {
    return key.substr(std::string_view(t.name).size() + 1);
  };
  for (size_t ti = 0; ti < tables().size(); ++ti) {
    const TableSpec& t = tables()[ti];
    if (unique[ti].aside.empty()) continue;
    for (const Change& c : changes[ti]) {
      moveAside(cache, t, unique[ti], c.key, restOf(t, c.key), c.row ? &*c.row : nullptr);
    }
  }
  for (size_t ti = 0; ti < tables().size(); ++ti) {
    if (&tables()[ti] == &recordsTable()) write_records();
    for (const Change& c : changes[ti]) {
      if (c.row) upsert(cache, tables()[ti], *c.row);
    }
  }
  for (size_t ti = tables().size(); ti-- > 0;) {
    for (const Change& c : changes[ti]) {
      if (!c.row) removeRow(cache, tables()[ti], c.key, restOf(tables()[ti], c.key));
    }
  }
}

void recordRevision(Database& db, int64_t revision, bool zone_data, int64_t config_serial) {
  for (const auto& [key, value] : {std::pair{"cluster_revision", revision},
                                   std::pair{"cluster_config_serial", config_serial}}) {
    db.prepare(
          "INSERT INTO meta(key, value) VALUES (?, ?) "
          "ON CONFLICT(key) DO UPDATE SET value = excluded.value")
        .bind(1, std::string(key))
        .bind(2, value)
        .run();
  }
  // Always move a generation: a commit that moves none makes the reloader
  // rebuild everything.
  if (zone_data) {
    db.bumpZonesGeneration();
  } else {
    db.bumpConfigGeneration();
  }
}

}  // namespace

std::vector<ReplicaRow> dumpReplicaRows(Database& db) {
  std::vector<ReplicaRow> rows;
  ReadTransaction view(db);
  for (const TableSpec& t : tables()) {
    if (&t == &recordsTable()) {
      appendRecordChunks(db, rows);
      continue;
    }
    Statement s = db.prepare("SELECT " + columnList(t) + " FROM " + t.name);
    while (s.step()) rows.push_back({keyOf(t, s), rowValue(t, s)});
  }
  return rows;
}

void applyReplicaChanges(Database& db, const std::vector<ReplicaChange>& changes,
                         int64_t revision) {
  db.transaction([&] {
    RowChanges rows;
    std::map<int64_t, const std::string*> chunks;  // the last change of a chunk counts
    bool zone_data = false;
    for (const ReplicaChange& c : changes) {
      if (const std::optional<int64_t> chunk = chunkNumber(c.key)) {
        chunks[*chunk] = c.value ? &*c.value : nullptr;
        zone_data = true;
        continue;
      }
      std::string rest;
      const TableSpec* t = tableOf(c.key, &rest);
      if (t == nullptr) continue;  // a table of a newer build
      rows.setKey(*t, c.key, c.value ? &*c.value : nullptr);
      zone_data = zone_data || t->zone_data;
    }
    applyChanges(db, rows.byTable(), [&] {
      RecordChunkWriter records(db, false);
      for (const auto& [chunk, value] : chunks) records.write(chunk, value);
    });
    recordRevision(db, revision, zone_data, revision);
  });
}

void replaceReplica(Database& db, std::vector<ReplicaRow> rows, int64_t revision,
                    int64_t config_serial) {
  // One page: the rows are moved into it, not copied (a million records are
  // about 60 MB of values).
  loadReplica(db, [&] {
    ReplicaPage page;
    page.rows = std::move(rows);
    page.last = true;
    page.revision = revision;
    page.config_serial = config_serial;
    return page;
  });
}

namespace {

// The records table's indexes (their CREATE statements, as the schema
// declared them), dropped while a full load fills an empty records table
// and created again after it, inside the load's transaction: SQLite then
// sorts a million index entries once instead of inserting each one into a
// B-tree in owner order (1,000,000 records: about 0.6 s of 2.3 s). A load
// that fails rolls the drop back with everything else.
class RecordIndexesAside {
 public:
  explicit RecordIndexesAside(Database& db) : db_(db) {
    std::vector<std::string> names;
    {  // statements finished before DROP INDEX, which an open one would lock out
      Statement empty = db_.prepare("SELECT NOT EXISTS (SELECT 1 FROM records)");
      if (!empty.step() || empty.columnInt(0) == 0) return;  // a reload: compare chunks instead
      // Indexes SQLite makes for constraints have no SQL; records has none.
      Statement s = db_.prepare(
          "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' "
          "AND sql IS NOT NULL");
      while (s.step()) {
        names.push_back(s.columnText(0));
        creates_.push_back(s.columnText(1));
      }
    }
    for (std::string& name : names) {
      for (size_t at = name.find('"'); at != std::string::npos; at = name.find('"', at + 2))
        name.insert(at, 1, '"');  // an identifier's quote is written twice
      db_.exec("DROP INDEX \"" + name + "\"");
    }
  }
  // Creates the dropped indexes again.
  void restore() {
    for (const std::string& sql : creates_) db_.exec(sql);
    creates_.clear();
  }

 private:
  Database& db_;
  std::vector<std::string> creates_;
};

}  // namespace

void loadReplica(Database& db, const std::function<ReplicaPage()>& next_page) {
  db.transaction([&] {
    // Keys arrive in key order, record_chunks/ before zones/: a record may
    // be written before the zone it names, so foreign keys are checked at
    // COMMIT (the pragma ends with the transaction).
    db.exec("PRAGMA defer_foreign_keys = ON");
    RecordIndexesAside indexes(db);
    RecordChunkWriter records(db, true);
    RowChanges changes;
    ReplicaPage page;
    do {
      page = next_page();
      for (const ReplicaRow& r : page.rows) {
        if (const std::optional<int64_t> chunk = chunkNumber(r.key)) {
          records.write(*chunk, &r.value);
          continue;
        }
        std::string rest;
        const TableSpec* t = tableOf(r.key, &rest);
        if (t != nullptr) changes.setKey(*t, r.key, &r.value);
      }
    } while (!page.last);
    records.finish();
    indexes.restore();
    // Rows the new state does not hold are deleted.
    for (size_t ti = 0; ti < tables().size(); ++ti) {
      const TableSpec& t = tables()[ti];
      if (&t == &recordsTable()) continue;  // written whole above
      std::string columns;
      for (const char* k : t.key_columns) columns += (columns.empty() ? "" : ", ") + std::string(k);
      Statement s = db.prepare("SELECT " + columns + " FROM " + t.name);
      while (s.step()) {
        std::string key = t.name;
        for (size_t i = 0; i < t.key_columns.size(); ++i) {
          const int col = static_cast<int>(i);
          key += '/';
          key += columnNamed(t, t.key_columns[i]).type == ColumnType::kInt
                     ? std::to_string(s.columnInt(col))
                     : s.columnText(col);
        }
        if (!changes.contains(key)) changes.set(ti, std::move(key), std::nullopt);
      }
    }
    applyChanges(db, changes.byTable(), [] {});
    recordRevision(db, page.revision, true,
                   page.config_serial < 0 ? page.revision : page.config_serial);
  });
}

struct ReplicaCapture::Impl {
  Database& db;
  sqlite3_session* session = nullptr;
};

ReplicaCapture::ReplicaCapture(Database& db) : impl_(std::make_unique<Impl>(Impl{db})) {
  if (sqlite3session_create(db.handle(), "main", &impl_->session) != SQLITE_OK) {
    throw DatabaseError("cannot record the changes of a write: SQLite has no session support");
  }
  for (const TableSpec& t : tables()) {
    if (sqlite3session_attach(impl_->session, t.name) != SQLITE_OK) {
      sqlite3session_delete(impl_->session);
      throw DatabaseError(std::string("cannot record the changes of table ") + t.name);
    }
  }
}

ReplicaCapture::~ReplicaCapture() { sqlite3session_delete(impl_->session); }

std::vector<ReplicaChange> ReplicaCapture::changes() {
  int size = 0;
  void* bytes = nullptr;
  if (sqlite3session_changeset(impl_->session, &size, &bytes) != SQLITE_OK) {
    throw DatabaseError("cannot read the changes of a write");
  }
  std::unique_ptr<void, decltype(&sqlite3_free)> owned(bytes, &sqlite3_free);
  sqlite3_changeset_iter* iter = nullptr;
  if (sqlite3changeset_start(&iter, size, bytes) != SQLITE_OK) {
    throw DatabaseError("cannot read the changes of a write");
  }
  std::unique_ptr<sqlite3_changeset_iter, decltype(&sqlite3changeset_finalize)> iteration(
      iter, &sqlite3changeset_finalize);
  // A changeset names primary-key values by column position; the key needs
  // them by name, in key_columns order.
  std::map<std::string, std::vector<std::string>> declared;  // table -> column names
  std::vector<std::pair<size_t, ReplicaChange>> out;
  std::set<int64_t> changed_chunks;
  while (sqlite3changeset_next(iter) == SQLITE_ROW) {
    const char* table_name = nullptr;
    int column_count = 0, op = 0, indirect = 0;
    sqlite3changeset_op(iter, &table_name, &column_count, &op, &indirect);
    std::string rest;
    const TableSpec* t = tableOf(std::string(table_name) + "/", &rest);
    if (t == nullptr) continue;
    auto& names = declared[t->name];
    if (names.empty()) {
      Statement info = impl_->db.prepare(std::string("PRAGMA table_info(") + t->name + ")");
      while (info.step()) names.push_back(info.columnText(1));
    }
    // The changed row's value of primary-key column `k`.
    const auto keyValue = [&](const char* k) {
      const auto at = std::find(names.begin(), names.end(), k);
      sqlite3_value* value = nullptr;
      const int column = static_cast<int>(at - names.begin());
      const int found = at == names.end()          ? SQLITE_ERROR
                        : op == SQLITE_INSERT ? sqlite3changeset_new(iter, column, &value)
                                              : sqlite3changeset_old(iter, column, &value);
      if (found != SQLITE_OK || value == nullptr) {
        throw DatabaseError(std::string("a change of ") + t->name + " has no " + k);
      }
      return value;
    };
    if (t == &recordsTable()) {
      // Records travel in chunks: each changed record's chunk is written
      // whole, below (a zone of a million records deleted is 15,625 keys).
      changed_chunks.insert(chunkOf(sqlite3_value_int64(keyValue("id"))));
      continue;
    }
    std::string key = t->name;
    Statement row = impl_->db.prepare("SELECT " + columnList(*t) + " FROM " + t->name +
                                      " WHERE " + keyWhere(*t));
    int bind = 0;
    for (const char* k : t->key_columns) {
      sqlite3_value* value = keyValue(k);
      key += '/';
      if (sqlite3_value_type(value) == SQLITE_INTEGER) {
        key += std::to_string(sqlite3_value_int64(value));
        row.bind(++bind, static_cast<int64_t>(sqlite3_value_int64(value)));
      } else {
        const auto* text = reinterpret_cast<const char*>(sqlite3_value_text(value));
        key += text ? text : "";
        row.bind(++bind, std::string_view(text ? text : ""));
      }
    }
    ReplicaChange change{key, std::nullopt};
    if (op != SQLITE_DELETE && row.step()) change.value = rowValue(*t, row);
    out.push_back({tableIndex(t), std::move(change)});
  }
  Statement rows = impl_->db.prepare("SELECT " + columnList(recordsTable()) +
                                     " FROM records WHERE id BETWEEN ? AND ? ORDER BY id");
  for (int64_t chunk : changed_chunks) {
    rows.reset();
    rows.bind(1, chunkFirst(chunk)).bind(2, chunkLast(chunk));
    std::vector<ReplicaRow> value;
    appendChunks(rows, value);
    out.push_back({tableIndex(&recordsTable()),
                   value.empty() ? ReplicaChange{chunkKey(chunk), std::nullopt}
                                 : ReplicaChange{value[0].key, std::move(value[0].value)}});
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ReplicaChange> changes;
  changes.reserve(out.size());
  for (auto& [index, change] : out) changes.push_back(std::move(change));
  return changes;
}

int64_t replicaRevision(Database& db) {
  Statement s = db.prepare("SELECT value FROM meta WHERE key = 'cluster_revision'");
  return s.step() ? s.columnInt(0) : 0;
}

int64_t configSerial(Database& db) {
  // A replica written before the serial was recorded has only its revision.
  Statement s = db.prepare(
      "SELECT value FROM meta WHERE key IN ('cluster_config_serial', 'cluster_revision', "
      "'config_generation') ORDER BY CASE key WHEN 'cluster_config_serial' THEN 0 "
      "WHEN 'cluster_revision' THEN 1 ELSE 2 END LIMIT 1");
  return s.step() ? s.columnInt(0) : 0;
}

}  // namespace meridian::zones
