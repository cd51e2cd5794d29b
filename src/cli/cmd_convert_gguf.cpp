// slim convert --model_path DIR --format gguf --save_path FILE.gguf [--outtype auto|f32|f16|bf16]
//              [--gguf_pre NAME] [--gguf_name NAME] [--overwrite]
#include <cstdio>

#include "cli/commands.h"
#include "cli/convert_gguf.h"
#include "slim/export/gguf_export.h"

namespace slim::cli {

void add_convert_gguf_flags(CLI::App& command, ConvertGgufFlags& flags) {
  command.add_option("--gguf_pre,--gguf-pre", flags.pre_tokenizer,
                     "gguf: tokenizer.ggml.pre to write instead of the recognised one");
  command.add_option("--gguf_name,--gguf-name", flags.name,
                     "gguf: general.name (default: the model directory's name)");
}

int convert_to_gguf(const std::string& model_path, const std::string& save_path,
                    const std::string& outtype, bool overwrite, const ConvertGgufFlags& flags) {
  exporter::GgufExportOptions options;
  options.model_path = model_path;
  options.save_path = save_path;
  options.outtype = outtype.empty() ? "auto" : outtype;
  if (!flags.pre_tokenizer.empty()) options.pre_tokenizer = flags.pre_tokenizer;
  options.name = flags.name;
  options.overwrite = overwrite;
  const auto result = exporter::export_gguf(options);
  std::printf("%s: GGUF %s, %s, %zu tensors, tokenizer %s%s, %llu bytes\n", result.path.c_str(),
              result.architecture.c_str(), result.outtype.c_str(), result.tensors,
              result.tokenizer_model.c_str(),
              result.pre_tokenizer.empty() ? "" : (" (pre " + result.pre_tokenizer + ")").c_str(),
              static_cast<unsigned long long>(result.bytes));
  return kExitOk;
}

}  // namespace slim::cli
