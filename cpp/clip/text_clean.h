// CLIP's text cleaning: ftfy.fix_text (the subset of ftfy 6.3.1 that matters for captions:
// HTML entities, mojibake of UTF-8 read as Windows-1252, Latin ligatures, fullwidth forms,
// curly quotes, control characters, NFC), then html.unescape twice, whitespace collapsed,
// stripped and lower-cased, as clip/simple_tokenizer.py does.
#pragma once
#include <string>

namespace psic {

// ftfy.fix_text, for the classes above (UTF-8 in and out).
std::string fix_text(const std::string& utf8);
// Python's html.unescape for numeric references and the common named entities.
std::string html_unescape(const std::string& utf8);
// whitespace_clean(basic_clean(text)).lower()
std::string clip_clean_text(const std::string& utf8);

}  // namespace psic
