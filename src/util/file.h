// Whole-file reads and atomic writes. Reads are bounded so a huge file is an error, not an OOM.
// Pseudo-files that report size 0 (/proc, configfs, /dev/attestation) are read to their end.
#pragma once

#include <string>

#include "util/bytes.h"
#include "util/result.h"

namespace supernet {

inline constexpr size_t kFileBytesMax = 64 * 1024 * 1024;

Result<Bytes> read_file(const std::string& path, size_t bytes_max = kFileBytesMax);
// Writes to a temporary file in the same directory, fsyncs, then renames over `path`,
// fsyncs the directory, so a crash leaves either the old or the new content, durably.
// `mode` applies to the new file.
Status write_file_atomic(const std::string& path, ByteView data, unsigned mode = 0644);

}  // namespace supernet
