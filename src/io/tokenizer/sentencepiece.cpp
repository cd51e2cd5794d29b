// SentencePiece encoding (BPE and unigram) and decoding, following SentencePieceProcessor:
// normalize, segment with the model, then map unknown pieces to byte pieces (byte fallback) or
// merge runs of them into one unk.
#include "slim/io/tokenizer/sentencepiece.h"

#include <algorithm>
#include <array>
#include <cfloat>
#include <cstring>
#include <functional>
#include <queue>
#include <unordered_map>

#include "io/tokenizer/sentencepiece_internal.h"
#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/io/gguf.h"

namespace slim::io {

namespace {

// Pieces the segmentation may produce (SentencePiece's "normal" map); the others (unknown,
// control, byte) are reserved.
bool is_normal_group(PieceType type) {
  return type == PieceType::kNormal || type == PieceType::kUserDefined ||
         type == PieceType::kUnused;
}

}  // namespace

struct SentencePieceTokenizer::Impl {
  // (piece, id) as the segmentation produces them, before byte fallback.
  using Segments = std::vector<std::pair<std::string_view, TokenId>>;

  explicit Impl(SentencePieceModel m);

  TokenId piece_to_id(std::string_view piece) const;
  PieceType type(TokenId id) const { return model.pieces[id].type; }
  Segments encode_bpe(std::string_view normalized) const;
  Segments encode_unigram(std::string_view normalized) const;
  // Byte fallback / unk merging; appends ids and, when `pieces` is given, piece strings.
  void finish(const Segments& segments, std::vector<TokenId>* ids,
              std::vector<std::string>* pieces) const;
  void encode(std::string_view text, std::vector<TokenId>* ids,
              std::vector<std::string>* pieces) const;

