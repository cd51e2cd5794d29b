#include "slim/core/threads.h"

#include <ATen/Parallel.h>

#include <cstdlib>
#include <thread>

namespace slim {

int configure_threads(int requested) {
  int count = requested;
  if (count <= 0) {
    const char* env = std::getenv("OMP_NUM_THREADS");
    count = env != nullptr ? std::atoi(env) : 0;
  }
  if (count <= 0) count = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(count);
  return at::get_num_threads();
}

}  // namespace slim
