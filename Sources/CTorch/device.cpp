// device.cpp — where tensors live. The shim keeps one default device (torch.set_default_device's idea): every
// creation function puts its tensor there, so code above the shim names a device once, at start-up. The CUDA
// questions go through libtorch's CUDA hooks, which a CPU-only libtorch (Debian's) answers with "none"; the
// driver itself is asked through libcuda's stable C API, opened with dlopen, so that `doctor` can tell "no
// driver" from "no GPU" with either libtorch.
#include "ctorch.h"
#include "shim.hpp"

#include <ATen/Context.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>

#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace {

// The default device in one word, so that no reader sees a type from one write and an index from another: -1 for
// the CPU, else the CUDA index.
std::atomic<int> default_cuda_index{-1};

c10::DeviceType device_type(int code) {
    switch (code) {
        case QT_DEVICE_CPU: return c10::DeviceType::CPU;
        case QT_DEVICE_CUDA: return c10::DeviceType::CUDA;
        default: throw std::invalid_argument("unknown device type code " + std::to_string(code));
    }
}

bool cuda_built() { return at::detail::getCUDAHooks().hasCUDART(); }

int cuda_count() { return cuda_built() ? at::detail::getCUDAHooks().getNumGPUs() : 0; }

// libcuda's driver API: C functions whose signatures have not changed since CUDA 3.2.
struct Driver {
    using GetInt = int (*)(int *);
    using Get = int (*)(int *, int);
    using Name = int (*)(char *, int, int);
    using Memory = int (*)(size_t *, int);
    using Attribute = int (*)(int *, int, int);
    void *library = nullptr;
    int (*init)(unsigned) = nullptr;
    GetInt version = nullptr, count = nullptr;
    Get device = nullptr;
    Name name = nullptr;
    Memory memory = nullptr;
    Attribute attribute = nullptr;
    bool initialised = false;
};

// Opened once; NULL when there is no driver. The library stays loaded for the life of the process.
const Driver *driver() {
    static const Driver loaded = [] {
        Driver d;
        d.library = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!d.library) return d;
        d.init = reinterpret_cast<int (*)(unsigned)>(dlsym(d.library, "cuInit"));
        d.version = reinterpret_cast<Driver::GetInt>(dlsym(d.library, "cuDriverGetVersion"));
        d.count = reinterpret_cast<Driver::GetInt>(dlsym(d.library, "cuDeviceGetCount"));
        d.device = reinterpret_cast<Driver::Get>(dlsym(d.library, "cuDeviceGet"));
        d.name = reinterpret_cast<Driver::Name>(dlsym(d.library, "cuDeviceGetName"));
        d.memory = reinterpret_cast<Driver::Memory>(dlsym(d.library, "cuDeviceTotalMem_v2"));
        d.attribute = reinterpret_cast<Driver::Attribute>(dlsym(d.library, "cuDeviceGetAttribute"));
        d.initialised = d.init && d.version && d.count && d.device && d.name && d.memory && d.attribute &&
                        d.init(0) == 0;
        return d;
    }();
    return loaded.library ? &loaded : nullptr;
}

const Driver &working_driver() {
    const Driver *d = driver();
    if (!d) throw std::runtime_error("no NVIDIA driver: libcuda.so.1 could not be loaded");
    if (!d->initialised) throw std::runtime_error("the NVIDIA driver is installed but cuInit failed (no usable GPU)");
    return *d;
}

std::string why_no_cuda(int index) {
    if (!cuda_built())
        return "this libtorch has no CUDA (Debian's libtorch is CPU-only): build against PyPI's torch with "
               "QUADRAT_LIBTORCH (see `make test-libtorch2`)";
    const Driver *d = driver();
    if (!d) return "this libtorch has CUDA, but there is no NVIDIA driver (libcuda.so.1 could not be loaded)";
    int count = cuda_count();
    if (count == 0)
        return "this libtorch has CUDA and the NVIDIA driver loads, but no GPU is usable (none there, or a driver "
               "older than the CUDA runtime: quadrat doctor says which)";
    return "cuda:" + std::to_string(index) + " was asked for, but " + std::to_string(count) + " GPU" +
           (count == 1 ? " was" : "s were") + " found";
}