  SentencePieceModel model;
  std::unordered_map<std::string_view, TokenId> normal;
  std::unordered_map<std::string_view, TokenId> reserved;
  spm::ByteTrie user_defined;
  bool has_user_defined = false;
  spm::ByteTrie vocabulary;  // normal-group pieces, for the unigram lattice
  float min_score = FLT_MAX;
  float max_score = FLT_MIN;  // SentencePiece's initial value: scores are negative in practice
  TokenId unk = 0;
  std::array<TokenId, 256> byte_ids{};
  std::vector<int16_t> byte_of;  // per id: the byte of a BYTE piece, else -1
  std::unique_ptr<spm::Normalizer> normalizer;
};

SentencePieceTokenizer::Impl::Impl(SentencePieceModel m) : model(std::move(m)) {
  const std::string& source = model.source;
  const auto count = static_cast<int64_t>(model.pieces.size());
  SLIM_CHECK(count > 0, source, ": the SentencePiece model has no pieces");
  SLIM_CHECK(count <= INT32_MAX, source, ": ", count, " pieces are too many");
  SLIM_CHECK(model.algorithm == SentencePieceAlgorithm::kBpe ||
                 model.algorithm == SentencePieceAlgorithm::kUnigram,
             source, ": unsupported SentencePiece model type ", static_cast<int>(model.algorithm),
             " (supported: UNIGRAM 1, BPE 2)");
  const auto check_id = [&](const std::optional<TokenId>& id, const char* name) {
    SLIM_CHECK(!id || (*id >= 0 && *id < count), source, ": ", name, " ", id.value_or(0),
               " is outside the vocabulary of ", count, " pieces");
  };
  SLIM_CHECK(model.unk_id.has_value(), source, ": the model has no unk id");
  check_id(model.unk_id, "unk id");
  check_id(model.bos_id, "bos id");
  check_id(model.eos_id, "eos id");
  check_id(model.pad_id, "pad id");
  unk = *model.unk_id;

  byte_ids.fill(-1);
  byte_of.assign(model.pieces.size(), -1);
  std::vector<std::pair<std::string_view, int32_t>> user_entries, vocab_entries;
  for (TokenId id = 0; id < static_cast<TokenId>(count); ++id) {
    const auto& piece = model.pieces[id];
    const int type = static_cast<int>(piece.type);
    SLIM_CHECK(type >= 1 && type <= 6, source, ": piece ", id, " has type ", type,
               ", not a piece type (1 NORMAL .. 6 BYTE)");
    SLIM_CHECK(!piece.piece.empty(), source, ": piece ", id, " is empty");
    auto& map = is_normal_group(piece.type) ? normal : reserved;
    const auto [it, inserted] = map.emplace(piece.piece, id);
    SLIM_CHECK(inserted, source, ": piece ", quote(piece.piece), " (id ", id,
               ") is already defined as id ", it->second);
    if (is_normal_group(piece.type)) vocab_entries.emplace_back(piece.piece, id);
    if (piece.type == PieceType::kUserDefined) user_entries.emplace_back(piece.piece, id);
    if (piece.type == PieceType::kNormal) {
      min_score = std::min(min_score, piece.score);
      max_score = std::max(max_score, piece.score);
    }
    if (piece.type == PieceType::kByte) {
      SLIM_CHECK(model.byte_fallback, source, ": byte piece ", quote(piece.piece), " (id ", id,
                 ") is present although byte_fallback is false");
      const int byte = spm::piece_byte(piece.piece);
      SLIM_CHECK(byte >= 0, source, ": piece ", id, " ", quote(piece.piece),
                 " has type BYTE but is not of the form <0xXX>");
      byte_ids[byte] = id;
      byte_of[id] = static_cast<int16_t>(byte);
    }
  }
  if (model.byte_fallback) {
    for (int byte = 0; byte < 256; ++byte) {
      SLIM_CHECK(byte_ids[byte] >= 0, source, ": byte_fallback is on but there is no byte piece ",
                 spm::byte_piece(static_cast<unsigned char>(byte)), " (all 256 are required)");
    }
  }
  has_user_defined = !user_entries.empty();
  user_defined = spm::ByteTrie(std::move(user_entries));
  if (model.algorithm == SentencePieceAlgorithm::kUnigram)
    vocabulary = spm::ByteTrie(std::move(vocab_entries));
  normalizer = std::make_unique<spm::Normalizer>(model, has_user_defined ? &user_defined : nullptr);
}

TokenId SentencePieceTokenizer::Impl::piece_to_id(std::string_view piece) const {
  if (const auto it = reserved.find(piece); it != reserved.end()) return it->second;
  if (const auto it = normal.find(piece); it != normal.end()) return it->second;
  return unk;
}

// SentencePiece's BPE: start from characters (user-defined pieces kept whole and frozen), merge
// the adjacent pair whose concatenation is the best-scoring piece (leftmost on ties) until no
// pair is a piece; UNUSED pieces are split back into the pieces they were merged from.
SentencePieceTokenizer::Impl::Segments SentencePieceTokenizer::Impl::encode_bpe(
    std::string_view normalized) const {
  struct Symbol {
    int prev;
    int next;
    bool freeze;
    std::string_view piece;
  };
  struct Pair {
    float score;
    int left;
    int right;
    size_t size;
  };
  struct Order {
    bool operator()(const Pair& a, const Pair& b) const {
      return a.score < b.score || (a.score == b.score && a.left > b.left);
    }
  };

  std::vector<Symbol> symbols;
  symbols.reserve(normalized.size());
  for (std::string_view rest = normalized; !rest.empty();) {
    size_t length = has_user_defined ? user_defined.longest_prefix(rest) : 0;
    const bool freeze = length > 0;
    if (!freeze)
      length = std::min(spm::one_char_length(static_cast<unsigned char>(rest[0])), rest.size());
    const int index = static_cast<int>(symbols.size());
    rest.remove_prefix(length);
    symbols.push_back({index - 1, rest.empty() ? -1 : index + 1, freeze,
                       std::string_view(rest.data() - length, length)});
  }
  if (symbols.empty()) return {};

  std::priority_queue<Pair, std::vector<Pair>, Order> agenda;
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> unmerge;
  const auto add_pair = [&](int left, int right) {
    if (left < 0 || right < 0 || symbols[left].freeze || symbols[right].freeze) return;
    const std::string_view piece(symbols[left].piece.data(),
                                 symbols[left].piece.size() + symbols[right].piece.size());
    const auto it = normal.find(piece);
    if (it == normal.end()) return;
    agenda.push({model.pieces[it->second].score, left, right, piece.size()});
    if (type(it->second) == PieceType::kUnused)
      unmerge[piece] = {symbols[left].piece, symbols[right].piece};
  };
  for (size_t i = 1; i < symbols.size(); ++i)
    add_pair(static_cast<int>(i - 1), static_cast<int>(i));

  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    // Stale: one side was merged away or grew since the pair was queued.
    if (left.piece.empty() || right.piece.empty() ||
        left.piece.size() + right.piece.size() != top.size)
      continue;
    left.piece = std::string_view(left.piece.data(), top.size);
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.piece = std::string_view();
    add_pair(left.prev, top.left);
    add_pair(top.left, left.next);
  }

  Segments out;
  std::function<void(std::string_view)> resegment = [&](std::string_view piece) {
    const TokenId id = piece_to_id(piece);
    if (type(id) == PieceType::kUnused) {
      if (const auto it = unmerge.find(piece); it != unmerge.end()) {
        resegment(it->second.first);
        resegment(it->second.second);
        return;
      }
    }
    out.emplace_back(piece, id);
  };
  for (int index = 0; index != -1; index = symbols[index].next)
    resegment(symbols[index].piece);
  return out;
}

