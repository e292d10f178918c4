// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The demo corpus: Jane Austen's six novels as shipped in R's janeaustenr package.
//
// The project trains its own demo model on public-domain prose and obtains the text at set-up
// time from the Debian package r-cran-janeaustenr (scripts/get-corpus.sh fetches the package's
// data/Rdata.rdb). Reading that file needs neither R nor torch nor Qt, only zlib.
//
// Byte layout of Rdata.rdb (R's lazy-load database, written by makeLazyLoadDB with zlib):
//   - a run of records, one per data object, back to back:
//       uint32 big-endian   size of the object once inflated
//       zlib stream         the object in R serialization format; the next record starts where
//                           this stream ends (the index Rdata.rdx holds the same offsets; we do
//                           not need it because the records are contiguous)
//   - each inflated object is R serialization, XDR (big-endian) flavour:
//       "X\n"               format marker ("A\n" ASCII and "B\n" native binary are rejected)
//       int32 x3            format version (2 or 3), R version, minimum R version
//       [v3 only] int32 n, n bytes   name of the native encoding ("UTF-8")
//       int32 flags         SEXP header, low byte 16 = STRSXP (character vector)
//       int32 length        number of elements (lines of the novel)
//       per element: int32 flags (low byte 9 = CHARSXP; bit 14 marks Latin-1, converted here),
//                    int32 byte length (-1 = NA), then that many bytes of text.
// janeaustenr 1.0.0 holds six records in this order: Emma, Mansfield Park, Northanger Abbey,
// Persuasion, Pride and Prejudice, Sense and Sensibility. The project trains on five and holds
// out Persuasion (kHeldOutNovel) to measure perplexity.

#include <string>
#include <vector>

namespace gqa {

struct Novel {
    std::string title;               ///< e.g. "Pride and Prejudice"
    std::vector<std::string> lines;  ///< one UTF-8 line each; blank lines separate paragraphs
};

/// Titles of janeaustenr's records, in file order.
extern const std::vector<std::string> kAustenTitles;

/// The novel kept out of tokenizer and model training.
inline constexpr const char* kHeldOutNovel = "Persuasion";

/// Reads every record of janeaustenr's Rdata.rdb. NA elements become empty lines.
/// Throws InputError naming the file and the (0-based) record index on any malformed input:
/// truncated record, bad zlib stream, wrong serialization header, unexpected SEXP type, a length
/// past the end of the data, or more records than janeaustenr has novels.
std::vector<Novel> readAustenRdb(const std::string& path);

/// The text file name of a novel: lower-case title, non-alphanumerics as '_', plus ".txt";
/// e.g. "Pride and Prejudice" -> "pride_and_prejudice.txt".
std::string novelFileName(const std::string& title);

/// Writes each novel to folder/novelFileName(title) as UTF-8, one line per element followed by
/// '\n'. The folder is created if needed; each file goes to a temporary name first and is then
/// renamed, so readers never see half a file. Throws InputError naming the file if it cannot be
/// written.
void writeNovelTexts(const std::vector<Novel>& novels, const std::string& folder);

}  // namespace gqa
