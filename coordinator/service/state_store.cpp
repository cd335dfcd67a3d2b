#include "coordinator/service/state_store.h"

#include <algorithm>

#include "privacy/errors.h"

namespace fedlora::coordinator {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices(
  id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, token_sha256 BLOB,
  last_seen_ms INTEGER, num_examples INTEGER, runtime_version TEXT, identity_key BLOB);
CREATE TABLE IF NOT EXISTS rounds(
  round INTEGER PRIMARY KEY, aborted INTEGER NOT NULL, abort_reason TEXT NOT NULL,
  cohort INTEGER NOT NULL, contributors INTEGER NOT NULL, adapter_sha256 BLOB NOT NULL,
  metrics TEXT NOT NULL, privacy_state TEXT NOT NULL);
)sql";

template <class F>
auto guarded(const char* what, F&& f) {
  try {
    return f();
  } catch (const privacy::LedgerError& e) {
    throw StoreError(std::string(what) + ": " + e.what());
  }
}

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

StateStore::StateStore(fs::path path, bool create)
    : path_(std::move(path)),
      db_(guarded("open", [&] { return privacy::sqlite::Database(path_, create, "coordinator store"); })) {}

StateStore StateStore::open(const fs::path& state_dir, const std::string& job_fingerprint) {
  std::error_code ec;
  fs::create_directories(state_dir, ec);
  if (ec) throw StoreError("cannot create the state directory " + state_dir.string() + ": " + ec.message());
  StateStore s(state_dir / "coordinator.sqlite", true);
  guarded("initialise", [&] {
    s.db_.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    s.db_.exec(kSchema);
    privacy::sqlite::Transaction tx(s.db_);
    privacy::sqlite::Statement q(s.db_, "SELECT value FROM meta WHERE key = 'job'");
    if (q.step()) {
      if (q.column_text(0) != job_fingerprint)
        throw StoreError(s.path_.string() + " belongs to another job (its configuration differs); use a fresh "
                                            "serve.state_dir or the job's original configuration");
    } else {
      privacy::sqlite::Statement ins(s.db_, "INSERT INTO meta(key, value) VALUES ('job', ?1)");
      ins.bind_text(1, job_fingerprint);
      ins.step();
    }
    tx.commit();
    return 0;
  });
  return s;
}

StateStore StateStore::open_existing(const fs::path& state_dir) {
  const auto p = state_dir / "coordinator.sqlite";
  if (!fs::exists(p)) throw StoreError("no coordinator store at " + p.string() + " (is --state the serve.state_dir?)");
  return StateStore(p, false);
}

StoredDevice StateStore::enrol(const std::string& name, const std::string& token_sha256) {
  return guarded("enrol a device", [&] {
    privacy::sqlite::Transaction tx(db_);
    privacy::sqlite::Statement q(db_, "SELECT id FROM devices WHERE name = ?1");
    q.bind_text(1, name);
    if (q.step()) {
      const std::int64_t id = q.column_int64(0);
      if (!token_sha256.empty()) {
        privacy::sqlite::Statement up(db_, "UPDATE devices SET token_sha256 = ?1 WHERE id = ?2");
        up.bind_blob(1, bytes(token_sha256));
        up.bind_int64(2, id);
        up.step();
      }
      tx.commit();
      return StoredDevice{id, name};
    }
    privacy::sqlite::Statement next(db_, "SELECT COALESCE(MAX(id) + 1, 0) FROM devices");
    next.step();
    const std::int64_t id = next.column_int64(0);
    privacy::sqlite::Statement ins(db_, "INSERT INTO devices(id, name, token_sha256) VALUES (?1, ?2, ?3)");
    ins.bind_int64(1, id);
    ins.bind_text(2, name);
    ins.bind_blob(3, bytes(token_sha256));
    ins.step();
    tx.commit();
    return StoredDevice{id, name};
  });
}

std::optional<StoredDevice> StateStore::find_device(const std::string& name) const {
  return guarded("find a device", [&]() -> std::optional<StoredDevice> {
    privacy::sqlite::Statement q(db_, "SELECT id FROM devices WHERE name = ?1");
    q.bind_text(1, name);
    if (!q.step()) return std::nullopt;
    return StoredDevice{q.column_int64(0), name};
  });
}

std::vector<StoredDevice> StateStore::devices() const {
  return guarded("list devices", [&] {
    std::vector<StoredDevice> out;
    privacy::sqlite::Statement q(db_, "SELECT id, name, identity_key FROM devices ORDER BY id");
    while (q.step()) {
      const auto key = q.column_blob(2);
      out.push_back({q.column_int64(0), q.column_text(1), std::string(key.begin(), key.end())});
    }
    return out;
  });
}

