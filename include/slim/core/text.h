// Small text helpers for names and messages, one home each: affix tests and the shape printer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace at {
class Tensor;
}  // namespace at

namespace slim {

bool starts_with(std::string_view text, std::string_view prefix);
bool ends_with(std::string_view text, std::string_view suffix);

// "[128, 64]" ("[]" for no dims): the one shape printer for messages.
std::string shape_text(const int64_t* dims, size_t count);
// Any contiguous sequence of int64 dims with data() and size(): a std::vector<int64_t>,
// tensor.sizes(), a GGUF tensor's dims (ggml order, printed as stored).
template <typename Dims>
std::string shape_text(const Dims& dims) {
  return shape_text(dims.data(), dims.size());
}
inline std::string shape_text(std::initializer_list<int64_t> dims) {
  return shape_text(dims.begin(), dims.size());
}
// A tensor's sizes; "undefined" for an undefined tensor.
std::string shape_text(const at::Tensor& tensor);

}  // namespace slim
