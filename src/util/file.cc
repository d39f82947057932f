#include "util/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace supernet {

static Error io_error(const char* code, const std::string& what, const std::string& path) {
  return make_error(code, what + " '" + path + "': " + std::strerror(errno));
}

// Pseudo-files (/proc, configfs, Gramine's /dev/attestation) report size 0 however much they
// hold: read them until end of file, still bounded.
static Result<Bytes> read_to_end(int fd, const std::string& path, size_t bytes_max) {
  Bytes out;
  uint8_t buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Error e = io_error("io.read", "cannot read", path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > bytes_max) {
      ::close(fd);
      return make_error("io.size", "'" + path + "' holds more than the limit of " + std::to_string(bytes_max) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

Result<Bytes> read_file(const std::string& path, size_t bytes_max) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("io.open", "cannot open", path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    Error e = io_error("io.stat", "cannot stat", path);
    ::close(fd);
    return e;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error("io.type", "'" + path + "' is not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) > bytes_max) {
    ::close(fd);
    return make_error("io.size", "'" + path + "' is " + std::to_string(st.st_size) +
                                     " bytes, more than the limit of " + std::to_string(bytes_max));
  }
  if (st.st_size == 0) return read_to_end(fd, path, bytes_max);
  Bytes out(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd, out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Error e = io_error("io.read", "cannot read", path);
      ::close(fd);
      return e;
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

Status write_file_atomic(const std::string& path, ByteView data, unsigned mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return io_error("io.open", "cannot create", tmp);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Error e = io_error("io.write", "cannot write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return e;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    Error e = io_error("io.fsync", "cannot fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return e;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Error e = io_error("io.rename", "cannot rename into", path);
    ::unlink(tmp.c_str());
    return e;
  }
  // The rename is durable only once the directory entry is: fsync the folder too.
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return io_error("io.open", "cannot open the folder of", path);
  int rc = ::fsync(dfd);
  ::close(dfd);
  if (rc != 0) return io_error("io.fsync", "cannot fsync the folder of", path);
  return ok_status();
}

}  // namespace supernet
