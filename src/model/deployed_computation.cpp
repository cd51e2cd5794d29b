#include "slim/model/deployed_computation.h"

#include <ATen/ATen.h>

#include "slim/quant/deployed_forward.h"
#include "slim/quant/numerics.h"

namespace slim::model {

namespace {

bool weight_only(quant::DeployedTag tag) {
  using quant::DeployedTag;
  return tag == DeployedTag::Float || tag == DeployedTag::W16A16S || tag == DeployedTag::W8A16 ||
         tag == DeployedTag::W4A16;
}

// Runs the record as an engine would; the record owns the bias (added inside the kernel).
// Weight-only records keep their dequantized weight once computed, as an engine keeps its packed
// weight: a resident layer (generation) dequantizes once, not once per token. The arithmetic is
// deployed_linear_forward's own (same dequantization, product and bias order).
class DeployedComputation : public LinearHook {
 public:
  explicit DeployedComputation(quant::DeployedLinear record) : record_(std::move(record)) {
    record_.validate();
  }

  std::optional<at::Tensor> replace(const Linear&, const at::Tensor& input) override {
    const at::ScalarType dtype = input.scalar_type();
    if (!weight_only(record_.tag) || input.dim() < 1 || input.size(-1) != record_.in_features() ||
        !at::isFloatingType(dtype)) {
      return quant::deployed_linear_forward(record_, input);  // it reports bad input
    }
    const at::ScalarType work = dtype == at::kDouble ? at::kDouble : at::kFloat;
    if (!weight_.defined() || weight_dtype_ != dtype || weight_.device() != input.device()) {
      weight_ = quant::dequantize_weight(record_, dtype).to(input.device(), work);
      weight_dtype_ = dtype;
    }
    std::vector<int64_t> out_shape(input.sizes().begin(), input.sizes().end());
    out_shape.back() = record_.out_features();
    const at::Tensor x = input.reshape({-1, record_.in_features()});
    if (x.size(0) == 0) return at::zeros(out_shape, input.options());
    at::Tensor y = at::matmul(x.to(work), weight_.t());
    if (record_.bias) y = y.add(record_.bias->to(input.device(), work));
    return y.to(dtype).reshape(out_shape);
  }

 private:
  quant::DeployedLinear record_;
  at::Tensor weight_;
  at::ScalarType weight_dtype_ = at::kFloat;
};

}  // namespace

std::shared_ptr<LinearHook> deployed_computation(quant::DeployedLinear record, c10::Device) {
  // The kernel moves the record's CPU tensors to the input's device per call.
  return std::make_shared<DeployedComputation>(std::move(record));
}

}  // namespace slim::model
