// ctorch.cpp — bodies of the C shim. Every exported body runs inside QT_GUARD, so
// no C++ exception reaches Swift: a failure returns the documented fail value and
// leaves its message in a thread-local string.
#include "ctorch.h"
#include "shim.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <c10/core/InferenceMode.h>
#include <torch/version.h>

#include <atomic>
#if defined(__GLIBC__)
#include <dlfcn.h>
#include <malloc.h>
#endif
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace qt {

static thread_local std::string last_error;
static thread_local bool has_error = false;
static std::atomic<int64_t> live{0};

void set_error(const char *message) {
    last_error = message ? message : "unknown error";
    has_error = true;
}

qt_tensor wrap(at::Tensor t) {
    live.fetch_add(1, std::memory_order_relaxed);
    return new qt_tensor_s{std::move(t)};
}

const at::Tensor &unwrap(qt_tensor h) {
    if (h == nullptr) throw std::invalid_argument("null tensor handle");
    return h->t;
}

c10::optional<at::Tensor> optional(qt_tensor h) {
    if (h == nullptr) return c10::nullopt;
    return h->t;
}

at::MemoryFormat memory_format(int code) {
    switch (code) {
        case QT_CONTIGUOUS: return at::MemoryFormat::Contiguous;
        case QT_CHANNELS_LAST: return at::MemoryFormat::ChannelsLast;
        case QT_PRESERVE: return at::MemoryFormat::Preserve;
        default: throw std::invalid_argument("unknown memory format code " + std::to_string(code));
    }
}

static_assert(QT_UINT8 == (int)at::kByte && QT_INT32 == (int)at::kInt && QT_INT64 == (int)at::kLong &&
                  QT_FLOAT16 == (int)at::kHalf && QT_FLOAT32 == (int)at::kFloat && QT_FLOAT64 == (int)at::kDouble &&
                  QT_BOOL == (int)at::kBool && QT_BFLOAT16 == (int)at::kBFloat16,
              "ctorch.h's dtype codes must be c10::ScalarType's");

at::ScalarType scalar_type(int code) {
    switch (code) {
        case QT_UINT8: case QT_INT32: case QT_INT64: case QT_FLOAT16: case QT_FLOAT32: case QT_FLOAT64: case QT_BOOL:
        case QT_BFLOAT16: return static_cast<at::ScalarType>(code);
        default: throw std::invalid_argument("unsupported dtype code " + std::to_string(code));
    }
}

}  // namespace qt

using namespace qt;

// ---- errors, lifetime, runtime ------------------------------------------------

const char *qt_last_error(void) { return has_error ? last_error.c_str() : nullptr; }
void qt_clear_error(void) { has_error = false; last_error.clear(); }

void qt_free(qt_tensor t) {
    if (t == nullptr) return;
    delete t;
    live.fetch_sub(1, std::memory_order_relaxed);
}

int64_t qt_live_tensors(void) { return live.load(std::memory_order_relaxed); }

void qt_set_num_threads(int n) { QT_GUARD(, at::set_num_threads(n);) }
#if defined(__GLIBC__)
/// Two malloc arenas, set when the program loads, before any thread has allocated (a thread's first allocation
/// picks its arena: a limit set later leaves those made until then). The settings of `qt_keep_freed_memory` hold for
/// the main heap; every other arena (glibc makes up to 8 per core for threads that find the others busy) grows in
/// heaps of its own, and batches built on loader threads and freed on another kept faulting fresh pages in:
/// `evaluate --tta` on 656 ELPV cells spent 16–25 s of its 55–60 s in the kernel (1.2 million page faults, 5 GB
/// resident and growing). Two arenas: 1.8–2.7 s, 0.61–0.79 million faults, 2.6–3.3 GB; the limit set at the start
/// of `main` instead: 5.7 s and 0.85 million. One arena measured the same as two; two leave a server's many threads
/// a second lock.
__attribute__((constructor)) static void limit_arenas() { mallopt(M_ARENA_MAX, 2); }
#endif

