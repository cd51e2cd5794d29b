#include "slim/model/deployed_computation.h"

#include <ATen/ATen.h>

#include "slim/quant/deployed_forward.h"

namespace slim::model {

namespace {

// Runs the record as an engine would (the record owns the bias). Records keep their dequantized
// weight operand once computed, as an engine keeps its packed weight: a resident layer
// (generation) dequantizes once, not once per token.
class DeployedComputation : public LinearHook {
 public:
  DeployedComputation(quant::DeployedLinear record, DeployedProduct product)
      : record_(std::move(record)),
        product_dtype_(product == DeployedProduct::Exact ? at::kDouble : at::kFloat) {
    record_.validate();
  }

  std::optional<at::Tensor> replace(const Linear&, const at::Tensor& input) override {
    if (!input.defined() || !at::isFloatingType(input.scalar_type())) {
      return quant::deployed_linear_forward(record_, input);  // it reports bad input
    }
    if (!quant::is_weight_only(record_.tag)) {
      if (!operand_.defined() || operand_.device() != input.device()) {
        operand_ = quant::quantized_operand(record_, input.device(), product_dtype_);
      }
      return quant::quantized_forward(record_, operand_, input);
    }
    if (!operand_.defined() || operand_dtype_ != input.scalar_type() ||
        operand_.device() != input.device()) {
      operand_ = quant::weight_only_operand(record_, input.scalar_type(), input.device());
      operand_dtype_ = input.scalar_type();
    }
    return quant::weight_only_forward(record_, operand_, input);
  }

 private:
  quant::DeployedLinear record_;
  at::ScalarType product_dtype_;
  at::Tensor operand_;
  at::ScalarType operand_dtype_ = at::kFloat;
};

}  // namespace

std::shared_ptr<LinearHook> deployed_computation(quant::DeployedLinear record, c10::Device,
                                                 DeployedProduct product) {
  // The kernel moves the record's CPU tensors to the input's device.
  return std::make_shared<DeployedComputation>(std::move(record), product);
}

}  // namespace slim::model
