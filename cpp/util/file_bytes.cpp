#include "util/file_bytes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "errors.h"

namespace psic {

namespace {

// Closes the descriptor on every path out.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  // O_NONBLOCK: opening a FIFO with no writer returns at once (fstat refuses it next); it changes
  // nothing for a regular file.
  const Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  if (file.fd < 0) throw WeightsError("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) throw IoError("cannot read '" + path + "': " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw IoError("cannot read '" + path + "': is a directory, not a regular file");
  if (!S_ISREG(st.st_mode)) throw IoError("cannot read '" + path + "': not a regular file");
  if (static_cast<uint64_t>(st.st_size) > kMaxModelFileBytes) {
    throw FormatError("'" + path + "' is " + std::to_string(st.st_size) + " bytes, over the limit of " +
                      std::to_string(kMaxModelFileBytes) + " bytes for a model file");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::read(file.fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      const std::string reason = n < 0 ? std::strerror(errno) : "file shrank while reading";
      throw IoError("cannot read '" + path + "': " + reason);
    }
    done += static_cast<size_t>(n);
  }
  return bytes;
}

}  // namespace psic
