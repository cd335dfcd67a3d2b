#include "privacy/ledger/sqlite_db.h"

#include <sqlite3.h>

#include "privacy/errors.h"

namespace fedlora::privacy::sqlite {

void Database::Closer::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
void Statement::Finalizer::operator()(sqlite3_stmt* s) const noexcept { sqlite3_finalize(s); }

Database::Database(const std::filesystem::path& path, bool create, std::string label)
    : path_(path.string()), label_(std::move(label)) {
  sqlite3* raw = nullptr;
  const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) |
                    SQLITE_OPEN_FULLMUTEX;
  const int rc = sqlite3_open_v2(path_.c_str(), &raw, flags, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) fail(rc, "open");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, 10000);  // another process holds the write lock: wait, then fail
}

Database::~Database() = default;

void Database::fail(int rc, std::string_view what) const {
  const std::string detail = db_ ? sqlite3_errmsg(db_.get()) : sqlite3_errstr(rc);
  const std::string msg = label_ + " '" + path_ + "': " + std::string(what) +
                          " failed: " + detail + " (SQLite code " + std::to_string(rc) + ")";
  const int primary = rc & 0xFF;
  if (primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB) {
    throw LedgerCorruptError(msg + "; the " + label_ + " is damaged: restore it from a backup, never "
                                   "delete it (that would reset the privacy spent)");
  }
  throw LedgerError(msg);
}

void Database::exec(std::string_view sql) {
  char* err = nullptr;
  const std::string s(sql);
  const int rc = sqlite3_exec(db_.get(), s.c_str(), nullptr, nullptr, &err);
  if (err != nullptr) sqlite3_free(err);
  if (rc != SQLITE_OK) fail(rc, "statement '" + s + "'");
}

Statement::Statement(Database& db, std::string_view sql) : db_(&db) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v2(db.handle(), sql.data(), static_cast<int>(sql.size()), &raw,
                                    nullptr);
  stmt_.reset(raw);
  if (rc != SQLITE_OK) db.fail(rc, "prepare '" + std::string(sql) + "'");
}

Statement::~Statement() = default;

void Statement::bind_text(int index, std::string_view value) {
  const int rc = sqlite3_bind_text(stmt_.get(), index, value.data(), static_cast<int>(value.size()),
                                   SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail(rc, "bind");
}

void Statement::bind_blob(int index, std::span<const std::uint8_t> value) {
  // A zero-length blob must still be a blob (not NULL): give SQLite a valid pointer.
  static const std::uint8_t kEmpty = 0;
  const void* data = value.empty() ? &kEmpty : value.data();
  const int rc = sqlite3_bind_blob(stmt_.get(), index, data, static_cast<int>(value.size()),
                                   SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) db_->fail(rc, "bind");
}

void Statement::bind_double(int index, double value) {
  const int rc = sqlite3_bind_double(stmt_.get(), index, value);
  if (rc != SQLITE_OK) db_->fail(rc, "bind");
}

void Statement::bind_int64(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_.get(), index, value);
  if (rc != SQLITE_OK) db_->fail(rc, "bind");
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  db_->fail(rc, "step");
}

int Statement::column_type(int col) const { return sqlite3_column_type(stmt_.get(), col); }

std::string Statement::column_text(int col) const {
  const auto* p = sqlite3_column_text(stmt_.get(), col);
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  return p == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(p), n);
}

std::vector<std::uint8_t> Statement::column_blob(int col) const {
  const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt_.get(), col));
  const int n = sqlite3_column_bytes(stmt_.get(), col);
  return p == nullptr ? std::vector<std::uint8_t>() : std::vector<std::uint8_t>(p, p + n);
}

double Statement::column_double(int col) const { return sqlite3_column_double(stmt_.get(), col); }

std::int64_t Statement::column_int64(int col) const {
  return sqlite3_column_int64(stmt_.get(), col);
}

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace fedlora::privacy::sqlite
