#include "cli/runtime_options.h"

#include <ATen/Context.h>

#include "cli/parse_dtype.h"
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
  const auto compute_dtype = parse_float_dtype(dtype);
  SLIM_CHECK(compute_dtype.has_value(), "--dtype: expected fp32, bf16 or fp16, found ",
             quote(dtype));
  options.compute_dtype = *compute_dtype;
  return options;
}

}  // namespace slim::cli
