#pragma once
// Small helpers for libuv handle lifetimes. Handles are allocated with
// calloc and freed by their close callback, so an owner object may be
// destroyed right after closing its handles: libuv finishes the close later
// without touching the owner (callbacks check handle->data, which owners clear).

#include <uv.h>

#include <cstdlib>
#include <new>

namespace meridian::healthd {

template <typename T>
T* newHandle() {
  void* p = std::calloc(1, sizeof(T));
  if (!p) throw std::bad_alloc();
  return static_cast<T*>(p);
}

/// Detaches the handle from its owner and closes it; the memory is freed
/// once libuv is done with it. Accepts nullptr and already-closing handles.
inline void closeAndFree(uv_handle_t* handle) {
  if (!handle || uv_is_closing(handle)) return;
  handle->data = nullptr;
  uv_close(handle, [](uv_handle_t* h) { std::free(h); });
}

template <typename T>
void closeAndFree(T* handle) {
  closeAndFree(reinterpret_cast<uv_handle_t*>(handle));
}

}  // namespace meridian::healthd
