// The stored computation of a linear that a quantized checkpoint holds as a deployed record: it
// runs as an inference engine runs it (weights from the stored codes and scales, activations
// quantized as the tag says; slim/quant/deployed_forward.h).
#pragma once

#include <c10/core/Device.h>

#include <memory>

#include "slim/model/linear.h"
#include "slim/quant/scheme.h"

namespace slim::model {

// How the product of a form with quantized activations is computed: Exact (fp64, what
// evaluation of a saved output runs) or Fp32 (the calibration forward that makes the next
// layer's inputs; slim/quant/deployed_forward.h says how far apart they are).
enum class DeployedProduct { Exact, Fp32 };

std::shared_ptr<LinearHook> deployed_computation(quant::DeployedLinear record, c10::Device device,
                                                 DeployedProduct product = DeployedProduct::Exact);

}  // namespace slim::model
