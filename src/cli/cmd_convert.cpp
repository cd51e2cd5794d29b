// slim convert --model_path SRC --format FORMAT --save_path DST
//
//   --format hf    GGUF file -> Hugging Face directory (slim/io/gguf_import.h)
//   --format gguf  Hugging Face directory -> GGUF file (the HF -> GGUF export; see gguf_export.h)
//   --format ascendv1 | compressed-tensors --scheme S
//                  Hugging Face directory -> data-free quantized directory
//                  (slim/pipeline/data_free_convert.h)

#include <cstdio>

#include "cli/commands.h"
#include "cli/convert_gguf.h"
#include "cli/parse_dtype.h"
#include "cli/parse_size.h"
#include "slim/core/error.h"
#include "slim/io/gguf_import.h"
#include "slim/pipeline/data_free_convert.h"
#include "slim/quant/deployed_forms.h"

namespace slim::cli {

namespace {

struct ConvertCli {
  std::string model_path;
  std::string save_path;
  std::string format;
  std::string outtype;  // "" : the format's default
  std::string shard_size = "5GB";
  bool overwrite = false;
  bool vocab_only = false;
  ConvertGgufFlags gguf;  // --format gguf (cmd_convert_gguf.cpp)
  // --format ascendv1 | compressed-tensors
  std::string scheme;
  int64_t group_size = 0;
  bool asym = false;
  std::string numerics = "precise";
  std::vector<std::string> exclude;
  std::string part_file_size = "4GB";
};

// "w8a16, w4a16, ..." from the deployed-form table: the data-free schemes whose row satisfies
// `keep`.
std::string data_free_scheme_list(bool (*keep)(const quant::DeployedFormSpec&) = nullptr) {
  std::string out;
  for (const auto& name : pipeline::data_free_schemes()) {
    if (keep && !keep(*quant::find_form_by_cli_name(name))) continue;
    out += (out.empty() ? "" : ", ") + name;
  }
  return out;
}

bool has_group_form(const quant::DeployedFormSpec& spec) {
  return spec.weight.per_group != quant::Symmetry::None;
}

bool has_asym_form(const quant::DeployedFormSpec& spec) {
  const auto asym = [](quant::Symmetry s) {
    return s == quant::Symmetry::Asym || s == quant::Symmetry::Either;
  };
  return asym(spec.weight.symmetry) || asym(spec.weight.per_group);
}

int convert_quantized(const ConvertCli& options) {
  SLIM_CHECK(!options.scheme.empty(), "--format ", options.format, " needs --scheme (",
             data_free_scheme_list(), ")");
  pipeline::DataFreeConvertOptions convert;
  convert.model_path = options.model_path;
  convert.save_path = options.save_path;
  convert.format = options.format;
  convert.scheme = options.scheme;
  convert.group_size = options.group_size;
  convert.asym = options.asym;
  convert.numerics = quant::parse_numerics(options.numerics);
  convert.exclude = options.exclude;
  convert.overwrite = options.overwrite;
  convert.shard_bytes = parse_size(options.part_file_size, "--part_file_size");
  const auto summary = pipeline::data_free_convert(convert);
  std::string files;
  for (const auto& file : summary.files)
    files += (files.empty() ? "" : " ") + file;
  std::printf("%s: %lld linears as %s, %lld tensors unchanged, %.2f GB read: %s\n",
              options.save_path.c_str(), static_cast<long long>(summary.quantized_linears),
              summary.tag.c_str(), static_cast<long long>(summary.float_tensors),
              static_cast<double>(summary.input_bytes) / 1e9, files.c_str());
  return kExitOk;
}

c10::ScalarType parse_hf_outtype(const std::string& name) {
  if (name.empty()) return c10::kBFloat16;
  if (name == "f16") return c10::kHalf;
  if (name == "f32") return c10::kFloat;
  if (const auto dtype = parse_float_dtype(name)) return *dtype;
  SLIM_FAIL("--outtype: expected bf16, f16 or f32 for --format hf, found ", quote(name));
}

int convert_to_hf(const ConvertCli& options) {
  io::GgufImportOptions import;
  import.gguf_path = options.model_path;
  import.save_path = options.save_path;
  import.dtype = parse_hf_outtype(options.outtype);
  import.max_shard_bytes = parse_size(options.shard_size, "--shard_size");
  import.overwrite = options.overwrite;
  import.vocab_only = options.vocab_only;
  const auto summary = io::import_gguf(import);
  std::string files;
  for (const auto& file : summary.files)
    files += (files.empty() ? "" : " ") + file;
  std::printf("%s: %s\n", options.save_path.c_str(), files.c_str());
  return kExitOk;
}

}  // namespace

CommandRunner add_convert_command(CLI::App& app) {
  auto options = std::make_shared<ConvertCli>();
  CLI::App* command = app.add_subcommand(
      "convert",
      "Convert between checkpoint formats (Hugging Face -> GGUF with --format gguf, GGUF -> "
      "Hugging Face with --format hf)");
  command
      ->add_option("--model_path,--model-path", options->model_path,
                   "input: a Hugging Face directory (--format gguf) or a .gguf file (--format hf)")
      ->required();
  command
      ->add_option("--save_path,--save-path", options->save_path,
                   "output: a .gguf file (--format gguf) or a directory (--format hf)")
      ->required();
  command
      ->add_option("--format", options->format,
                   "output format: gguf, hf, ascendv1 (msModelSlim) or compressed-tensors (vLLM)")
      ->required();
  command->add_option("--scheme", options->scheme,
                      "ascendv1/compressed-tensors: " + data_free_scheme_list() +
                          " (data-free min/max quantization of every decoder-layer linear; "
                          "docs/quantization.md lists the forms)");
  command->add_option("--group_size,--group-size", options->group_size,
                      "weights per group along the input (" +
                          data_free_scheme_list(has_group_form) +
                          "; default: per channel, 128 for w4a16)");
  command->add_flag("--asym", options->asym,
                    "asymmetric integer weights (" + data_free_scheme_list(has_asym_form) +
                        "; w8a8_dynamic: per group only)");
  command
      ->add_option("--numerics", options->numerics,
                   "ascendv1/compressed-tensors: rounding convention of the integer and fp8 "
                   "codes: precise (fp32, scale amax/7.5 int4, amax/127.5 int8) or msmodelslim "
                   "(msModelSlim's arithmetic bit for bit: weight-dtype rounding, amax/7, "
                   "amax/127); docs/quantization.md \"Rounding conventions\"")
      ->check(CLI::IsMember({"precise", "msmodelslim"}))
      ->capture_default_str();
  command
      ->add_option("--exclude", options->exclude,
                   "module patterns to leave in float (e.g. '*down_proj' "
                   "'*layers.{0,1}.*'); repeatable")
      ->take_all();
  command
      ->add_option("--part_file_size,--part-file-size", options->part_file_size,
                   "ascendv1/compressed-tensors: largest weights shard (0: one file)")
      ->capture_default_str();
  command->add_option("--outtype", options->outtype,
                      "gguf: auto (default), f32, f16 or bf16; hf: bf16 (default), f16 or f32");
  command
      ->add_option("--shard_size,--shard-size", options->shard_size,
                   "hf: largest safetensors shard, e.g. 5GB (0: a single file)")
      ->capture_default_str();
  command->add_flag("--vocab_only,--vocab-only", options->vocab_only,
                    "hf: write only the tokenizer files");
  command->add_flag("--overwrite", options->overwrite, "replace an existing --save_path");
  add_convert_gguf_flags(*command, options->gguf);
  return [options] {
    if (options->format == "hf") return convert_to_hf(*options);
    if (options->format == "gguf")
      return convert_to_gguf(options->model_path, options->save_path, options->outtype,
                             options->overwrite, options->gguf);
    if (options->format == "ascendv1" || options->format == "compressed-tensors")
      return convert_quantized(*options);
    SLIM_FAIL("--format: expected gguf, hf, ascendv1 or compressed-tensors, found ",
              quote(options->format));
  };
}

}  // namespace slim::cli
