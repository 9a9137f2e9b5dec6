// GeoDatabase: open, lookup, metadata. The tree walk and record decoding
// done at open live in mmdb_validate.cc.
#include "geo/mmdb.h"

#include <errno.h>
#include <fcntl.h>
#include <maxminddb.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <vector>

namespace meridian::geo {
namespace {

// The metadata section starts after this marker, within the last 128 KiB of
// the file (MaxMind DB spec). libmaxminddb says "invalid metadata" both when
// the marker is gone (a truncated copy, or not an MMDB at all) and when the
// metadata is there but wrong; telling them apart makes the error useful.
bool hasMetadataMarker(int fd, int64_t size) {
  static constexpr char kMarker[] = "\xAB\xCD\xEFMaxMind.com";
  constexpr int64_t kWindow = 128 * 1024;
  const int64_t start = size > kWindow ? size - kWindow : 0;
  std::string tail(static_cast<size_t>(size - start), '\0');
  size_t have = 0;
  while (have < tail.size()) {
    const ssize_t n = ::pread(fd, tail.data() + have, tail.size() - have,
                              static_cast<off_t>(start) + static_cast<off_t>(have));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    have += static_cast<size_t>(n);
  }
  return tail.find(kMarker, 0, sizeof kMarker - 1) != std::string::npos;
}

FileStamp stampOf(const struct stat& st) {
  FileStamp s;
  s.device = st.st_dev;
  s.inode = st.st_ino;
  s.size = st.st_size;
  s.mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  s.ctime_ns = int64_t{st.st_ctim.tv_sec} * 1'000'000'000 + st.st_ctim.tv_nsec;
  return s;
}

// Closes on every path out.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Copies `from` to `to` until end of file; the bytes copied, or -1 with
// errno set.
int64_t copyAll(int from, int to) {
  std::vector<char> buffer(1 << 20);
  int64_t total = 0;
  for (;;) {
    const ssize_t n = ::read(from, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return total;
    for (ssize_t done = 0; done < n;) {
      const ssize_t w = ::write(to, buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return -1;
      done += w;
    }
    total += n;
  }
}

// Seals the copy against every change. F_SEAL_WRITE fails with EBUSY while
// the kernel still holds extra references to pages just written (per-CPU
// LRU caches; seen once at startup on a loaded machine, where meridiand then
// refused to start). Those go within milliseconds, so try again; past that,
// F_SEAL_FUTURE_WRITE (Linux 5.1) gives what we need, since nobody but this
// process holds the memfd and it has no writable mapping: no write from now on.
bool sealAgainstChange(int fd) {
  constexpr int kFixed = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (::fcntl(fd, F_ADD_SEALS, kFixed | F_SEAL_WRITE) == 0) return true;
    if (errno != EBUSY) return false;
    ::usleep(5000);
  }
  return ::fcntl(fd, F_ADD_SEALS, kFixed | F_SEAL_FUTURE_WRITE) == 0;
}

}  // namespace

std::optional<FileStamp> stampFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return stampOf(st);
}

void GeoDatabase::MmdbCloser::operator()(MMDB_s* mmdb) const noexcept {
  MMDB_close(mmdb);
  delete mmdb;
}

GeoDatabase::~GeoDatabase() = default;

void GeoDatabase::fail(const std::string& what) const {
  throw GeoError(std::string(content_ == Content::kAsn ? "ASN" : "geo") + " database '" +
                 info_.path + "': " + what);
}

std::unique_ptr<GeoDatabase> GeoDatabase::open(const std::string& path, Content content) {
  std::unique_ptr<GeoDatabase> db(new GeoDatabase());
  db->info_.path = path;
  db->content_ = content;

  // libmaxminddb reports a missing file and an unreadable one alike; say which.
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    db->fail(errno == ENOENT ? "file does not exist"
                             : std::string("cannot stat: ") + strerror(errno));
  }
  if (!S_ISREG(st.st_mode)) db->fail("not a regular file");

