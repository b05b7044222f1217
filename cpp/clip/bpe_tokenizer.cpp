#include "clip/bpe_tokenizer.h"

#include <unicode/regex.h>
#include <unicode/unistr.h>
#include <zlib.h>

#include <climits>
#include <set>

#include "clip/text_clean.h"
#include "errors.h"

namespace psic {

namespace {

constexpr size_t kMergeCount = 49152 - 256 - 2;  // the merges CLIP uses (lines 1..48894)

std::string read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw WeightsError("cannot open the CLIP BPE vocabulary '" + path + "'");
  std::string out;
  char buf[1 << 16];
  int n;
  while ((n = gzread(f, buf, sizeof buf)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > (64u << 20)) break;
  }
  const bool failed = n < 0;
  gzclose(f);
  if (failed) throw WeightsError("the CLIP BPE vocabulary '" + path + "' is not a valid gzip file");
  return out;
}

std::string utf8_of(UChar32 c) {
  std::string s;
  icu::UnicodeString u;
  u.append(c);
  u.toUTF8String(s);
  return s;
}

// bytes_to_unicode(): printable bytes map to themselves, the rest to 256 + n.
std::vector<std::string> make_byte_encoder() {
  std::vector<int> bs;
  for (int b = '!'; b <= '~'; ++b) bs.push_back(b);
  for (int b = 0xA1; b <= 0xAC; ++b) bs.push_back(b);
  for (int b = 0xAE; b <= 0xFF; ++b) bs.push_back(b);
  std::vector<std::string> enc(256);
  std::set<int> printable(bs.begin(), bs.end());
  for (int b : bs) enc[b] = utf8_of(b);
  int n = 0;
  for (int b = 0; b < 256; ++b)
    if (!printable.count(b)) enc[b] = utf8_of(256 + n++);
  return enc;
}

// The code points of a UTF-8 string, each as its own UTF-8 string.
std::vector<std::string> split_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<uint8_t>(s[i]);
    const size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : 4;
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

const char* kPattern =
    R"(<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+)";

}  // namespace

BpeTokenizer::BpeTokenizer(const std::string& path) : byte_encoder_(make_byte_encoder()) {
  const std::string text = read_gzip(path);
  std::vector<std::string> lines;
  for (size_t start = 0; start <= text.size();) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (lines.size() < kMergeCount + 1) throw WeightsError("the CLIP BPE vocabulary '" + path + "' is truncated");
  // Vocabulary: the 256 byte characters, the same with </w>, the merges, the two special tokens.
  std::vector<std::string> vocab = byte_encoder_;
  std::vector<int> order;  // byte_encoder values in bytes_to_unicode's order: bs first, then the rest
  {
    std::vector<std::string> ordered;
    std::set<int> printable;
    for (int b = '!'; b <= '~'; ++b) printable.insert(b);
    for (int b = 0xA1; b <= 0xAC; ++b) printable.insert(b);
    for (int b = 0xAE; b <= 0xFF; ++b) printable.insert(b);
    for (int b : printable) ordered.push_back(byte_encoder_[b]);
    for (int b = 0; b < 256; ++b)
      if (!printable.count(b)) ordered.push_back(byte_encoder_[b]);
    vocab = ordered;
  }
  const size_t base = vocab.size();
  for (size_t i = 0; i < base; ++i) vocab.push_back(vocab[i] + "</w>");
  for (size_t i = 1; i <= kMergeCount; ++i) {
    const std::string& m = lines[i];
    const size_t sp = m.find(' ');
    if (sp == std::string::npos) throw WeightsError("the CLIP BPE vocabulary has a malformed merge on line " + std::to_string(i + 1));
    merge_ranks_[m] = static_cast<int32_t>(i - 1);
    vocab.push_back(m.substr(0, sp) + m.substr(sp + 1));
  }
  vocab.push_back("<|startoftext|>");
  vocab.push_back("<|endoftext|>");
  for (size_t i = 0; i < vocab.size(); ++i) encoder_.emplace(vocab[i], static_cast<int32_t>(i));
  sot_ = encoder_.at("<|startoftext|>");
  eot_ = encoder_.at("<|endoftext|>");
}

