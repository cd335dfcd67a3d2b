#include "simulator/run/run_checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "coordinator/protocol/payload.h"
#include "lora/format/atomic_file.h"
#include "privacy/ledger/sqlite_db.h"

namespace fedlora::sim {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kFormat = "fedlora-sim-checkpoint/1";
constexpr const char* kStateFile = "run_state.json";
constexpr const char* kLedgerFile = "ledger.sqlite";

void fsync_path(const fs::path& p, bool directory) {
  const int fd = ::open(p.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open " + p.string() + " to fsync it: " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot fsync " + p.string() + ": " + std::strerror(err));
}

std::string round_name(std::int64_t round) {
  char name[32];
  std::snprintf(name, sizeof name, "round-%08lld", static_cast<long long>(round));
  return name;
}

// round-NNNNNNNN (exactly), else -1.
std::int64_t round_of(const std::string& name) {
  if (name.size() != 14 || name.rfind("round-", 0) != 0) return -1;
  for (std::size_t i = 6; i < name.size(); ++i)
    if (name[i] < '0' || name[i] > '9') return -1;
  return std::stoll(name.substr(6));
}

std::string file_sha256(const fs::path& p) { return protocol::to_hex(protocol::sha256_of_file(p)); }

std::string quote_sql(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("''") : std::string(1, c);
  return q + "'";
}

void copy_file_durably(const fs::path& from, const fs::path& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + from.string());
  lora::AtomicFileWriter w(to);
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    const auto n = static_cast<std::size_t>(in.gcount());
    if (n) w.append(std::as_bytes(std::span<const char>(buf.data(), n)));
  }
  w.commit();
}

json fingerprint_json(const RunFingerprint& f) {
  json conf = json::object();
  for (const auto& [k, v] : f.config) conf[k] = v;
  return json{{"config", conf},
              {"config_sha256", protocol::to_hex(protocol::sha256_of(conf.dump()))},
              {"base_sha256", f.base_sha256},
              {"data_sha256", f.data_sha256},
              {"adapter_parameters", f.adapter_parameters}};
}

// Every difference between the stored fingerprint and the current one, as "key: was X, now Y".
std::vector<std::string> differences(const json& stored, const RunFingerprint& now) {
  const json cur = fingerprint_json(now);
  std::vector<std::string> out;
  if (stored.at("config_sha256") != cur["config_sha256"]) {
    const json& a = stored.at("config");
    const json& b = cur["config"];
    std::map<std::string, std::pair<std::string, std::string>> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys[it.key()].first = it.value().get<std::string>();
    for (auto it = b.begin(); it != b.end(); ++it) keys[it.key()].second = it.value().get<std::string>();
    for (const auto& [k, v] : keys)
      if (!a.contains(k) || !b.contains(k) || v.first != v.second)
        out.push_back(k + ": was " + (a.contains(k) ? "'" + v.first + "'" : "unset") + ", now " +
                      (b.contains(k) ? "'" + v.second + "'" : "unset"));
  }
  if (stored.at("base_sha256") != cur["base_sha256"]) out.push_back("the base model file (model.base) has other contents");
  if (stored.at("data_sha256") != cur["data_sha256"]) out.push_back("the corpus (data.path) gives other users or tokens");
  if (stored.at("adapter_parameters") != cur["adapter_parameters"]) out.push_back("the adapter size differs");
  return out;
}

}  // namespace

RunFingerprint run_fingerprint(const SimConfig& cfg, const protocol::Sha256Digest& base_sha256, const Fleet& fleet,
                               std::int64_t adapter_parameters) {
  RunFingerprint f;
  for (auto& kv : describe(cfg))
    if (kv.first != "run.threads") f.config.push_back(std::move(kv));
  f.base_sha256 = protocol::to_hex(base_sha256);
  f.data_sha256 = fleet.data_sha256;  // users, their windows and the evaluation users (build_fleet)
  f.adapter_parameters = adapter_parameters;
  return f;
}

