#include "slim/export/quantized_saver.h"

#include "slim/core/error.h"
#include "slim/export/ascendv1.h"
#include "slim/export/compressed_tensors.h"

namespace slim::exporter {

const std::vector<std::string>& quantized_formats() {
  static const std::vector<std::string> formats = {"ascendv1", "compressed-tensors"};
  return formats;
}

std::unique_ptr<QuantizedModelSaver> make_quantized_saver(const std::string& format,
                                                          const QuantizedSaveOptions& options) {
  if (format == "ascendv1") {
    AscendV1SaveOptions save;
    save.save_path = options.save_path;
    save.overwrite = options.overwrite;
    save.part_file_bytes = options.shard_bytes;
    save.model_path = options.model_path;
    save.extra_files = options.extra_files;
    return std::make_unique<AscendV1Saver>(save);
  }
  if (format == "compressed-tensors") {
    CompressedTensorsSaveOptions save;
    save.save_path = options.save_path;
    save.overwrite = options.overwrite;
    save.max_shard_bytes = options.shard_bytes;
    save.model_path = options.model_path;
    save.extra_files = options.extra_files;
    return std::make_unique<CompressedTensorsSaver>(save);
  }
  std::string known;
  for (const auto& name : quantized_formats())
    known += (known.empty() ? "" : ", ") + name;
  SLIM_FAIL("quantized output format ", quote(format), " is not known (", known, ")");
}

}  // namespace slim::exporter
