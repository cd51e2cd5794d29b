#include "slim/core/heap.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

namespace slim {

void use_streaming_heap() {
#ifdef __GLIBC__
  ::mallopt(M_MMAP_THRESHOLD, 1 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 128 << 10);  // glibc's default
#endif
}

void use_calibration_heap() {
#ifdef __GLIBC__
  ::mallopt(M_MMAP_THRESHOLD, 32 << 20);
  ::mallopt(M_TRIM_THRESHOLD, 64 << 20);
#endif
}

void release_free_memory() {
#ifdef __GLIBC__
  ::malloc_trim(0);
#endif
}

}  // namespace slim
