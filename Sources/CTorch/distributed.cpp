// distributed.cpp — the process group: PyTorch's c10d TCPStore for the rendezvous and ProcessGroupGloo for
// the collectives, as torchrun and DistributedDataParallel use them; ProcessGroupNCCL instead when the ranks run
// on GPUs and libtorch has CUDA (QUADRAT_CUDA: PyPI's wheel, with the CUDA and NCCL headers beside it). Built
// only when Gloo's headers are present (Debian: libgloo-dev); otherwise every call fails with a message saying so.
#include "ctorch.h"
#include "shim.hpp"

#if __has_include(<gloo/algorithm.h>)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#ifdef QUADRAT_CUDA
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

// What runs the collectives: c10d::Backend since libtorch 2.0, c10d::ProcessGroup before.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

struct qt_process_group_s {
    c10::intrusive_ptr<c10d::Store> store;
    c10::intrusive_ptr<Collectives> group;
    bool nccl = false;
};

namespace {
std::vector<at::Tensor> tensors(qt_tensor *handles, int count) {
    std::vector<at::Tensor> out;
    for (int i = 0; i < count; i++) out.push_back(qt::unwrap(handles[i]));
    return out;
}

qt_process_group_s &unwrap(qt_process_group pg) {
    if (!pg) throw std::invalid_argument("no process group");
    return *pg;
}
}  // namespace

namespace {
c10::intrusive_ptr<Collectives> nccl_group(
    const c10::intrusive_ptr<c10d::Store> &store, int rank, int world, std::chrono::milliseconds timeout) {
#ifdef QUADRAT_CUDA
    // Blocking waits: a collective's wait() returns when the work is done and throws when a peer is gone (by
    // default NCCL's wait only orders the stream, and a lost peer aborts the process from a watchdog). Gloo's
    // promise, "a peer that leaves is an error, not a hang", holds then for NCCL too. A user's setting stays.
    setenv("TORCH_NCCL_BLOCKING_WAIT", "1", 0);
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, options);
#else
    (void)store, (void)rank, (void)world, (void)timeout;
    throw std::runtime_error("this build of Quadrat has no NCCL: build it against a libtorch with CUDA "
                             "(QUADRAT_LIBTORCH, scripts/libtorch2.sh)");
#endif
}
}  // namespace

qt_process_group qt_pg_create(
    const char *host, int port, int rank, int world, int64_t timeout_ms, const char *local_address, int backend) {
    QT_GUARD(nullptr, {
        auto timeout = std::chrono::milliseconds(timeout_ms);
        c10d::TCPStoreOptions options;
        options.port = static_cast<uint16_t>(port);
        options.isServer = rank == 0;
        options.numWorkers = world;
        options.waitWorkers = false;
        options.timeout = timeout;
        c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(host, options);
        if (backend == QT_BACKEND_NCCL) {
            return new qt_process_group_s{store, nccl_group(store, rank, world, timeout), true};
        }
        if (backend != QT_BACKEND_GLOO) throw std::invalid_argument("unknown backend code " + std::to_string(backend));
        auto gloo = c10d::ProcessGroupGloo::Options::create(timeout);
        gloo->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(local_address));
        c10::intrusive_ptr<Collectives> group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, gloo);
        return new qt_process_group_s{store, group};
    })
}

// A c10d collective's tensor list means one tensor per local device, all of one shape; several tensors of
// different shapes are one collective each, all started before any is waited on.
int qt_pg_allreduce_sum(qt_process_group pg, qt_tensor *handles, int count) {
    QT_GUARD(-1, {
        std::vector<c10::intrusive_ptr<c10d::Work>> works;
        for (auto &t : tensors(handles, count)) {
            std::vector<at::Tensor> one{t};
            works.push_back(unwrap(pg).group->allreduce(one));
        }
        for (auto &w : works) w->wait();
        return 0;
    })
}

int qt_pg_broadcast(qt_process_group pg, qt_tensor *handles, int count, int root) {
    QT_GUARD(-1, {
        c10d::BroadcastOptions options;
        options.rootRank = root;
        std::vector<c10::intrusive_ptr<c10d::Work>> works;
        for (auto &t : tensors(handles, count)) {
            std::vector<at::Tensor> one{t};
            works.push_back(unwrap(pg).group->broadcast(one, options));
        }
        for (auto &w : works) w->wait();
        return 0;
    })
}

int qt_pg_barrier(qt_process_group pg) {
    QT_GUARD(-1, {
        unwrap(pg).group->barrier()->wait();
        return 0;
    })
}

void qt_pg_free(qt_process_group pg) {
#ifdef QUADRAT_CUDA
    // libtorch 2 wants an NCCL group shut down before it is destroyed (its destructor warns, and may wait).
    if (pg && pg->nccl) {
        try {
            static_cast<c10d::ProcessGroupNCCL *>(pg->group.get())->shutdown();
        } catch (...) {
            // Freeing must not throw; the group is going away either way.
        }
    }
#endif
    delete pg;
}

int qt_nccl_built(void) {
#ifdef QUADRAT_CUDA
    return 1;
#else
    return 0;
#endif
}

#else

struct qt_process_group_s {};

static const char *no_gloo = "this build of Quadrat has no process groups: Gloo's headers were missing when it was "
                             "compiled (Debian: apt-get install libgloo-dev, then rebuild)";

qt_process_group qt_pg_create(const char *, int, int, int, int64_t, const char *, int) {
    qt::set_error(no_gloo);
    return nullptr;
}
int qt_pg_allreduce_sum(qt_process_group, qt_tensor *, int) {
    qt::set_error(no_gloo);
    return -1;
}
int qt_pg_broadcast(qt_process_group, qt_tensor *, int, int) {
    qt::set_error(no_gloo);
    return -1;
}
int qt_pg_barrier(qt_process_group) {
    qt::set_error(no_gloo);
    return -1;
}
void qt_pg_free(qt_process_group) {}
int qt_nccl_built(void) { return 0; }

#endif
