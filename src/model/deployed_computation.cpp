#include "slim/model/deployed_computation.h"

#include "slim/core/error.h"

namespace slim::model {

std::shared_ptr<LinearHook> deployed_computation(quant::DeployedLinear record, c10::Device) {
  // Replaced by the engine kernel when it lands (issue 11 item 4); no source offers records yet.
  SLIM_FAIL(record.name, ": running quantized linears is not available in this build");
}

}  // namespace slim::model
