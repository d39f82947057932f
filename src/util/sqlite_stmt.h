// SQLite helpers: a prepared statement that finalizes itself, opening a file.
#pragma once

#include <sqlite3.h>

#include <string>

#include "util/bytes.h"
#include "util/result.h"

namespace supernet {

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() { return s_; }
  bool ok() const { return s_ != nullptr; }
  void blob(int i, ByteView b) { sqlite3_bind_blob(s_, i, b.data(), static_cast<int>(b.size()), SQLITE_TRANSIENT); }
  void text(int i, const std::string& t) { sqlite3_bind_text(s_, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT); }
  void integer(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  int step() { return sqlite3_step(s_); }
  void reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  Bytes column_blob(int i) {
    auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(s_, i));
    return Bytes(p, p + sqlite3_column_bytes(s_, i));
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

// Opens (creating) a database file for one serialized connection; `code` names the error.
inline Result<sqlite3*> open_sqlite(const std::string& path, const char* code) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    std::string why = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return make_error(code, "cannot open '" + path + "': " + why);
  }
  return db;
}

}  // namespace supernet
