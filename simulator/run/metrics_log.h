#pragma once
// metrics.jsonl, crash-safe: each line is appended with one write(2) and fsync'ed before
// the next round starts, and a resumed run reconciles the file with its checkpoint (drops a
// torn tail and any line after the checkpointed round, restores that round's line if the
// crash came between the checkpoint and the append), so no line is ever torn or duplicated.
#include <cstdint>
#include <filesystem>
#include <string>

namespace fedlora::sim {

class MetricsLog {
 public:
  /// Opens `path` for appending; `truncate` empties it first (a fresh run). Throws
  /// std::runtime_error naming the path and the OS error (read-only directory, ...).
  MetricsLog(std::filesystem::path path, bool truncate);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;

  /// Appends `line` + '\n' and fsyncs. `line` must not contain '\n'. Throws
  /// std::runtime_error (disk full: the partial line is cut off again before throwing).
  void append(const std::string& line);

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

/// Makes metrics.jsonl at `path` hold exactly the lines of rounds 0..`round`, the last one
/// being `last_line` (as stored in the checkpoint of `round`): keeps the complete lines of
/// rounds < `round`, drops a torn tail and later lines, then writes the result atomically.
/// Throws std::runtime_error if a line of an earlier round is missing or unparseable (the
/// file was edited or damaged: the run cannot be resumed consistently).
void reconcile_metrics(const std::filesystem::path& path, std::int64_t round, const std::string& last_line);

}  // namespace fedlora::sim