void write_run_checkpoint(const fs::path& run_dir, const coordinator::Coordinator& coordinator, const RunState& state,
                          const RunFingerprint& fingerprint, const fs::path& ledger) {
  const fs::path root = run_dir / "checkpoints";
  const fs::path final_dir = root / round_name(state.round);
  const fs::path tmp = final_dir.string() + ".tmp";
  try {
    fs::create_directories(root);
    fs::remove_all(tmp);
    fs::create_directories(tmp);
    coordinator.write_checkpoint(tmp);  // each file: temp + fsync + rename
    json files = json::object();
    if (!ledger.empty()) {
      // A consistent copy of the ledger as of this round, WAL included (nothing writes
      // between rounds).
      privacy::sqlite::Database db(ledger, false);
      db.exec("VACUUM INTO " + quote_sql((tmp / kLedgerFile).string()));
      fsync_path(tmp / kLedgerFile, false);
    }
    for (const auto& e : fs::directory_iterator(tmp))
      if (e.is_regular_file()) files[e.path().filename().string()] = file_sha256(e.path());
    json doc = fingerprint_json(fingerprint);
    doc["format"] = kFormat;
    doc["files"] = files;
    doc["state"] = run_state_json(state);
    const std::string text = doc.dump(1) + "\n";
    lora::AtomicFileWriter w(tmp / kStateFile);
    w.append(std::as_bytes(std::span<const char>(text.data(), text.size())));
    w.commit();
    fsync_path(tmp, true);
    fs::remove_all(final_dir);
    fs::rename(tmp, final_dir);
    fsync_path(root, true);
  } catch (const std::exception& e) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw std::runtime_error("cannot write the checkpoint of round " + std::to_string(state.round) + " in " +
                             root.string() + ": " + e.what() + " (the previous checkpoint is intact)");
  }
  // Convenience link to the newest checkpoint, and pruning: neither is needed for safety.
  std::error_code ec;
  const fs::path link_tmp = run_dir / "checkpoint.link-tmp";
  fs::remove(link_tmp, ec);
  fs::create_directory_symlink(fs::path("checkpoints") / final_dir.filename(), link_tmp, ec);
  if (!ec) fs::rename(link_tmp, run_dir / "checkpoint", ec);
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const std::string name = e.path().filename().string();
    const std::int64_t r = round_of(name);
    if (r == state.round || r == state.round - 1) continue;
    std::error_code ignore;
    fs::remove_all(e.path(), ignore);
  }
}

std::optional<FoundCheckpoint> load_run_checkpoint(const fs::path& run_dir, const RunFingerprint& fingerprint) {
  const fs::path root = run_dir / "checkpoints";
  if (!fs::is_directory(root)) return std::nullopt;
  std::int64_t newest = -1;
  for (const auto& e : fs::directory_iterator(root)) newest = std::max(newest, round_of(e.path().filename().string()));
  if (newest < 0) return std::nullopt;
  FoundCheckpoint found;
  found.dir = root / round_name(newest);
  const fs::path state_file = found.dir / kStateFile;
  auto corrupt = [&](const std::string& what) {
    return ResumeError("checkpoint " + found.dir.string() + " is corrupt: " + what +
                       "; it cannot be resumed (start the run again without --resume)");
  };
  std::ifstream in(state_file, std::ios::binary);
  if (!in) throw corrupt(std::string(kStateFile) + " is missing");
  std::stringstream ss;
  ss << in.rdbuf();
  const json doc = json::parse(ss.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) throw corrupt(std::string(kStateFile) + " is truncated or not JSON");
  if (doc.value("format", "") != kFormat)
    throw corrupt(std::string(kStateFile) + " has format '" + doc.value("format", "") + "', expected " + kFormat);
  try {
    const auto diff = differences(doc, fingerprint);
    if (!diff.empty()) {
      std::string msg = "cannot resume " + run_dir.string() + ": the run changed since its checkpoint of round " +
                        std::to_string(newest) + ":";
      for (const auto& d : diff) msg += "\n  " + d;
      throw ResumeError(msg + "\nresume with the original config, or start again without --resume");
    }
    const json& files = doc.at("files");
    for (auto it = files.begin(); it != files.end(); ++it) {
      const fs::path p = found.dir / it.key();
      if (!fs::is_regular_file(p)) throw corrupt(it.key() + " is missing");
      if (file_sha256(p) != it.value().get<std::string>()) throw corrupt(it.key() + " does not match its SHA-256 (truncated or changed)");
    }
    found.has_ledger = files.contains(kLedgerFile);
    found.state = run_state_from_json(doc.at("state"));
  } catch (const ResumeError&) {
    throw;
  } catch (const std::exception& e) {
    throw corrupt(e.what());
  }
  if (found.state.round != newest) throw corrupt("it says round " + std::to_string(found.state.round));
  return found;
}

void restore_ledger_snapshot(const fs::path& checkpoint_dir, const fs::path& ledger_path) {
  const fs::path staged = ledger_path.string() + ".restore";
  copy_file_durably(checkpoint_dir / kLedgerFile, staged);
  for (const char* suffix : {"-wal", "-shm"}) fs::remove(ledger_path.string() + suffix);
  fs::rename(staged, ledger_path);
  fsync_path(ledger_path.parent_path().empty() ? fs::path(".") : ledger_path.parent_path(), true);
}

void clear_run_checkpoints(const fs::path& run_dir) {
  fs::remove_all(run_dir / "checkpoints");
  fs::remove_all(run_dir / "checkpoint");  // a link, or the folder older versions wrote
  fs::remove(run_dir / "checkpoint.link-tmp");
}

}  // namespace fedlora::sim
