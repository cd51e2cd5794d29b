// Read-only view of a whole file through mmap. Mapped copy-on-write (MAP_PRIVATE), so a tensor
// view that someone modifies in place changes private pages, never the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace slim::io {

class MappedFile {
 public:
  // Throws slim::Error naming the file when it cannot be opened or mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  uint8_t* data() const { return data_; }
  // Drops this process's pages of [pointer, pointer + length) (whole pages inside the range only):
  // streaming readers call it once a tensor is consumed, so resident memory stays near one tensor
  // while the page cache keeps the data. A view of those bytes read afterwards sees the file's
  // contents again (in-place changes to it are lost): release only what nobody still uses.
  void release(const uint8_t* pointer, uint64_t length) const;

 private:
  MappedFile() = default;
  std::string path_;
  uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

}  // namespace slim::io
