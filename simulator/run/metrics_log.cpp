#include "simulator/run/metrics_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <vector>

#include "lora/format/atomic_file.h"

namespace fedlora::sim {
namespace fs = std::filesystem;

namespace {
[[noreturn]] void os_error(const std::string& what, const fs::path& p, int err) {
  throw std::runtime_error(what + " " + p.string() + ": " + std::strerror(err));
}
}  // namespace

MetricsLog::MetricsLog(fs::path path, bool truncate) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (truncate ? O_TRUNC : 0), 0644);
  if (fd_ < 0) os_error("cannot write", path_, errno);
}

MetricsLog::~MetricsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void MetricsLog::append(const std::string& line) {
  if (line.find('\n') != std::string::npos) throw std::logic_error("metrics line contains a newline");
  const std::string data = line + "\n";
  const off_t start = ::lseek(fd_, 0, SEEK_END);
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      if (start >= 0 && ::ftruncate(fd_, start) != 0) {
        // Leave the torn tail: reconcile_metrics drops it on resume.
      }
      os_error("cannot append to", path_, err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd_) != 0) os_error("cannot fsync", path_, errno);
}

void reconcile_metrics(const fs::path& path, std::int64_t round, const std::string& last_line) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  if (in) ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<std::string> keep;
  std::size_t pos = 0;
  while (static_cast<std::int64_t>(keep.size()) < round) {
    const std::size_t nl = text.find('\n', pos);
    const auto line_no = keep.size() + 1;
    if (nl == std::string::npos)
      throw std::runtime_error(path.string() + " holds " + std::to_string(keep.size()) +
                               " complete lines but the checkpoint is after round " + std::to_string(round) +
                               ": the metrics of rounds " + std::to_string(keep.size()) + ".." + std::to_string(round - 1) +
                               " are lost; start the run again without --resume");
    std::string line = text.substr(pos, nl - pos);
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object() || j.value("round", std::int64_t{-1}) != static_cast<std::int64_t>(keep.size()))
      throw std::runtime_error(path.string() + ":" + std::to_string(line_no) + ": expected the metrics line of round " +
                               std::to_string(keep.size()) + "; the file was edited or damaged, so the run cannot resume");
    keep.push_back(std::move(line));
    pos = nl + 1;
  }
  keep.push_back(last_line);
  std::string out;
  for (const auto& l : keep) out += l + "\n";
  lora::AtomicFileWriter w(path);
  w.append(std::as_bytes(std::span<const char>(out.data(), out.size())));
  w.commit();
}

}  // namespace fedlora::sim