int qt_keep_freed_memory(void) {
#if defined(__GLIBC__)
    // glibc serves blocks above the mmap threshold with mmap and unmaps them on free, and 32 MiB is the
    // largest threshold it accepts; a 300 px batch has bigger activations than that. So: no mmap at
    // all (every block comes from the heap), and never trimming the heap top keeps freed pages for the
    // next batch. The process keeps its peak size, which is what a training run needs anyway. The trim
    // threshold is the largest mallopt takes (2 GiB): at 1 GiB, Lite0's 256 px feature maps at batch 64 left
    // more than that free at the heap top after each batch, and every batch faulted it back in (inference
    // 108 img/s against 162, 7.8 million page faults against 1.2 million; AMD EPYC family 26 model 2).
    int ok = mallopt(M_MMAP_THRESHOLD, 32 << 20);
    ok &= mallopt(M_MMAP_MAX, 0);
    ok &= mallopt(M_TRIM_THRESHOLD, INT_MAX);
    ok &= mallopt(M_TOP_PAD, 256 << 20);
    ok &= mallopt(M_ARENA_MAX, 2);  // as `limit_arenas` set it (mallopt has no getter): the test sees it taken
    return ok;
#else
    return 0;
#endif
}
int qt_malloc_arenas(void) {
#if defined(__GLIBC__)
    char *text = nullptr;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);
    if (!stream) return -1;
    malloc_info(0, stream);
    fclose(stream);
    if (!text) return -1;  // the report's buffer could not be allocated
    int count = 0;
    for (const char *p = text; (p = std::strstr(p, "<heap nr=")); p++) count++;
    std::free(text);
    return count;
#else
    return -1;
#endif
}
const char *qt_blas_core(void) {
    // Looked up rather than linked: libtorch may come with another BLAS, which has no such function.
    using corename = char *(*)();
    auto name = reinterpret_cast<corename>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    return name ? name() : nullptr;
}
int qt_get_num_threads(void) { QT_GUARD(-1, return at::get_num_threads();) }
void qt_manual_seed(uint64_t seed) { QT_GUARD(, at::manual_seed(seed);) }

const char *qt_version(void) {
    static const std::string v = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." +
                                 std::to_string(TORCH_VERSION_PATCH);
    return v.c_str();
}

int qt_grad_enabled(void) { return at::GradMode::is_enabled() ? 1 : 0; }
void qt_set_grad_enabled(int enabled) { at::GradMode::set_enabled(enabled != 0); }
void *qt_inference_mode_enter(void) { QT_GUARD(nullptr, return new c10::InferenceMode();) }
void qt_inference_mode_exit(void *guard) { delete static_cast<c10::InferenceMode *>(guard); }

