// shim.hpp — what the shim's .cpp files share: the handle type, wrapping and
// unwrapping, code-to-enum conversions and the one catch-all macro.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <stdexcept>

struct qt_tensor_s {
    at::Tensor t;
};

namespace qt {

void set_error(const char *message);
/// Moves a tensor into a new handle (counted as live).
qt_tensor wrap(at::Tensor t);
/// The tensor behind a handle; throws on NULL.
const at::Tensor &unwrap(qt_tensor h);
/// NULL becomes "no tensor".
c10::optional<at::Tensor> optional(qt_tensor h);
at::MemoryFormat memory_format(int code);
at::ScalarType scalar_type(int code);

/// Where creation functions put new tensors (qt_set_default_device).
c10::Device default_device();
/// A copy of a host tensor on the default device: a plain clone on the CPU, through pinned memory to a GPU.
at::Tensor to_default_device(const at::Tensor &cpu);

inline std::vector<int64_t> pair(const int64_t *p) { return {p[0], p[1]}; }

}  // namespace qt

/// Runs BODY; any exception becomes the thread's last error and the function returns FAIL.
/// c10::Error is reported without libtorch's C++ backtrace.
#define QT_GUARD(FAIL, ...)                                   \
    try {                                                     \
        __VA_ARGS__                                           \
    } catch (const c10::Error &e) {                           \
        qt::set_error(e.what_without_backtrace());            \
        return FAIL;                                          \
    } catch (const std::exception &e) {                       \
        qt::set_error(e.what());                              \
        return FAIL;                                          \
    } catch (...) {                                           \
        qt::set_error("unknown C++ exception in libtorch");   \
        return FAIL;                                          \
    }
