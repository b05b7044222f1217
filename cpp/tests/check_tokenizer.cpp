// CLIP's tokenizer against the 162 cases made with OpenAI's simple_tokenizer and ftfy 6.3.1.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "check.h"
#include "clip/bpe_tokenizer.h"
#include "clip/text_clean.h"
#include "errors.h"

namespace fs = std::filesystem;

PSIC_CHECK_CASE("clip tokenizer: every fixture case matches id for id") {
  PSIC_NEEDS_SHARED();
  const fs::path shared = psic_test::shared_dir();
  const psic::BpeTokenizer tok((shared / "assets" / "clip" / "bpe_simple_vocab_16e6.txt.gz").string());
  EXPECT(tok.sot() == 49406 && tok.eot() == 49407 && tok.vocab_size() == 49408);
  std::ifstream f(shared / "fixtures" / "clip-tiny" / "tokenizer-cases.json");
  const auto j = nlohmann::json::parse(f);
  int matched = 0, total = 0;
  for (const auto& c : j["cases"]) {
    ++total;
    const std::string text = c["text"].get<std::string>();
    const auto ids = tok.tokenize({text}, 77, true)[0];
    const auto expected = c["ids"].get<std::vector<int32_t>>();
    if (ids == expected) {
      ++matched;
      continue;
    }
    EXPECT_MSG(false, c["class"].get<std::string>() + " case " + c["utf8_hex"].get<std::string>() + ": cleaned '" +
                          psic::clip_clean_text(text) + "', expected '" + c["cleaned"].get<std::string>() + "'");
  }
  EXPECT_MSG(matched == total && total == 162, std::to_string(matched) + " of " + std::to_string(total) + " cases match");
  EXPECT_THROWS_AS(tok.tokenize({std::string(300, 'a') + " b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p q r s t u v w x y z a b c d e f g h i j k l m n o p q r s t u v w x y z"}, 77, false), psic::InputError);
  EXPECT_THROWS_AS(psic::BpeTokenizer("/nonexistent/bpe.txt.gz"), psic::WeightsError);
}
