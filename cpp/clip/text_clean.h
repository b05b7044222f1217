// CLIP's text cleaning: ftfy.fix_text with ftfy 6.3.1's defaults (mojibake in several layers,
// HTML entities, C1 controls, Latin ligatures, fullwidth forms, curly quotes, line breaks,
// terminal escapes, control characters, NFC; text_clean.cpp lists what is and is not done),
// then html.unescape twice, whitespace collapsed, stripped and lower-cased, as
// clip/simple_tokenizer.py does.
#pragma once
#include <string>

namespace psic {

// ftfy.fix_text with its default configuration (UTF-8 in and out).
std::string fix_text(const std::string& utf8);
// Python's html.unescape: numeric references and the HTML5 named entities.
std::string html_unescape(const std::string& utf8);
// whitespace_clean(basic_clean(text)).lower()
std::string clip_clean_text(const std::string& utf8);

}  // namespace psic
