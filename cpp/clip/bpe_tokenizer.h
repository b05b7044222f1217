// CLIP's byte-level BPE tokenizer (clip/simple_tokenizer.py), exactly: clean the text, split it
// with CLIP's regex, map each piece's UTF-8 bytes to printable characters, apply the BPE merges
// of bpe_simple_vocab_16e6.txt.gz (with the "</w>" end-of-word suffix), and frame the ids with
// <|startoftext|> ... <|endoftext|>, padded or truncated to the context length.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace psic {

class BpeTokenizer {
 public:
  // Reads the gzipped merges file. Throws WeightsError if it is missing or malformed.
  explicit BpeTokenizer(const std::string& vocab_gz_path);

  // Ids of one text, without the start/end tokens.
  std::vector<int32_t> encode(const std::string& utf8) const;
  // clip.tokenize(texts, context_length, truncate): [texts.size() x context_length], 0-padded;
  // truncation keeps <|endoftext|> as the last token. Without truncate, too long is an InputError.
  std::vector<std::vector<int32_t>> tokenize(const std::vector<std::string>& texts, int64_t context_length = 77,
                                             bool truncate = true) const;
  // The regex pieces of an already cleaned text (for debugging and tests).
  std::vector<std::string> pretokenize(const std::string& cleaned) const;

  int32_t sot() const { return sot_; }
  int32_t eot() const { return eot_; }
  size_t vocab_size() const { return encoder_.size(); }

 private:
  std::vector<std::string> bpe(const std::string& token) const;

  std::unordered_map<std::string, int32_t> encoder_;
  std::unordered_map<std::string, int32_t> merge_ranks_;  // "a b" -> rank
  std::vector<std::string> byte_encoder_;                 // byte -> UTF-8 of its printable stand-in
  int32_t sot_ = 0, eot_ = 0;
};

}  // namespace psic
