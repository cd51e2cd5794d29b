#include "slim/core/text.h"

#include <ATen/core/Tensor.h>

namespace slim {

bool starts_with(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

std::string shape_text(const int64_t* dims, size_t count) {
  std::string text = "[";
  for (size_t i = 0; i < count; ++i)
    text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + "]";
}

std::string shape_text(const at::Tensor& tensor) {
  if (!tensor.defined()) return "undefined";
  return shape_text(tensor.sizes());
}

}  // namespace slim
