// Hugging Face tokenizer files rebuilt from a GGUF vocabulary (tokenizer.ggml.*), the reverse of
// what llama.cpp's convert_hf_to_gguf.py stores. `tokenizer.ggml.model` "gpt2" becomes a
// byte-level BPE tokenizer.json whose pre-tokenizer follows `tokenizer.ggml.pre` (llama-bpe, qwen2,
// gpt-2 or starcoder families); "llama" becomes a SentencePiece tokenizer.model. Both come with
// tokenizer_config.json (special tokens, add_bos_token / add_eos_token, chat template).
//
// Used by import_gguf (slim/io/gguf_import.h). Writing a GGUF vocabulary for export is
// slim/export/gguf_export.h's (build_gguf_vocab, write_gguf_vocab).
#pragma once

#include <string>
#include <vector>

namespace slim::io {

class GgufFile;

// Writes the tokenizer files rebuilt from the GGUF vocabulary into `directory` (which must
// exist); returns the names written. Throws for vocabularies it cannot rebuild.
std::vector<std::string> write_hf_tokenizer(const GgufFile& gguf, const std::string& directory);

// The pre-tokenizer families write_hf_tokenizer knows for "gpt2" vocabularies, for messages.
std::string supported_bpe_pre_tokenizers_text();

}  // namespace slim::io
