// The processor factories of src/algo/ (one file each), listed by registry.cpp. Internal to the
// library: users go through slim/algo/processor.h.
#pragma once

#include <memory>

#include "slim/algo/processor.h"

namespace slim::algo {

std::unique_ptr<Processor> make_linear_quant(const pipeline::ProcessorConfig& config);
std::unique_ptr<Processor> make_group(const pipeline::ProcessorConfig& config);
std::unique_ptr<Processor> make_smooth_quant(const pipeline::ProcessorConfig& config);
std::unique_ptr<Processor> make_iter_smooth(const pipeline::ProcessorConfig& config);
std::unique_ptr<Processor> make_flex_smooth_quant(const pipeline::ProcessorConfig& config);
std::unique_ptr<Processor> make_awq(const pipeline::ProcessorConfig& config);
std::unique_ptr<Processor> make_kv_smooth(const pipeline::ProcessorConfig& config);
std::unique_ptr<Processor> make_flex_awq_ssz(const pipeline::ProcessorConfig& config);
std::unique_ptr<Processor> make_quarot(const pipeline::ProcessorConfig& config);

}  // namespace slim::algo
