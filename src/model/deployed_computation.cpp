#include "slim/model/deployed_computation.h"

#include "slim/quant/deployed_forward.h"

namespace slim::model {

namespace {

// Runs the record as an engine would; the record owns the bias (added inside the kernel).
class DeployedComputation : public LinearHook {
 public:
  explicit DeployedComputation(quant::DeployedLinear record) : record_(std::move(record)) {}

  std::optional<at::Tensor> replace(const Linear&, const at::Tensor& input) override {
    return quant::deployed_linear_forward(record_, input);
  }

 private:
  quant::DeployedLinear record_;
};

}  // namespace

std::shared_ptr<LinearHook> deployed_computation(quant::DeployedLinear record, c10::Device) {
  // The kernel moves the record's CPU tensors to the input's device per call.
  return std::make_shared<DeployedComputation>(std::move(record));
}

}  // namespace slim::model