std::vector<std::string> BpeTokenizer::bpe(const std::string& token) const {
  if (token == "<|startoftext|>" || token == "<|endoftext|>") return {token};
  std::vector<std::string> word = split_chars(token);
  word.back() += "</w>";
  while (word.size() > 1) {
    // The adjacent pair with the lowest merge rank.
    int32_t best = INT32_MAX;
    std::string best_first, best_second;
    for (size_t i = 0; i + 1 < word.size(); ++i) {
      auto it = merge_ranks_.find(word[i] + " " + word[i + 1]);
      if (it != merge_ranks_.end() && it->second < best) {
        best = it->second;
        best_first = word[i];
        best_second = word[i + 1];
      }
    }
    if (best == INT32_MAX) break;
    // Merge every occurrence of that pair, left to right.
    std::vector<std::string> merged;
    for (size_t i = 0; i < word.size();) {
      if (i + 1 < word.size() && word[i] == best_first && word[i + 1] == best_second) {
        merged.push_back(best_first + best_second);
        i += 2;
      } else {
        merged.push_back(word[i++]);
      }
    }
    word.swap(merged);
  }
  return word;
}

std::vector<std::string> BpeTokenizer::pretokenize(const std::string& cleaned) const {
  UErrorCode err = U_ZERO_ERROR;
  static thread_local std::unique_ptr<icu::RegexPattern> pattern(
      icu::RegexPattern::compile(icu::UnicodeString::fromUTF8(kPattern), UREGEX_CASE_INSENSITIVE, err));
  if (!pattern) throw Error("CLIP tokenizer: cannot compile its regex");
  const icu::UnicodeString input = icu::UnicodeString::fromUTF8(cleaned);
  std::unique_ptr<icu::RegexMatcher> m(pattern->matcher(input, err));
  std::vector<std::string> pieces;
  while (U_SUCCESS(err) && m->find(err)) {
    std::string piece;
    m->group(err).toUTF8String(piece);
    pieces.push_back(piece);
  }
  if (U_FAILURE(err)) throw Error("CLIP tokenizer: regex failed");
  return pieces;
}

std::vector<int32_t> BpeTokenizer::encode(const std::string& utf8) const {
  std::vector<int32_t> ids;
  for (const std::string& piece : pretokenize(clip_clean_text(utf8))) {
    std::string mapped;
    if (piece == "<|startoftext|>" || piece == "<|endoftext|>") {
      mapped = piece;
    } else {
      for (unsigned char b : piece) mapped += byte_encoder_[b];
    }
    for (const std::string& t : bpe(mapped)) {
      auto it = encoder_.find(t);
      if (it == encoder_.end()) throw Error("CLIP tokenizer: '" + t + "' is not in the vocabulary");
      ids.push_back(it->second);
    }
  }
  return ids;
}

std::vector<std::vector<int32_t>> BpeTokenizer::tokenize(const std::vector<std::string>& texts, int64_t context_length,
                                                         bool truncate) const {
  if (context_length < 2) throw InputError("context length must be at least 2");
  std::vector<std::vector<int32_t>> out;
  for (const std::string& text : texts) {
    std::vector<int32_t> ids = {sot_};
    const auto body = encode(text);
    ids.insert(ids.end(), body.begin(), body.end());
    ids.push_back(eot_);
    if (static_cast<int64_t>(ids.size()) > context_length) {
      if (!truncate)
        throw InputError("text is " + std::to_string(ids.size()) + " tokens, over the context length of " +
                         std::to_string(context_length));
      ids.resize(static_cast<size_t>(context_length));
      ids.back() = eot_;
    }
    ids.resize(static_cast<size_t>(context_length), 0);
    out.push_back(std::move(ids));
  }
  return out;
}

}  // namespace psic
