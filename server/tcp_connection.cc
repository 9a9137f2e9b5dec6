#include "server/tcp_connection.h"

#include <cstring>

#include "server/dns_loop.h"

namespace meridian::server {

bool TcpConnection::accept(uv_stream_t* server) {
  in_used_ = 0;
  writing_ = reading_ = closing_ = eof_ = draining_ = false;
  holds_slot_ = holds_client_ = false;
  phase_ = Phase::kIdle;
  uv_tcp_init(server->loop, &handle_);
  uv_timer_init(server->loop, &timer_);
  handle_.data = this;
  timer_.data = this;
  open_handles_ = 2;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&handle_)) != 0) {
    close();
    return false;
  }
  int length = sizeof peer_;
  if (uv_tcp_getpeername(&handle_, reinterpret_cast<sockaddr*>(&peer_), &length) != 0) {
    close();  // already reset by the client
    return false;
  }
  return true;
}

bool TcpConnection::start() {
  holds_slot_ = true;
  uv_tcp_nodelay(&handle_, 1);
  reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), onAlloc, onRead) == 0;
  if (!reading_) {
    close();
    return false;
  }
  enter(Phase::kIdle, true);
  return true;
}

void TcpConnection::enter(Phase next, bool restart) {
  if (phase_ == next && !restart) return;
  const bool was_writing = phase_ == Phase::kWriting;
  phase_ = next;
  const LoopSettings& settings = loop_.settings_;
  uv_timer_start(&timer_, onTimer,
                 next == Phase::kIdle ? settings.tcp_idle_timeout_ms : settings.tcp_io_timeout_ms,
                 0);
  if (next == Phase::kWriting) {
    loop_.forget(this);  // delivering an answer: not a connection to evict
  } else if (restart || was_writing) {
    loop_.touch(this);  // served: the last to evict
  }
}

void TcpConnection::onAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<TcpConnection*>(handle->data);
  *buf = uv_buf_init(reinterpret_cast<char*>(self->in_ + self->in_used_),
                     static_cast<unsigned>(kReadBuffer - self->in_used_));
}

void TcpConnection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t*) {
  auto* self = static_cast<TcpConnection*>(stream->data);
  if (nread < 0) {
    // EOF: the client has sent everything; answer what is buffered, then
    // close. Any other error closes at once.
    if (nread != UV_EOF) {
      self->close();
      return;
    }
    self->eof_ = true;
    uv_read_stop(stream);
    self->reading_ = false;
    self->processMessages();
    return;
  }
  if (nread == 0) return;
  // No timer is touched here: the phase's deadline stands whatever arrives,
  // until processMessages sees a whole query.
  self->in_used_ += static_cast<size_t>(nread);
  self->processMessages();
}

// Answers every complete message in the buffer, in order, until one response
// has to wait for the socket; the rest wait in the buffer (reading stops).
void TcpConnection::processMessages() {
  size_t pos = 0;
  while (!writing_ && !closing_ && in_used_ - pos >= 2) {
    const size_t length = (size_t{in_[pos]} << 8) | in_[pos + 1];
    if (length > kReadBuffer - 2) {  // cannot ever be buffered
      close();
      return;
    }
    if (in_used_ - pos - 2 < length) break;
    uint8_t* out = loop_.tcp_response_.data();
    const size_t answer =
        loop_.state_.answer(in_ + pos + 2, length, reinterpret_cast<sockaddr*>(&peer_),
                            Transport::kTcp, out + 2, loop_.tcp_response_.size() - 2);
    pos += 2 + length;
    if (answer == 0) continue;  // not answerable (e.g. a response): skip it
    out[0] = static_cast<uint8_t>(answer >> 8);
    out[1] = static_cast<uint8_t>(answer);
    send(out, answer + 2);
  }
  if (closing_) return;
  const bool answered = pos > 0;
  std::memmove(in_, in_ + pos, in_used_ - pos);
  in_used_ -= pos;
  if (eof_ || draining_) {
    if (!writing_) {
      close();
      return;
    }
  } else if (writing_ && reading_) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
    reading_ = false;
  } else if (!writing_ && !reading_) {
    reading_ = uv_read_start(reinterpret_cast<uv_stream_t*>(&handle_), onAlloc, onRead) == 0;
  }
  // Worked example, default timeouts: a query's first byte arrives at t=0
  // (idle -> reading, deadline t=2 s); bytes at t=0.5 and t=1.5 change
  // nothing; if the rest is not there at t=2 s the connection is closed. Had
  // the query completed at t=1.5 s, its answer would have moved it to idle
  // with a fresh 10 s, or to reading with a fresh 2 s if the next query had
  // begun in the same read.
  if (writing_) {
    enter(Phase::kWriting, false);
  } else if (in_used_ > 0) {
    enter(Phase::kReading, answered);
  } else {
    enter(Phase::kIdle, answered);
  }
}

void TcpConnection::send(const uint8_t* data, size_t length) {
  // Usually the kernel takes the whole response at once and nothing is copied.
  uv_buf_t buf = uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data)),
                             static_cast<unsigned>(length));
  int written = uv_try_write(reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1);
  if (written == UV_EAGAIN) written = 0;
  if (written < 0) {
    close();
    return;
  }
  if (static_cast<size_t>(written) == length) return;
  pending_.assign(data + written, data + length);
  buf =
      uv_buf_init(reinterpret_cast<char*>(pending_.data()), static_cast<unsigned>(pending_.size()));
  write_request_.data = this;
  if (uv_write(&write_request_, reinterpret_cast<uv_stream_t*>(&handle_), &buf, 1, onWrite) != 0) {
    close();
    return;
  }
  writing_ = true;
}

void TcpConnection::onWrite(uv_write_t* request, int status) {
  auto* self = static_cast<TcpConnection*>(request->data);
  self->writing_ = false;
  if (self->closing_) return;
  if (status < 0) {
    self->close();
    return;
  }
  self->processMessages();
}

void TcpConnection::onTimer(uv_timer_t* timer) {
  auto* self = static_cast<TcpConnection*>(timer->data);
  DnsCounters& counters = self->loop_.state_.counters();
  switch (self->phase_) {
    case Phase::kIdle:
      counters.tcp_idle_closed.add();
      break;
    case Phase::kReading:
      counters.tcp_read_timeouts.add();
      break;
    case Phase::kWriting:
      counters.tcp_write_timeouts.add();
      break;
  }
  self->close();
}

void TcpConnection::drain() {
  if (closing_) return;
  draining_ = true;
  if (reading_) uv_read_stop(reinterpret_cast<uv_stream_t*>(&handle_));
  reading_ = false;
  if (!writing_) close();
}

void TcpConnection::close() {
  if (closing_) return;
  closing_ = true;
  loop_.forget(this);
  if (holds_slot_) loop_.limits_.release();
  if (holds_client_) loop_.limits_.releaseClient(client_);
  holds_slot_ = holds_client_ = false;
  uv_timer_stop(&timer_);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), onClose);
  uv_close(reinterpret_cast<uv_handle_t*>(&handle_), onClose);
}

void TcpConnection::onClose(uv_handle_t* handle) {
  auto* self = static_cast<TcpConnection*>(handle->data);
  if (--self->open_handles_ == 0) self->loop_.release(self);
}

}  // namespace meridian::server