  // The private copy. libmaxminddb maps whatever file it opens; mapping the
  // operator's file meant serving from bytes that `cp` or `truncate` change
  // in place (a half-written tree, or SIGBUS past a new end of file). So the
  // bytes go into a memfd, sealed against every change, and libmaxminddb
  // maps that: what was validated below is what every lookup reads.
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) db->fail(std::string("cannot read: ") + strerror(errno));
  struct stat before {};
  if (::fstat(file.fd, &before) != 0) db->fail(std::string("cannot stat: ") + strerror(errno));
  if (before.st_size == 0) db->fail("file is empty");
  Fd copy{::memfd_create("meridian-geodb", MFD_CLOEXEC | MFD_ALLOW_SEALING)};
  if (copy.fd < 0) db->fail(std::string("cannot make a private copy: ") + strerror(errno));
  const int64_t copied = copyAll(file.fd, copy.fd);
  if (copied < 0) db->fail(std::string("cannot read into a private copy: ") + strerror(errno));
  struct stat after {};
  if (::fstat(file.fd, &after) != 0) db->fail(std::string("cannot stat: ") + strerror(errno));
  // A writer still at work: the size or the times moved while we read, or we
  // read a different number of bytes than the file had.
  if (!(stampOf(before) == stampOf(after)) || copied != before.st_size) {
    db->fail("changed while being read (" + std::to_string(before.st_size) + " bytes before, " +
             std::to_string(copied) + " read, " + std::to_string(after.st_size) +
             " after): it is being written in place; write a new file and rename it over");
  }
  if (copied == 0) db->fail("file is empty");
  if (!sealAgainstChange(copy.fd)) {
    db->fail(std::string("cannot seal the private copy: ") + strerror(errno));
  }
  db->info_.stamp = stampOf(after);

  // libmaxminddb opens by name; /proc/self/fd/N names our memfd.
  const std::string copy_path = "/proc/self/fd/" + std::to_string(copy.fd);
  auto mmdb = std::make_unique<MMDB_s>();
  const int status = MMDB_open(copy_path.c_str(), MMDB_MODE_MMAP, mmdb.get());
  switch (status) {
    case MMDB_SUCCESS:
      break;
    case MMDB_FILE_OPEN_ERROR:
    case MMDB_IO_ERROR:
      db->fail(std::string("cannot read the private copy (") + copy_path + "): " + strerror(errno));
    case MMDB_UNKNOWN_DATABASE_FORMAT_ERROR:
      db->fail(std::string("unsupported format: ") + MMDB_strerror(status));
    case MMDB_OUT_OF_MEMORY_ERROR:
      db->fail("out of memory");
    default:
      // MMDB_open decodes only the metadata, so any other error is about it:
      // MMDB_INVALID_METADATA_ERROR, or MMDB_INVALID_DATA_ERROR when the
      // metadata map itself is cut short.
      if (!hasMetadataMarker(copy.fd, copied)) {
        db->fail("truncated, or not a MaxMind DB file: no metadata marker at the end");
      }
      db->fail(std::string("corrupt or truncated: invalid metadata, e.g. a node count or record "
                           "size that does not fit the file (") +
               MMDB_strerror(status) + ")");
  }
  db->mmdb_.reset(mmdb.release());

  const MMDB_metadata_s& meta = db->mmdb_->metadata;
  db->info_.type = meta.database_type ? meta.database_type : "";
  db->info_.build_epoch = meta.build_epoch;
  db->info_.ip_version = meta.ip_version;
  db->info_.record_size = meta.record_size;
  db->info_.node_count = meta.node_count;
  for (size_t i = 0; i < meta.description.count; ++i) {
    const MMDB_description_s* d = meta.description.descriptions[i];
    if (d && d->language && d->description && std::strcmp(d->language, "en") == 0) {
      db->info_.description = d->description;
    }
  }
  if (meta.ip_version != 4 && meta.ip_version != 6) {
    db->fail("unsupported: ip_version " + std::to_string(meta.ip_version));
  }

  db->validate();
  db->info_.data_records = db->entries_.size();
  db->compileTree();
  // Everything lookup() reads is in our own tables now; the copy of the file
  // and libmaxminddb's handle on it are no longer needed.
  db->mmdb_.reset();
  return db;
}