// SentencePiece's unigram Viterbi (its optimized encoder): the best path ending at each byte
// position, extended by every piece starting there; a character no piece covers alone gets an
// unk node scored min_score - 10. User-defined pieces score length * max_score - 0.1. Scores are
// added in the same precision as the reference so ties break the same way.
SentencePieceTokenizer::Impl::Segments SentencePieceTokenizer::Impl::encode_unigram(
    std::string_view normalized) const {
  struct Best {
    TokenId id = -1;
    float score = 0.0f;
    int64_t starts_at = -1;
  };
  constexpr float kUnkPenalty = 10.0f;
  const float unk_score = min_score - kUnkPenalty;
  const size_t size = normalized.size();
  std::vector<Best> best(size + 1);
  for (size_t start = 0; start < size;) {
    const float score_here = best[start].score;
    const size_t char_length =
        std::min(spm::one_char_length(static_cast<unsigned char>(normalized[start])), size - start);
    bool has_single_char = false;
    vocabulary.for_each_prefix(normalized.substr(start), [&](size_t length, int32_t id) {
      const PieceType piece_type = type(id);
      if (piece_type == PieceType::kUnused) return;
      const double score = piece_type == PieceType::kUserDefined
                               ? static_cast<double>(static_cast<float>(length) * max_score) - 0.1
                               : static_cast<double>(model.pieces[id].score);
      const double candidate = score + static_cast<double>(score_here);
      Best& target = best[start + length];
      if (target.starts_at == -1 || candidate > static_cast<double>(target.score)) {
        target.score = static_cast<float>(candidate);
        target.starts_at = static_cast<int64_t>(start);
        target.id = id;
      }
      if (length == char_length) has_single_char = true;
    });
    if (!has_single_char) {
      Best& target = best[start + char_length];
      const float candidate = unk_score + score_here;
      if (target.starts_at == -1 || candidate > target.score) {
        target.score = candidate;
        target.starts_at = static_cast<int64_t>(start);
        target.id = unk;
      }
    }
    start += char_length;
  }
  Segments out;
  for (size_t end = size; end > 0;) {
    const Best& node = best[end];
    const auto begin = static_cast<size_t>(node.starts_at);
    out.emplace_back(normalized.substr(begin, end - begin), node.id);
    end = begin;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

void SentencePieceTokenizer::Impl::finish(const Segments& segments, std::vector<TokenId>* ids,
                                          std::vector<std::string>* pieces) const {
  bool previous_unk = false;
  for (const auto& [piece, id] : segments) {
    const bool is_unk = id == unk;
    if (is_unk && model.byte_fallback) {
      for (const char c : piece) {
        const auto byte = static_cast<unsigned char>(c);
        ids->push_back(byte_ids[byte]);
        if (pieces) pieces->push_back(model.pieces[byte_ids[byte]].piece);
      }
    } else if (is_unk && previous_unk) {
      // A run of unknown characters is one unk token.
      if (pieces) pieces->back().append(piece);
    } else {
      ids->push_back(id);
      if (pieces) pieces->emplace_back(piece);
    }
    previous_unk = is_unk;
  }
}

void SentencePieceTokenizer::Impl::encode(std::string_view text, std::vector<TokenId>* ids,
                                          std::vector<std::string>* pieces) const {
  const std::string normalized = normalizer->normalize(text);
  const Segments segments = model.algorithm == SentencePieceAlgorithm::kBpe
                                ? encode_bpe(normalized)
                                : encode_unigram(normalized);
  finish(segments, ids, pieces);
}

// ------------------------------------------------------------------------------ the tokenizer

SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceModel model, bool add_bos, bool add_eos)
    : impl_(std::make_unique<Impl>(std::move(model))), add_bos_(add_bos), add_eos_(add_eos) {
  bos_id_ = impl_->model.bos_id;
  eos_id_ = impl_->model.eos_id;
  pad_id_ = impl_->model.pad_id;
}

SentencePieceTokenizer::~SentencePieceTokenizer() = default;

std::vector<TokenId> SentencePieceTokenizer::encode(std::string_view text,
                                                    bool add_special_tokens) const {
  std::vector<TokenId> ids;
  if (add_special_tokens && add_bos_ && bos_id_) ids.push_back(*bos_id_);
  impl_->encode(text, &ids, nullptr);
  if (add_special_tokens && add_eos_ && eos_id_) ids.push_back(*eos_id_);
  return ids;
}

std::vector<std::string> SentencePieceTokenizer::encode_pieces(std::string_view text) const {
  std::vector<TokenId> ids;
  std::vector<std::string> pieces;
  impl_->encode(text, &ids, &pieces);
  return pieces;
}

std::string SentencePieceTokenizer::normalize(std::string_view text) const {
  return impl_->normalizer->normalize(text);
}

std::string SentencePieceTokenizer::decode(const std::vector<TokenId>& ids,
                                           bool skip_special_tokens) const {
  const Impl& m = *impl_;
  const auto& spec = m.model.normalizer;
  std::string text;
  std::string bytes;  // a run of byte pieces, turned into UTF-8 when it ends
  const auto flush_bytes = [&] {
    std::string_view rest = bytes;
    while (!rest.empty()) {
      size_t length = 1;
      if (spm::valid_utf8_prefix(rest, &length)) {
        text.append(rest.substr(0, length));
      } else {
        text.append(spm::kReplacementCharacter);
      }
      rest.remove_prefix(length);
    }
    bytes.clear();
  };

  bool expect_leading_space = true;  // the dummy prefix of the first piece is not text
  bool leading_space_seen = false;
  for (const TokenId id : ids) {
    SLIM_CHECK(id >= 0 && id < static_cast<TokenId>(m.model.pieces.size()), m.model.source,
               ": token id ", id, " is outside the vocabulary of ", m.model.pieces.size(),
               " pieces");
    if (skip_special_tokens && is_special(id)) continue;
    if (m.byte_of[id] >= 0) {
      bytes.push_back(static_cast<char>(m.byte_of[id]));
      continue;
    }
    flush_bytes();
    if (leading_space_seen || !text.empty()) expect_leading_space = false;
    leading_space_seen = false;
    const PieceType type = m.type(id);
    if (type == PieceType::kControl) continue;
    if (type == PieceType::kUnknown) {
      text.append(m.model.unk_surface);
      continue;
    }
    std::string_view piece = m.model.pieces[id].piece;
    if (expect_leading_space && (spec.add_dummy_prefix || spec.remove_extra_whitespaces) &&
        piece.substr(0, spm::kSpaceSymbol.size()) == spm::kSpaceSymbol) {
      piece.remove_prefix(spm::kSpaceSymbol.size());
      // Removing extra whitespace strips every leading space, not just the dummy prefix.
      leading_space_seen = !spec.remove_extra_whitespaces;
    }
    for (size_t pos = 0; pos < piece.size();) {
      if (piece.substr(pos, spm::kSpaceSymbol.size()) == spm::kSpaceSymbol) {
        text.push_back(' ');
        pos += spm::kSpaceSymbol.size();
      } else {
        text.push_back(piece[pos++]);
      }
    }
  }
  flush_bytes();
  return text;
}

int64_t SentencePieceTokenizer::vocab_size() const {
  return static_cast<int64_t>(impl_->model.pieces.size());
}

std::optional<TokenId> SentencePieceTokenizer::token_to_id(const std::string& token) const {
  if (const auto it = impl_->reserved.find(token); it != impl_->reserved.end()) return it->second;
  if (const auto it = impl_->normal.find(token); it != impl_->normal.end()) return it->second;
  return std::nullopt;
}

std::string SentencePieceTokenizer::id_to_token(TokenId id) const {
  if (id < 0 || id >= static_cast<TokenId>(impl_->model.pieces.size())) return "";
  return impl_->model.pieces[id].piece;
}

bool SentencePieceTokenizer::is_special(TokenId id) const {
  if (id < 0 || id >= static_cast<TokenId>(impl_->model.pieces.size())) return false;
  const PieceType type = impl_->type(id);
  return type == PieceType::kControl || type == PieceType::kUnknown;
}

const SentencePieceModel& SentencePieceTokenizer::model() const {
  return impl_->model;
}

// -------------------------------------------------------------------------------- factories

std::unique_ptr<Tokenizer> make_sentencepiece_tokenizer(SentencePieceModel model,
                                                        std::optional<bool> add_bos,
                                                        std::optional<bool> add_eos) {
  const bool bos = add_bos.value_or(model.add_bos.value_or(true));
  const bool eos = add_eos.value_or(model.add_eos.value_or(false));
  return std::make_unique<SentencePieceTokenizer>(std::move(model), bos, eos);
}

std::unique_ptr<Tokenizer> load_sentencepiece(const std::string& model_path,
                                              std::optional<bool> add_bos,
                                              std::optional<bool> add_eos) {
  const std::string bytes = read_file(model_path);
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), "GGUF", 4) == 0) {
    return make_sentencepiece_tokenizer(sentencepiece_model_from_gguf(*GgufFile::open(model_path)),
                                        add_bos, add_eos);
  }
  return make_sentencepiece_tokenizer(parse_sentencepiece_model(bytes, model_path), add_bos,
                                      add_eos);
}

}  // namespace slim::io