void StateStore::register_identity(std::int64_t id, const std::string& key) {
  guarded("register an identity key", [&] {
    privacy::sqlite::Transaction tx(db_);
    privacy::sqlite::Statement q(db_, "SELECT identity_key FROM devices WHERE id = ?1");
    q.bind_int64(1, id);
    if (!q.step()) throw StoreError("device " + std::to_string(id) + " is not enrolled");
    const auto old = q.column_blob(0);
    if (!old.empty()) {
      if (std::string(old.begin(), old.end()) != key)
        throw StoreError("device " + std::to_string(id) + " already registered another identity key");
      return 0;
    }
    privacy::sqlite::Statement up(db_, "UPDATE devices SET identity_key = ?1 WHERE id = ?2");
    up.bind_blob(1, bytes(key));
    up.bind_int64(2, id);
    up.step();
    tx.commit();
    return 0;
  });
}

void StateStore::record_seen(const std::vector<Seen>& seen) {
  if (seen.empty()) return;
  guarded("record check-ins", [&] {
    privacy::sqlite::Transaction tx(db_);
    for (const auto& s : seen) {
      privacy::sqlite::Statement up(
          db_, "UPDATE devices SET last_seen_ms = ?1, num_examples = ?2, runtime_version = ?3 WHERE id = ?4");
      up.bind_int64(1, s.unix_ms);
      up.bind_int64(2, s.num_examples);
      up.bind_text(3, s.runtime_version);
      up.bind_int64(4, s.id);
      up.step();
    }
    tx.commit();
    return 0;
  });
}

std::uint64_t StateStore::committed_round() const {
  return guarded("read the committed round", [&] {
    privacy::sqlite::Statement q(db_, "SELECT COALESCE(MAX(round), 0) FROM rounds");
    q.step();
    return static_cast<std::uint64_t>(q.column_int64(0));
  });
}

void StateStore::commit_round(const StoredRound& r) {
  guarded("commit a round", [&] {
    privacy::sqlite::Transaction tx(db_);
    privacy::sqlite::Statement last(db_, "SELECT COALESCE(MAX(round), 0) FROM rounds");
    last.step();
    if (static_cast<std::uint64_t>(last.column_int64(0)) + 1 != r.round)
      throw StoreError(path_.string() + ": round " + std::to_string(r.round) + " committed after round " +
                       std::to_string(last.column_int64(0)) + "; rounds are committed in order, once");
    privacy::sqlite::Statement ins(db_,
                                   "INSERT INTO rounds(round, aborted, abort_reason, cohort, contributors, adapter_sha256, "
                                   "metrics, privacy_state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    ins.bind_int64(1, static_cast<std::int64_t>(r.round));
    ins.bind_int64(2, r.aborted ? 1 : 0);
    ins.bind_text(3, r.abort_reason);
    ins.bind_int64(4, r.cohort);
    ins.bind_int64(5, r.contributors);
    ins.bind_blob(6, r.adapter_sha256);
    ins.bind_text(7, r.metrics_json);
    ins.bind_text(8, r.privacy_state_json);
    ins.step();
    tx.commit();
    return 0;
  });
}

namespace {
StoredRound read_round(privacy::sqlite::Statement& q) {
  StoredRound r;
  r.round = static_cast<std::uint64_t>(q.column_int64(0));
  r.aborted = q.column_int64(1) != 0;
  r.abort_reason = q.column_text(2);
  r.cohort = static_cast<int>(q.column_int64(3));
  r.contributors = static_cast<int>(q.column_int64(4));
  const auto blob = q.column_blob(5);
  if (blob.size() == r.adapter_sha256.size()) std::copy(blob.begin(), blob.end(), r.adapter_sha256.begin());
  r.metrics_json = q.column_text(6);
  r.privacy_state_json = q.column_text(7);
  return r;
}
constexpr const char* kRoundColumns =
    "SELECT round, aborted, abort_reason, cohort, contributors, adapter_sha256, metrics, privacy_state FROM rounds";
}  // namespace

std::optional<StoredRound> StateStore::round(std::uint64_t round) const {
  return guarded("read a round", [&]() -> std::optional<StoredRound> {
    privacy::sqlite::Statement q(db_, std::string(kRoundColumns) + " WHERE round = ?1");
    q.bind_int64(1, static_cast<std::int64_t>(round));
    if (!q.step()) return std::nullopt;
    return read_round(q);
  });
}

std::vector<StoredRound> StateStore::rounds() const {
  return guarded("read rounds", [&] {
    std::vector<StoredRound> out;
    privacy::sqlite::Statement q(db_, std::string(kRoundColumns) + " ORDER BY round");
    while (q.step()) out.push_back(read_round(q));
    return out;
  });
}

void StateStore::set_progress(const std::string& json) {
  guarded("write progress", [&] {
    privacy::sqlite::Statement q(db_, "INSERT OR REPLACE INTO meta(key, value) VALUES ('progress', ?1)");
    q.bind_text(1, json);
    q.step();
    return 0;
  });
}

std::string StateStore::progress() const {
  return guarded("read progress", [&] {
    privacy::sqlite::Statement q(db_, "SELECT value FROM meta WHERE key = 'progress'");
    return q.step() ? q.column_text(0) : std::string("{}");
  });
}

}  // namespace fedlora::coordinator
