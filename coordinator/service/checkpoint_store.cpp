#include "coordinator/service/checkpoint_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <stdexcept>
#include <string>

namespace fedlora::coordinator {
namespace fs = std::filesystem;

namespace {

void fsync_path(const fs::path& p, bool directory) {
  const int fd = ::open(p.c_str(), (directory ? O_DIRECTORY : 0) | O_RDONLY);
  if (fd < 0) throw std::runtime_error("cannot open " + p.string() + " to fsync it");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot fsync " + p.string());
}

}  // namespace

CheckpointStore::CheckpointStore(fs::path state_dir) : root_(std::move(state_dir) / "checkpoints") {
  fs::create_directories(root_);
}

fs::path CheckpointStore::dir_of(std::uint64_t round) const {
  char name[32];
  std::snprintf(name, sizeof name, "round-%08llu", static_cast<unsigned long long>(round));
  return root_ / name;
}

void CheckpointStore::write(const Coordinator& coordinator, std::uint64_t round) const {
  const fs::path final_dir = dir_of(round);
  const fs::path tmp = final_dir.string() + ".tmp";
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  coordinator.write_checkpoint(tmp);  // each file: temp + fsync + rename (lora/format/atomic_file.h)
  fsync_path(tmp, true);
  fs::remove_all(final_dir);
  fs::rename(tmp, final_dir);
  fsync_path(root_, true);
}

void CheckpointStore::restore(Coordinator& coordinator, std::uint64_t round) const {
  if (round == 0) return;
  const fs::path dir = dir_of(round);
  if (!fs::is_directory(dir))
    throw std::runtime_error("the store says round " + std::to_string(round) + " is committed but " + dir.string() +
                             " is missing; restore the state directory from a backup");
  coordinator.restore_checkpoint(dir);
}

void CheckpointStore::prune(std::uint64_t newest, int count) const {
  for (const auto& e : fs::directory_iterator(root_)) {
    const std::string name = e.path().filename().string();
    bool keep = false;
    for (int i = 0; i < count && static_cast<std::uint64_t>(i) <= newest; ++i)
      keep = keep || name == dir_of(newest - static_cast<std::uint64_t>(i)).filename().string();
    if (keep) continue;
    std::error_code ec;
    fs::remove_all(e.path(), ec);
  }
}

}  // namespace fedlora::coordinator