/// GPU `index` (-1: GPU 0), or an error saying why it is not there.
c10::Device cuda_device(int index) {
    if (index < 0) index = 0;
    if (index >= cuda_count()) throw std::runtime_error(why_no_cuda(index));
    return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
}

void make_current(int index);

/// Makes GPU `index` the default device: current on this thread, and cuDNN's autotuning on (Quadrat's shapes repeat
/// batch after batch, so timing the algorithms once per shape pays).
void use_cuda(int index) {
    make_current(index);
    at::globalContext().setBenchmarkCuDNN(true);
    default_cuda_index.store(index);
}

/// Makes `index` this thread's current CUDA device where it is not already: CUDA's current device is per thread,
/// and loader threads, rank threads and the cooperative pool's threads start on GPU 0.
void make_current(int index) {
    const auto *impl = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA);
    c10::Device wanted(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
    if (impl->getDevice() != wanted) impl->setDevice(wanted);
}

// QUADRAT_DEVICE (cpu, cuda, cuda:N) chooses the starting device, read at the first question about it: how a
// whole test suite runs on a GPU. "cuda" means LOCAL_RANK's GPU, as --device cuda does. A device that is not there
// is no silent fallback to the CPU: every creation then fails with the reason, until qt_set_default_device chooses
// another (an explicit choice before the first question means the variable is never read).
std::once_flag environment_read;
std::string environment_error;  // written only inside the call_once
std::atomic<bool> environment_failed{false};

void fail_environment(const std::string &message) {
    environment_error = message;
    environment_failed.store(true);
}

void read_environment() noexcept {
    const char *text = std::getenv("QUADRAT_DEVICE");
    if (!text || !*text) return;
    std::string value(text);
    std::transform(value.begin(), value.end(), value.begin(), [](unsigned char c) { return std::tolower(c); });
    if (value == "cpu") return;
    try {
        int index = 0;
        if (value.rfind("cuda:", 0) == 0 && value.size() > 5 && value.size() < 10 &&
            value.find_first_not_of("0123456789", 5) == std::string::npos) {
            index = std::stoi(value.substr(5));
        } else if (value == "cuda") {
            const char *rank = std::getenv("LOCAL_RANK");
            int count = cuda_count();
            index = rank && count > 0 ? std::max(0, std::atoi(rank)) % count : 0;
        } else {
            return fail_environment("QUADRAT_DEVICE=" + value + " is not cpu, cuda or cuda:N");
        }
        if (index >= cuda_count()) return fail_environment("QUADRAT_DEVICE=" + value + ": " + why_no_cuda(index));
        use_cuda(index);
    } catch (const std::exception &e) {
        fail_environment("QUADRAT_DEVICE=" + value + ": " + e.what());
    } catch (...) {
        fail_environment("QUADRAT_DEVICE=" + value + ": unknown C++ exception in libtorch");
    }
}

}  // namespace

namespace qt {

c10::Device default_device() {
    std::call_once(environment_read, read_environment);
    if (environment_failed.load()) throw std::runtime_error(environment_error);
    int index = default_cuda_index.load();
    if (index < 0) return c10::Device(c10::DeviceType::CPU);
    make_current(index);
    return c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index));
}

at::Tensor to_default_device(const at::Tensor &cpu) {
    c10::Device device = default_device();
    if (device.is_cpu()) return cpu.clone(at::MemoryFormat::Contiguous);
    // As PyTorch's loader with pin_memory=True: page-locked memory, then a copy the host does not wait for (the
    // caching host allocator keeps the pinned block until the copy is done).
    return cpu.contiguous().pin_memory().to(device, /*non_blocking=*/true);
}

}  // namespace qt

