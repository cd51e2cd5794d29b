#include "cli/runtime_options.h"

#include <ATen/Context.h>

#include "slim/core/error.h"

namespace slim::cli {

void RuntimeFlags::add_to(CLI::App& command) {
  command.add_option("--device", device, "cpu, cuda or cuda:N")->capture_default_str();
  command.add_option("--dtype", dtype, "compute dtype: fp32, bf16 or fp16")->capture_default_str();
}

model::RuntimeOptions RuntimeFlags::resolve() const {
  model::RuntimeOptions options;
  try {
    options.device = c10::Device(device);
  } catch (const std::exception&) {
    SLIM_FAIL("--device: ", quote(device), " is not a device (expected cpu, cuda or cuda:N)");
  }
  SLIM_CHECK(!options.device.is_cuda() || at::hasCUDA(), "--device ", device,
             ": this build of libtorch has no CUDA support or no GPU is visible");
  if (dtype == "fp32" || dtype == "float32") {
    options.compute_dtype = at::kFloat;
  } else if (dtype == "bf16" || dtype == "bfloat16") {
    options.compute_dtype = at::kBFloat16;
  } else if (dtype == "fp16" || dtype == "float16") {
    options.compute_dtype = at::kHalf;
  } else {
    SLIM_FAIL("--dtype: expected fp32, bf16 or fp16, found ", quote(dtype));
  }
  return options;
}

}  // namespace slim::cli
