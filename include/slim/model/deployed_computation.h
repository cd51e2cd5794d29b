// The stored computation of a linear that a quantized checkpoint holds as a deployed record: it
// runs as an inference engine runs it (weights from the stored codes and scales, activations
// quantized as the tag says; slim/quant/deployed_forward.h).
#pragma once

#include <c10/core/Device.h>

#include <memory>

#include "slim/model/linear.h"
#include "slim/quant/scheme.h"

namespace slim::model {

std::shared_ptr<LinearHook> deployed_computation(quant::DeployedLinear record, c10::Device device);

}  // namespace slim::model