using namespace qt;

int qt_set_default_device(int type, int index) {
    QT_GUARD(-1, {
        std::call_once(environment_read, [] {});  // an explicit choice first: QUADRAT_DEVICE is never read
        if (device_type(type) == c10::DeviceType::CUDA) {
            use_cuda(cuda_device(index).index());
        } else {
            default_cuda_index.store(-1);
        }
        environment_failed.store(false);  // an explicit choice replaces QUADRAT_DEVICE's
        return 0;
    })
}

int qt_default_device(int *type, int *index) {
    *type = QT_DEVICE_CPU;
    *index = -1;
    QT_GUARD(-1, {
        c10::Device device = default_device();
        *type = device.is_cuda() ? QT_DEVICE_CUDA : QT_DEVICE_CPU;
        *index = device.is_cuda() ? device.index() : -1;
        return 0;
    })
}

int qt_tensor_device(qt_tensor t, int *type, int *index) {
    QT_GUARD(-1, {
        c10::Device device = unwrap(t).device();
        if (device.is_cpu()) {
            *type = QT_DEVICE_CPU;
        } else if (device.is_cuda()) {
            *type = QT_DEVICE_CUDA;
        } else {
            throw std::invalid_argument("a tensor on an unsupported device: " + device.str());
        }
        *index = device.has_index() ? device.index() : -1;
        return 0;
    })
}

qt_tensor qt_to_device(qt_tensor t, int type, int index, int non_blocking) {
    QT_GUARD(nullptr, {
        c10::Device device = device_type(type) == c10::DeviceType::CUDA ? cuda_device(index) : c10::Device(at::kCPU);
        // Non-blocking only towards a GPU: a copy to the host that the host does not wait for could be read (by
        // qt_copy_to) before it lands.
        return wrap(unwrap(t).to(device, /*non_blocking=*/non_blocking != 0 && device.is_cuda()));
    })
}

int qt_cuda_built(void) { QT_GUARD(0, return cuda_built() ? 1 : 0;) }
int qt_cuda_device_count(void) { QT_GUARD(0, return cuda_count();) }

int qt_cuda_versions(int64_t *runtime, int64_t *cudnn) {
    QT_GUARD(-1, {
        if (!cuda_built()) throw std::runtime_error(why_no_cuda(0));
        const auto &hooks = at::detail::getCUDAHooks();
        *runtime = hooks.versionCUDART();
        *cudnn = hooks.compiledWithCuDNN() ? hooks.versionCuDNN() : 0;
        return 0;
    })
}

int qt_synchronize(void) {
    QT_GUARD(-1, {
        c10::Device device = default_device();
        if (device.is_cuda()) {
            const auto *impl = c10::impl::getDeviceGuardImpl(device.type());
            impl->synchronizeStream(impl->getStream(device));
        }
        return 0;
    })
}

int qt_driver_version(void) {
    QT_GUARD(-1, {
        int version = 0;
        if (working_driver().version(&version) != 0) throw std::runtime_error("cuDriverGetVersion failed");
        return version;
    })
}

int qt_driver_device_count(void) {
    QT_GUARD(-1, {
        int count = 0;
        if (working_driver().count(&count) != 0) throw std::runtime_error("cuDeviceGetCount failed");
        return count;
    })
}

int qt_driver_device_info(int index, char *name, int name_capacity, uint64_t *memory, int *major, int *minor) {
    QT_GUARD(-1, {
        const Driver &d = working_driver();
        int device = 0;
        size_t bytes = 0;
        if (d.device(&device, index) != 0) throw std::runtime_error("no GPU " + std::to_string(index));
        if (d.name(name, name_capacity, device) != 0 || d.memory(&bytes, device) != 0 ||
            d.attribute(major, 75, device) != 0 || d.attribute(minor, 76, device) != 0)
            throw std::runtime_error("the driver could not describe GPU " + std::to_string(index));
        *memory = bytes;
        return 0;
    })
}
