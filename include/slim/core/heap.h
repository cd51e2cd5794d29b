// How the process's heap (glibc malloc) trades memory for speed. Two settings, chosen per phase:
//
// - streaming (every command's default, set in main): blocks over 1 MiB are mmapped and given
//   back when freed. Commands that stream a model (convert, eval) allocate and free tensors of
//   every size once or a few times each; with glibc's dynamic threshold (which rises to 32 MiB
//   after large frees) such blocks stayed in a heap that was never returned: peak RSS reached
//   1.8 GB converting a 2.2 GB model and 1.0 GB evaluating it (docs/benchmarks.md).
// - calibration (slim quant's calibration forward): blocks up to 32 MiB come from the heap and
//   are reused, with a 64 MiB trim threshold. The forward of every sample allocates the same
//   activation-sized buffers again; as fresh mmaps they cost half the calibration time in page
//   faults. The runner trims the heap after every layer (release_free_memory).
#pragma once

namespace slim {

void use_streaming_heap();
void use_calibration_heap();
// Returns the free pages inside the heap to the system (a no-op without glibc).
void release_free_memory();

// use_calibration_heap() for a scope, then the streaming setting again.
class CalibrationHeapScope {
 public:
  CalibrationHeapScope() { use_calibration_heap(); }
  ~CalibrationHeapScope() {
    use_streaming_heap();
    release_free_memory();
  }
  CalibrationHeapScope(const CalibrationHeapScope&) = delete;
  CalibrationHeapScope& operator=(const CalibrationHeapScope&) = delete;
};

}  // namespace slim
