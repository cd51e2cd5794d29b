// `slim convert --format gguf`: Hugging Face directory -> GGUF file (slim/export/gguf_export.h).
// cmd_convert.cpp owns the `convert` subcommand and its shared flags (--model_path, --save_path,
// --outtype, --overwrite); these add the GGUF-only flags and run the export.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace slim::cli {

struct ConvertGgufFlags {
  std::string pre_tokenizer;  // --gguf_pre: tokenizer.ggml.pre to write instead of the recognised
  std::string name;           // --gguf_name: general.name (default: the model directory's name)
};

void add_convert_gguf_flags(CLI::App& command, ConvertGgufFlags& flags);
// `outtype` "" means auto. Prints a one-line summary on stdout; returns the exit code.
int convert_to_gguf(const std::string& model_path, const std::string& save_path,
                    const std::string& outtype, bool overwrite, const ConvertGgufFlags& flags);

}  // namespace slim::cli