// Autocast's switches per device type: libtorch 2.4 and later take the device type (the older per-device names
// warn there); 1.13 has a function per device, CUDA's being the unnamed one.
namespace {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(at::DeviceType d) { return at::autocast::is_autocast_enabled(d); }
void set_autocast(at::DeviceType d, bool on) { at::autocast::set_autocast_enabled(d, on); }
at::ScalarType autocast_dtype(at::DeviceType d) { return at::autocast::get_autocast_dtype(d); }
void set_autocast_dtype(at::DeviceType d, at::ScalarType type) { at::autocast::set_autocast_dtype(d, type); }
#else
bool autocast_enabled(at::DeviceType d) {
    return d == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast(at::DeviceType d, bool on) {
    if (d == at::kCUDA) at::autocast::set_enabled(on); else at::autocast::set_cpu_enabled(on);
}
at::ScalarType autocast_dtype(at::DeviceType d) {
    return d == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(at::DeviceType d, at::ScalarType type) {
    if (d == at::kCUDA) at::autocast::set_autocast_gpu_dtype(type); else at::autocast::set_autocast_cpu_dtype(type);
}
#endif
}  // namespace

int qt_autocast_enter(int dtype, int *previous_enabled, int *previous_dtype) {
    QT_GUARD(-1, {
        auto type = scalar_type(dtype);
        auto device = default_device().type();
        *previous_enabled = autocast_enabled(device) ? 1 : 0;
        *previous_dtype = (int)autocast_dtype(device);
        set_autocast(device, true);
        set_autocast_dtype(device, type);
        at::autocast::increment_nesting();
        return 0;
    })
}

int qt_autocast_exit(int previous_enabled, int previous_dtype) {
    QT_GUARD(-1, {
        auto device = default_device().type();
        if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
        set_autocast(device, previous_enabled != 0);
        set_autocast_dtype(device, scalar_type(previous_dtype));
        return 0;
    })
}

int qt_autocast_enabled(void) { QT_GUARD(0, return autocast_enabled(default_device().type()) ? 1 : 0;) }

int qt_autocast_set_enabled(int enabled) {
    QT_GUARD(-1, {
        auto device = default_device().type();
        const int previous = autocast_enabled(device) ? 1 : 0;
        set_autocast(device, enabled != 0);
        return previous;
    })
}

// ---- creation -------------------------------------------------------------------

qt_tensor qt_from_data(const void *data, const int64_t *sizes, const int64_t *strides, int ndim, int dtype) {
    QT_GUARD(nullptr, {
        auto options = at::TensorOptions().dtype(scalar_type(dtype));
        at::IntArrayRef shape(sizes, ndim);
        at::Tensor view = strides ? at::from_blob(const_cast<void *>(data), shape, at::IntArrayRef(strides, ndim), options)
                                  : at::from_blob(const_cast<void *>(data), shape, options);
        return wrap(to_default_device(view));
    })
}

qt_tensor qt_fill(const int64_t *sizes, int ndim, int dtype, int kind, double value) {
    QT_GUARD(nullptr, {
        auto options = at::TensorOptions().dtype(scalar_type(dtype)).device(default_device());
        at::IntArrayRef shape(sizes, ndim);
        switch (kind) {
            case 0: return wrap(at::full(shape, value, options));
            case 1: return wrap(at::rand(shape, options));
            case 2: return wrap(at::randn(shape, options));
            case 3: return wrap(at::empty(shape, options));
            default: throw std::invalid_argument("unknown fill kind");
        }
    })
}

qt_tensor qt_arange(double start, double end, double step, int dtype) {
    QT_GUARD(nullptr, {
        auto options = at::TensorOptions().dtype(scalar_type(dtype)).device(default_device());
        return wrap(at::arange(start, end, step, options));
    })
}

qt_tensor qt_randperm(int64_t n) {
    QT_GUARD(nullptr, return wrap(at::randperm(n, at::TensorOptions().dtype(at::kLong).device(default_device())));)
}

// ---- inspection -----------------------------------------------------------------

int qt_dim(qt_tensor t) { QT_GUARD(-1, return (int)unwrap(t).dim();) }

void qt_sizes(qt_tensor t, int64_t *out) {
    QT_GUARD(, {
        auto s = unwrap(t).sizes();
        std::copy(s.begin(), s.end(), out);
    })
}

void qt_strides(qt_tensor t, int64_t *out) {
    QT_GUARD(, {
        auto s = unwrap(t).strides();
        std::copy(s.begin(), s.end(), out);
    })
}

int qt_dtype(qt_tensor t) { QT_GUARD(-1, return (int)unwrap(t).scalar_type();) }
int64_t qt_numel(qt_tensor t) { QT_GUARD(-1, return unwrap(t).numel();) }

int qt_is_contiguous(qt_tensor t, int format) { QT_GUARD(-1, return unwrap(t).is_contiguous(memory_format(format)) ? 1 : 0;) }

int qt_copy_to(qt_tensor t, void *out, int64_t nbytes) {
    QT_GUARD(-1, {
        // A tensor on a GPU comes to the host first (waiting for the work that makes it).
        at::Tensor c = unwrap(t).detach().to(at::kCPU).contiguous();
        int64_t need = c.numel() * (int64_t)c.element_size();
        if (need > nbytes)
            throw std::invalid_argument("output buffer holds " + std::to_string(nbytes) + " bytes, tensor needs " +
                                        std::to_string(need));
        std::memcpy(out, c.data_ptr(), (size_t)need);
        return 0;
    })
}

double qt_item(qt_tensor t) { QT_GUARD(0.0, return unwrap(t).item<double>();) }

// ---- conversion and autograd ----------------------------------------------------

qt_tensor qt_to_dtype(qt_tensor t, int dtype) { QT_GUARD(nullptr, return wrap(unwrap(t).to(scalar_type(dtype)));) }
qt_tensor qt_contiguous(qt_tensor t, int format) {
    QT_GUARD(nullptr, return wrap(unwrap(t).contiguous(memory_format(format)));)
}
qt_tensor qt_clone(qt_tensor t) { QT_GUARD(nullptr, return wrap(unwrap(t).clone());) }
qt_tensor qt_detach(qt_tensor t) { QT_GUARD(nullptr, return wrap(unwrap(t).detach());) }

int qt_set_requires_grad(qt_tensor t, int flag) {
    QT_GUARD(-1, {
        unwrap(t).set_requires_grad(flag != 0);
        return 0;
    })
}

int qt_requires_grad(qt_tensor t) { QT_GUARD(-1, return unwrap(t).requires_grad() ? 1 : 0;) }

int qt_grad(qt_tensor t, qt_tensor *out) {
    QT_GUARD(-1, {
        const at::Tensor &g = unwrap(t).grad();
        *out = g.defined() ? wrap(g) : nullptr;
        return 0;
    })
}

int qt_zero_grad(qt_tensor t) {
    QT_GUARD(-1, {
        unwrap(t).mutable_grad().reset();
        return 0;
    })
}

int qt_backward(qt_tensor t, qt_tensor gradient) {
    QT_GUARD(-1, {
        unwrap(t).backward(gradient ? gradient->t : at::Tensor());
        return 0;
    })
}
