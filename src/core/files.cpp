#include "slim/core/files.h"

#include <ftw.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "slim/core/error.h"

namespace slim {

namespace fs = std::filesystem;

std::string read_file(const std::string& path) {
  SLIM_CHECK(!fs::is_directory(path), path, ": is a directory, expected a file");
  std::ifstream stream(path, std::ios::binary);
  SLIM_CHECK(stream.good(), path, ": cannot open: ", std::strerror(errno));
  std::ostringstream contents;
  contents << stream.rdbuf();
  SLIM_CHECK(!stream.bad(), path, ": read failed");
  return contents.str();
}

void write_file(const std::string& path, const std::string& contents) {
  std::ofstream stream(path, std::ios::binary | std::ios::trunc);
  SLIM_CHECK(stream.good(), path, ": cannot create: ", std::strerror(errno));
  stream.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  stream.close();
  SLIM_CHECK(!stream.fail(), path, ": write failed: ", std::strerror(errno));
}

namespace {

// Deletes a directory tree with POSIX nftw rather than std::filesystem::remove_all: on a CUDA build
// (g++ 13, PyTorch 2.11 wheel) replacing a checkpoint crashed, and remove_all of the old one is the
// suspect (unconfirmed; docs/training.md). Best effort: returns false when something remains.
bool remove_tree(const std::string& path) {
  const auto remove_entry = [](const char* entry, const struct stat*, int, struct FTW*) {
    return std::remove(entry) == 0 ? 0 : -1;
  };
  if (!fs::exists(fs::symlink_status(path))) return true;
  return ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0;
}

}  // namespace

AtomicOutputDir::AtomicOutputDir(std::string target, bool overwrite)
    : target_(std::move(target)), overwrite_(overwrite) {
  SLIM_CHECK(!target_.empty(), "output path is empty");
  while (target_.size() > 1 && target_.back() == '/')
    target_.pop_back();
  const fs::path target_path(target_);
  if (fs::exists(target_path)) {
    SLIM_CHECK(fs::is_directory(target_path), target_, ": exists and is not a directory");
    SLIM_CHECK(overwrite_ || fs::is_empty(target_path), target_,
               ": output directory exists and is not empty (pass --overwrite to replace it)");
  }
  const fs::path parent = target_path.has_parent_path() ? target_path.parent_path() : ".";
  std::error_code error;
  fs::create_directories(parent, error);
  SLIM_CHECK(!error, parent.string(), ": cannot create directory: ", error.message());
  static std::atomic<int> counter{0};
  temp_ = str(target_, ".tmp-", ::getpid(), "-", counter++);
  fs::remove_all(temp_, error);
  fs::create_directory(temp_, error);
  SLIM_CHECK(!error, temp_, ": cannot create directory: ", error.message());
}

AtomicOutputDir::~AtomicOutputDir() {
  if (committed_) return;
  std::error_code ignored;
  fs::remove_all(temp_, ignored);
}

void AtomicOutputDir::commit() {
  SLIM_CHECK(!committed_, target_, ": output committed twice");
  std::error_code error;
  if (fs::exists(target_)) {
    // Checked again: something may have appeared while we worked.
    if (!overwrite_ && !fs::is_empty(target_)) {
      committed_ = true;  // keep the finished work where the message says it is
      SLIM_FAIL(target_, ": output directory became non-empty while writing; result left in ",
                temp_);
    }
    // Move the old output aside before the new one takes its place, and delete it only then: a
    // crash in between leaves a complete old or new directory (checkpoints rely on this).
    const std::string old = temp_ + ".old";
    remove_tree(old);
    fs::rename(target_, old, error);
    SLIM_CHECK(!error, target_, ": cannot move the old output aside: ", error.message());
    fs::rename(temp_, target_, error);
    if (error) {
      std::error_code ignored;
      fs::rename(old, target_, ignored);
      SLIM_FAIL(target_, ": cannot move the finished output into place from ", temp_, ": ",
                error.message());
    }
    committed_ = true;
    remove_tree(old);  // best effort: the new output is in place
    return;
  }
  fs::rename(temp_, target_, error);
  SLIM_CHECK(!error, target_, ": cannot move the finished output into place from ", temp_, ": ",
             error.message());
  committed_ = true;
}

}  // namespace slim