bool GeoDatabase::lookup(const uint8_t* address, int family, GeoRecord& out) const noexcept {
  out = GeoRecord{};
  if (address == nullptr || (family != 4 && family != 6)) return false;

  // ::ffff:a.b.c.d is an IPv4 client: look it up (and report its prefix) as
  // IPv4, from the IPv4 start, so the prefix counts IPv4 bits: ::81.2.69.142/127
  // in the file is 81.2.69.142/31 here, and a leaf above ::/96 is prefix 0.
  if (family == 4 || isV4Mapped(address)) {
    const uint8_t* a = family == 4 ? address : address + 12;
    const uint32_t key = uint32_t{a[0]} << 24 | uint32_t{a[1]} << 16 | uint32_t{a[2]} << 8 | a[3];
    const size_t slot = key >> (32 - kStrideBits);
    uint32_t value = v4_[slot].value;
    unsigned depth = v4_[slot].depth;
    while (value < node_count_ && depth < 32) {
      value = tree_[size_t{value} * 2 + ((key >> (31 - depth)) & 1)];
      ++depth;
    }
    return finish(value, depth, out);
  }
  if (v6_.empty()) return false;  // an IPv6 address in an IPv4-only tree: prefix 0
  uint64_t high = 0;
  uint64_t low = 0;
  for (int i = 0; i < 8; ++i) {
    high = high << 8 | address[i];
    low = low << 8 | address[8 + i];
  }
  const size_t slot = high >> (64 - kStrideBits);
  uint32_t value = v6_[slot].value;
  unsigned depth = v6_[slot].depth;
  while (value < node_count_ && depth < 128) {
    const uint64_t bit = depth < 64 ? high >> (63 - depth) : low >> (127 - depth);
    value = tree_[size_t{value} * 2 + (bit & 1)];
    ++depth;
  }
  return finish(value, depth, out);
}

bool GeoDatabase::finish(uint32_t value, unsigned depth, GeoRecord& out) const noexcept {
  // A leaf with data, "no data", or (a tree deeper than the address, which
  // libmaxminddb also reports as not found) a node after the last bit. The
  // prefix is the leaf's network either way: where "not found" holds too.
  const bool found = value > node_count_;
  if (found) out = entries_[value - node_count_ - 1].record;
  out.prefix = static_cast<uint8_t>(depth);
  return found;
}

bool GeoDatabase::lookup(const ClientSubnet& client, GeoRecord& out) const noexcept {
  if (!client.known()) {
    out = GeoRecord{};
    return false;
  }
  return lookup(client.address, client.family, out);
}

std::string DatabaseInfo::summary() const {
  char built[16] = "?";
  const time_t epoch = static_cast<time_t>(build_epoch);
  struct tm tm {};
  if (gmtime_r(&epoch, &tm)) strftime(built, sizeof built, "%Y-%m-%d", &tm);
  return (type.empty() ? std::string("(no type)") : type) + " (IPv" + std::to_string(ip_version) +
         " tree, " + std::to_string(node_count) + " nodes, " + std::to_string(data_records) +
         " records, built " + built + ")";
}

std::string defaultDatabasePath() {
  namespace fs = std::filesystem;
  constexpr const char* kName = "meridian-default.mmdb";
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const fs::path dir = exe.parent_path();
    for (const fs::path& candidate :
         {dir / kName, dir / ".." / "geo" / kName, dir / ".." / "share" / "meridian" / kName}) {
      if (fs::is_regular_file(candidate, ec)) return candidate.lexically_normal().string();
    }
  }
  return MERIDIAN_DEFAULT_GEODB;
}

}  // namespace meridian::geo
