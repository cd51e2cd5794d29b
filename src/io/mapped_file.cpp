#include "slim/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "slim/core/error.h"

namespace slim::io {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  SLIM_CHECK(fd >= 0, path, ": cannot open: ", std::strerror(errno));
  struct stat status {};
  if (::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    const int saved = errno;
    ::close(fd);
    SLIM_FAIL(path, ": not a regular file", saved != 0 ? str(" (", std::strerror(saved), ")") : "");
  }
  std::shared_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<uint64_t>(status.st_size);
  if (file->size_ > 0) {
    void* address =
        ::mmap(nullptr, file->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, /*offset=*/0);
    const int saved = errno;
    ::close(fd);
    SLIM_CHECK(address != MAP_FAILED, path, ": cannot memory-map ", file->size_,
               " bytes: ", std::strerror(saved));
    file->data_ = static_cast<uint8_t*>(address);
  } else {
    ::close(fd);
  }
  return file;
}

void MappedFile::release(const uint8_t* pointer, uint64_t length) const {
  if (data_ == nullptr || length == 0) return;
  static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t begin = static_cast<uint64_t>(pointer - data_);
  const uint64_t end = std::min(begin + length, size_);
  const uint64_t first = (begin + page - 1) / page * page;  // inward: neighbours keep their pages
  const uint64_t last = end / page * page;
  if (last <= first) return;
  // Advice only: a failure leaves the pages resident, which is harmless.
  ::madvise(data_ + first, last - first, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace slim::io
