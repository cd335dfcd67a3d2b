// Minimal RAII wrapper over the SQLite C API for the privacy ledger and the coordinator's
// state store. Errors become LedgerError, or LedgerCorruptError for SQLITE_CORRUPT /
// SQLITE_NOTADB; the message starts with the database's label and path.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace fedlora::privacy::sqlite {

class Database;

/// A prepared statement; bind with 1-based indices, then step().
class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  Statement(Statement&&) noexcept = default;
  ~Statement();

  void bind_text(int index, std::string_view value);
  void bind_blob(int index, std::span<const std::uint8_t> value);
  void bind_double(int index, double value);
  void bind_int64(int index, std::int64_t value);

  /// Advances; true if a row is available, false when done.
  bool step();

  [[nodiscard]] int column_type(int col) const;
  [[nodiscard]] std::string column_text(int col) const;
  [[nodiscard]] std::vector<std::uint8_t> column_blob(int col) const;
  [[nodiscard]] double column_double(int col) const;
  [[nodiscard]] std::int64_t column_int64(int col) const;

 private:
  struct Finalizer {
    void operator()(sqlite3_stmt* s) const noexcept;
  };
  Database* db_;
  std::unique_ptr<sqlite3_stmt, Finalizer> stmt_;
};

class Database {
 public:
  /// Opens (create = true: creating if missing) the database at `path`. `label` names it in
  /// error messages ("privacy ledger", "coordinator store").
  Database(const std::filesystem::path& path, bool create, std::string label = "privacy ledger");
  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;
  ~Database();

  /// Runs one or more statements without results.
  void exec(std::string_view sql);
  /// Throws the error for result code `rc` with context `what`.
  [[noreturn]] void fail(int rc, std::string_view what) const;

  [[nodiscard]] sqlite3* handle() const { return db_.get(); }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  struct Closer {
    void operator()(sqlite3* db) const noexcept;
  };
  std::unique_ptr<sqlite3, Closer> db_;
  std::string path_;
  std::string label_;
};

/// Runs `BEGIN IMMEDIATE`; rolls back in the destructor unless commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Database& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace fedlora::privacy::sqlite
