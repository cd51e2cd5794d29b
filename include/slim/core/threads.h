// Intra-op thread count for ATen (and OpenMP loops in Slim).
#pragma once

namespace slim {

// `requested` > 0 wins; otherwise OMP_NUM_THREADS when set; otherwise every core. Returns the
// count in force.
int configure_threads(int requested = 0);

}  // namespace slim
