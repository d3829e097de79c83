// ctorch.h — the C face of libtorch that Quadrat uses.
//
// Rules (after tch-rs's torch_api.h):
// - every name starts with `qt_`;
// - a tensor is an opaque handle (`qt_tensor`) that the caller frees with `qt_free`;
// - no C++ exception crosses this boundary: on failure a function returns NULL
//   (or -1 / 0, as documented) and records a message that `qt_last_error` returns
//   until `qt_clear_error` is called. The error is thread-local.
#ifndef QUADRAT_CTORCH_H
#define QUADRAT_CTORCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qt_tensor_s *qt_tensor;

// ---- codes: the one list Swift and the shim both read ----------------------------

/// Element types. The values are c10::ScalarType's; the shim checks that at compile time.
enum { QT_UINT8 = 0, QT_INT32 = 3, QT_INT64 = 4, QT_FLOAT16 = 5, QT_FLOAT32 = 6, QT_FLOAT64 = 7, QT_BOOL = 11,
       QT_BFLOAT16 = 15 };
/// Memory formats: NCHW row-major, channels-last (NHWC in memory), or whatever the tensor has.
enum { QT_CONTIGUOUS = 0, QT_CHANNELS_LAST = 1, QT_PRESERVE = 2 };
/// What qt_fill puts in a new tensor.
enum { QT_FILL_FULL = 0, QT_FILL_RAND = 1, QT_FILL_RANDN = 2, QT_FILL_EMPTY = 3 };
/// How a loss reduces over the batch.
enum { QT_REDUCTION_NONE = 0, QT_REDUCTION_MEAN = 1, QT_REDUCTION_SUM = 2 };
/// qt_grid_sample's interpolation and padding.
enum { QT_GRID_BILINEAR = 0, QT_GRID_NEAREST = 1 };
enum { QT_GRID_ZEROS = 0, QT_GRID_BORDER = 1, QT_GRID_REFLECTION = 2 };

// ---- errors, lifetime, runtime ------------------------------------------------

/// The message of the last failure on this thread, or NULL.
const char *qt_last_error(void);
void qt_clear_error(void);

/// Frees a handle (NULL is ignored).
void qt_free(qt_tensor t);
/// Number of handles alive (for leak tests).
int64_t qt_live_tensors(void);

void qt_set_num_threads(int n);
/// Keeps freed memory in the process (glibc mallopt) instead of returning each big tensor's pages to
/// the kernel, which hands out fresh zeroed pages for the next batch. Returns 1 when glibc took it.
int qt_keep_freed_memory(void);
/// How many malloc arenas the process has made (the heaps in glibc's `malloc_info` report); -1 without glibc.
int qt_malloc_arenas(void);
/// The kernels OpenBLAS chose for this CPU (its `openblas_get_corename`, "Prescott" for a CPU it does not know), or
/// NULL when the process has another BLAS.
const char *qt_blas_core(void);
int qt_get_num_threads(void);
void qt_manual_seed(uint64_t seed);
/// Returns the libtorch version as "major.minor.patch".
const char *qt_version(void);

int qt_grad_enabled(void);
void qt_set_grad_enabled(int enabled);
/// Enters c10::InferenceMode; pass the result to qt_inference_mode_exit on the same thread.
void *qt_inference_mode_enter(void);
void qt_inference_mode_exit(void *guard);

/// Autocast (mixed precision) on the default device's type: convolutions and matrix products run in `dtype`
/// (bfloat16, or float16 on an older GPU) while parameters stay float32. Enter and exit pair like `torch.autocast`'s __enter__/__exit__, so scopes nest:
/// qt_autocast_enter stores the previous state in *previous_enabled / *previous_dtype and returns 0 (-1 on
/// error); qt_autocast_exit restores it and clears the cast cache when the outermost scope ends.
int qt_autocast_enter(int dtype, int *previous_enabled, int *previous_dtype);
int qt_autocast_exit(int previous_enabled, int previous_dtype);
/// Whether autocast is on for the default device's type (1/0).
int qt_autocast_enabled(void);
/// Turns autocast on the default device on (1) or off (0); returns its previous state (1 or 0), -1 on error.
int qt_autocast_set_enabled(int enabled);

// ---- devices (device.cpp) ----------------------------------------------------------

/// Device types; the values are c10::DeviceType's.
enum { QT_DEVICE_CPU = 0, QT_DEVICE_CUDA = 1 };
/// Sets the device every creation function below puts its tensors on (at start: QUADRAT_DEVICE's, or the CPU).
/// An index of -1 means 0 for CUDA, which also becomes the calling thread's current device (the shim makes it
/// current on any thread that creates a tensor there) and turns cuDNN's autotuning on (cudnn.benchmark). -1 with a message saying why when the device is not there
/// (a CPU-only libtorch, no driver, too few GPUs).
int qt_set_default_device(int type, int index);
/// The default device; -1 (and the CPU) when QUADRAT_DEVICE names one that is not there or no device at all.
int qt_default_device(int *type, int *index);
/// A tensor's device; -1 on error.
int qt_tensor_device(qt_tensor t, int *type, int *index);
/// A copy on another device (the same tensor when it is there already); non_blocking from pinned memory.
qt_tensor qt_to_device(qt_tensor t, int type, int index, int non_blocking);
/// 1 when this libtorch was built with CUDA (whether or not a GPU is there).
int qt_cuda_built(void);
/// GPUs this libtorch can use: 0 with a CPU-only libtorch or without a driver.
int qt_cuda_device_count(void);
/// The CUDA runtime and cuDNN versions this libtorch was built with (e.g. 13020, 92600); -1 without CUDA.
int qt_cuda_versions(int64_t *runtime, int64_t *cudnn);
/// Waits for the default device's queued work (a no-op on the CPU). 0, or -1 on error.
int qt_synchronize(void);
/// The NVIDIA driver's CUDA version (e.g. 13000), asked of libcuda directly; -1 when there is no driver.
int qt_driver_version(void);
/// GPUs the driver sees; -1 when there is no driver.
int qt_driver_device_count(void);
/// GPU `index` as the driver describes it: its name, memory in bytes and compute capability. 0, or -1.
int qt_driver_device_info(int index, char *name, int name_capacity, uint64_t *memory, int *major, int *minor);

// ---- creation (on the default device) ------------------------------------------------

/// Copies `data` (elements laid out by `strides`, in elements) into a new contiguous tensor.
/// `strides` may be NULL for row-major data.
qt_tensor qt_from_data(const void *data, const int64_t *sizes, const int64_t *strides, int ndim, int dtype);
/// kind: a QT_FILL_ code (full of `value`, uniform [0, 1), standard normal, uninitialised).
qt_tensor qt_fill(const int64_t *sizes, int ndim, int dtype, int kind, double value);
qt_tensor qt_arange(double start, double end, double step, int dtype);
/// Random permutation of 0..<n (int64), from the global generator.
qt_tensor qt_randperm(int64_t n);

// ---- inspection -----------------------------------------------------------------

int qt_dim(qt_tensor t);
void qt_sizes(qt_tensor t, int64_t *out);
void qt_strides(qt_tensor t, int64_t *out);
int qt_dtype(qt_tensor t);
int64_t qt_numel(qt_tensor t);
/// memory_format: a QT_ memory-format code.
int qt_is_contiguous(qt_tensor t, int memory_format);
/// Copies the elements in row-major order into `out` (capacity `nbytes`). Returns 0, or -1 on error.
int qt_copy_to(qt_tensor t, void *out, int64_t nbytes);
/// The single element as a double (fails if numel != 1).
double qt_item(qt_tensor t);

// ---- conversion and autograd ----------------------------------------------------

qt_tensor qt_to_dtype(qt_tensor t, int dtype);
qt_tensor qt_contiguous(qt_tensor t, int memory_format);
qt_tensor qt_clone(qt_tensor t);
qt_tensor qt_detach(qt_tensor t);
/// Returns 0 on success, -1 on error.
int qt_set_requires_grad(qt_tensor t, int flag);
int qt_requires_grad(qt_tensor t);
/// Sets *out to the gradient, or to NULL when there is none. Returns 0, or -1 on error.
int qt_grad(qt_tensor t, qt_tensor *out);
/// Drops the gradient (like `p.grad = None`).
int qt_zero_grad(qt_tensor t);
/// `gradient` may be NULL for a scalar.
int qt_backward(qt_tensor t, qt_tensor gradient);

// ---- element-wise ---------------------------------------------------------------

enum {
    QT_ADD = 0, QT_SUB, QT_MUL, QT_DIV, QT_POW, QT_MAXIMUM, QT_MINIMUM,
    QT_EQ, QT_NE, QT_LT, QT_LE, QT_GT, QT_GE, QT_ATAN2
};
qt_tensor qt_binary(int op, qt_tensor a, qt_tensor b);
qt_tensor qt_binary_scalar(int op, qt_tensor a, double s);

enum {
    QT_NEG = 0, QT_EXP, QT_LOG, QT_SQRT, QT_ABS, QT_RELU, QT_RELU6, QT_SIGMOID,
    QT_TANH, QT_SIN, QT_COS, QT_FLOOR, QT_ROUND, QT_LOGICAL_NOT, QT_ISNAN, QT_SIGN
};
qt_tensor qt_unary(int op, qt_tensor a);
qt_tensor qt_clamp(qt_tensor t, double lo, double hi);
qt_tensor qt_where(qt_tensor cond, qt_tensor a, qt_tensor b);

// ---- reductions -----------------------------------------------------------------

enum { QT_SUM = 0, QT_MEAN, QT_AMAX, QT_AMIN, QT_PROD, QT_VAR, QT_STD };
/// ndims == 0 reduces over all dimensions.
qt_tensor qt_reduce(int op, qt_tensor t, const int64_t *dims, int ndims, int keepdim);
qt_tensor qt_argmax(qt_tensor t, int64_t dim, int keepdim);
/// Writes the k largest values and their indices along `dim`.
int qt_topk(qt_tensor t, int64_t k, int64_t dim, qt_tensor *values, qt_tensor *indices);
qt_tensor qt_sort(qt_tensor t, int64_t dim, int descending, qt_tensor *indices);

// ---- shape ----------------------------------------------------------------------

qt_tensor qt_reshape(qt_tensor t, const int64_t *sizes, int n);
qt_tensor qt_permute(qt_tensor t, const int64_t *dims, int n);
qt_tensor qt_transpose(qt_tensor t, int64_t d0, int64_t d1);
qt_tensor qt_narrow(qt_tensor t, int64_t dim, int64_t start, int64_t length);
qt_tensor qt_select(qt_tensor t, int64_t dim, int64_t index);
qt_tensor qt_index_select(qt_tensor t, int64_t dim, qt_tensor index);
qt_tensor qt_cat(const qt_tensor *ts, int n, int64_t dim);
qt_tensor qt_stack(const qt_tensor *ts, int n, int64_t dim);
qt_tensor qt_unsqueeze(qt_tensor t, int64_t dim);
qt_tensor qt_squeeze(qt_tensor t, int64_t dim);
qt_tensor qt_expand(qt_tensor t, const int64_t *sizes, int n);
qt_tensor qt_flip(qt_tensor t, const int64_t *dims, int n);
qt_tensor qt_as_strided(qt_tensor t, const int64_t *sizes, const int64_t *strides, int n, int64_t offset);
qt_tensor qt_matmul(qt_tensor a, qt_tensor b);
/// L with a = L Lᵀ (a symmetric positive-definite); an error when a is not positive definite.
qt_tensor qt_cholesky(qt_tensor a);
/// X with a X = b for a triangular a (lower unless upper is nonzero).
qt_tensor qt_solve_triangular(qt_tensor a, qt_tensor b, int upper);

// ---- neural-network ops ---------------------------------------------------------

/// bias may be NULL.
qt_tensor qt_linear(qt_tensor x, qt_tensor w, qt_tensor b);
qt_tensor qt_conv2d(qt_tensor x, qt_tensor w, qt_tensor b, const int64_t *stride, const int64_t *padding,
                    const int64_t *dilation, int64_t groups);
/// weight, bias, running_mean, running_var may each be NULL. In training the running stats are updated in place.
qt_tensor qt_batch_norm(qt_tensor x, qt_tensor w, qt_tensor b, qt_tensor mean, qt_tensor var, int training,
                        double momentum, double eps);
qt_tensor qt_max_pool2d(qt_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding, int ceil_mode);
qt_tensor qt_avg_pool2d(qt_tensor x, const int64_t *kernel, const int64_t *stride, const int64_t *padding, int ceil_mode,
                        int count_include_pad);
qt_tensor qt_adaptive_avg_pool2d(qt_tensor x, const int64_t *out_size);
qt_tensor qt_adaptive_max_pool2d(qt_tensor x, const int64_t *out_size);
qt_tensor qt_dropout(qt_tensor x, double p, int training);
qt_tensor qt_softmax(qt_tensor x, int64_t dim);
qt_tensor qt_log_softmax(qt_tensor x, int64_t dim);
/// reduction: a QT_REDUCTION_ code. weight may be NULL.
qt_tensor qt_cross_entropy(qt_tensor logits, qt_tensor target, qt_tensor weight, int reduction, double label_smoothing);
qt_tensor qt_nll_loss(qt_tensor logp, qt_tensor target, qt_tensor weight, int reduction);
/* Binary cross-entropy of logits against float targets of the same shape; pos_weight (one per column) may be null. */
qt_tensor qt_bce_with_logits(qt_tensor logits, qt_tensor target, qt_tensor pos_weight, int reduction);
/// pads: pairs (left, right) starting from the last dimension, as torch.nn.functional.pad.
qt_tensor qt_pad(qt_tensor x, const int64_t *pads, int n, double value);
/// Bilinear resize of an NCHW float tensor to out_size (h, w).
qt_tensor qt_interpolate_bilinear(qt_tensor x, const int64_t *out_size, int align_corners, int antialias);
/// theta N×2×3, size (N, C, H, W).
qt_tensor qt_affine_grid(qt_tensor theta, const int64_t *size, int align_corners);
/// mode: QT_GRID_BILINEAR or QT_GRID_NEAREST; padding: QT_GRID_ZEROS, QT_GRID_BORDER or QT_GRID_REFLECTION.
qt_tensor qt_grid_sample(qt_tensor x, qt_tensor grid, int mode, int padding, int align_corners);

// ---- in place (optimizers, state loading); each returns 0, or -1 on error ---------

int qt_copy_(qt_tensor dst, qt_tensor src);
/// Replaces t's data (shape, layout, dtype) with src's, keeping t's identity and requires_grad (`t.data = src`).
int qt_set_data(qt_tensor t, qt_tensor src);
/// t += alpha * other
int qt_add_(qt_tensor t, qt_tensor other, double alpha);
int qt_mul_scalar_(qt_tensor t, double s);
/// t = min(max(t, lower), upper)
int qt_clamp_(qt_tensor t, double lower, double upper);
/// t = max(t, 0)
int qt_relu_(qt_tensor t);
/// t += value * a * b
int qt_addcmul_(qt_tensor t, qt_tensor a, qt_tensor b, double value);
/// t += value * a / b
int qt_addcdiv_(qt_tensor t, qt_tensor a, qt_tensor b, double value);

// ---- INT8 inference: quantized tensors and prepacked convolutions (libtorch's quantized operators) -----

/// A convolution's int8 weight and float bias prepacked for the quantized engine; free with qt_qconv_free.
typedef struct qt_qconv_s *qt_qconv;

/// Selects the quantized engine by name ("onednn", "fbgemm", "qnnpack"); 0, or -1 when this libtorch lacks it.
int qt_set_quantized_engine(const char *name);
/// The engine in use, as libtorch names it ("ONEDNN", …).
const char *qt_quantized_engine(void);
/// Float to uint8 with one scale and zero point for the whole tensor: q = clamp(round(x / scale) + zero_point).
qt_tensor qt_quantize_per_tensor(qt_tensor x, double scale, int64_t zero_point);
/// Float to int8 with one scale per slice along `axis` (float64 `scales`), zero points 0 (symmetric weights).
qt_tensor qt_quantize_per_channel(qt_tensor x, qt_tensor scales, int64_t axis);
/// A quantized tensor back to float32.
qt_tensor qt_dequantize(qt_tensor q);
/// The stored integers of a quantized tensor (uint8 or int8).
qt_tensor qt_int_repr(qt_tensor q);
/// Prepacks an int8 weight (per-channel quantized, out × in/groups × kh × kw) and a float32 bias (may be NULL)
/// for qt_qconv_run; stride, padding and dilation are pairs. NULL on error.
qt_qconv qt_qconv_prepack(
    qt_tensor weight, qt_tensor bias, const int64_t *stride, const int64_t *padding, const int64_t *dilation,
    int64_t groups);
/// The quantized convolution of a uint8 input; the output is uint8 with `scale` and `zero_point`, through a ReLU
/// first when `relu` is 1.
qt_tensor qt_qconv_run(qt_qconv conv, qt_tensor x, double scale, int64_t zero_point, int relu);
/// Frees a prepacked convolution (NULL is ignored).
void qt_qconv_free(qt_qconv conv);
/// Zero-pads a 4-d uint8 tensor (the padding holds its zero point), keeping its memory format.
qt_tensor qt_qpad(qt_tensor q, int64_t left, int64_t right, int64_t top, int64_t bottom);
/// a + b of two uint8 tensors, requantized to `scale` and `zero_point` (through a ReLU when `relu` is 1).
qt_tensor qt_qadd(qt_tensor a, qt_tensor b, double scale, int64_t zero_point, int relu);

// ---- oneDNN networks: convolutions called directly, for float32, bfloat16 and INT8 inference ---------------

/// A feed-forward network of oneDNN convolutions and max pools in the layouts oneDNN picks, each ReLU or ReLU6 and
/// each residual sum fused into its convolution; free with qt_dnnl_free.
typedef struct qt_dnnl_s *qt_dnnl;

/// 1 when the shim was built with oneDNN (Debian's libdnnl-dev beside Debian's libtorch), else 0.
int qt_dnnl_available(void);
/// An empty network computing in bfloat16 (`bf16` 1) or float32; value 0 is its input. NULL on error.
qt_dnnl qt_dnnl_new(int bf16);
/// Adds a convolution of value `input` (float32 `weight` out × in/groups × kh × kw, `bias` or NULL; stride and the
/// paddings before and after are pairs), then `residual` added (a value, or -1) and an activation (0 none, 1 ReLU,
/// 2 ReLU6). The residual value must not be read again: its buffer takes the sum. Returns the new value, -1 on error.
int qt_dnnl_conv(
    qt_dnnl net, int input, qt_tensor weight, qt_tensor bias, const int64_t *stride, const int64_t *pad_begin,
    const int64_t *pad_end, int64_t groups, int residual, int activation);
/// Adds a max pool of value `input` (kernel, stride and paddings are pairs). Returns the new value, -1 on error.
int qt_dnnl_max_pool(
    qt_dnnl net, int input, const int64_t *kernel, const int64_t *stride, const int64_t *pad_begin,
    const int64_t *pad_end);
/// An empty INT8 network: its float32 input is quantized to uint8 as `q = clamp(round(x · (1 / scale)) +
/// zero_point, 0, 255)`, and every value its INT8 layers make is uint8 with its own scale and zero point. With
/// `scale` 0 the input stays float32, for qt_dnnl_conv_float_int8 layers to read. NULL on error (no oneDNN, or no
/// INT8 kernels of oneDNN's own for this CPU).
qt_dnnl qt_dnnl_new_int8(double scale, int64_t zero_point);
/// Adds a convolution to an INT8 network: `integers` (float32 holding whole numbers in −127…127, out × in/groups ×
/// kh × kw) times `weight_scales` (one per output channel) are the weights, `bias` (float32 or NULL) is added in
/// float, then `residual` and the activation as qt_dnnl_conv; the result is quantized to `scale` and `zero_point`
/// (unrounded until then: the sum and the activation see the convolution's exact output). Returns the new value.
int qt_dnnl_conv_int8(
    qt_dnnl net, int input, qt_tensor integers, qt_tensor weight_scales, qt_tensor bias, const int64_t *stride,
    const int64_t *pad_begin, const int64_t *pad_end, int64_t groups, int residual, int activation, double scale,
    int64_t zero_point);
/// Adds a float32 convolution to an INT8 network, as qt_dnnl_conv (no residual): it reads a float32 value (the
/// input kept float32, or another such layer's output) and its output is quantized to `scale` and `zero_point`,
/// or stays float32 when `scale` is 0. Returns the new value, -1 on error.
int qt_dnnl_conv_float_int8(
    qt_dnnl net, int input, qt_tensor weight, qt_tensor bias, const int64_t *stride, const int64_t *pad_begin,
    const int64_t *pad_end, int64_t groups, int activation, double scale, int64_t zero_point);
/// Runs the network on a float32 N×C×H×W CPU tensor and returns value `output` as a float32 NCHW tensor. The
/// primitives and buffers for each input shape are made on its first run and kept; an INT8 network's uint8 value is
/// dequantized. NULL on error.
qt_tensor qt_dnnl_run(qt_dnnl net, qt_tensor x, int output);
/// Frees a network (NULL is ignored).
void qt_dnnl_free(qt_dnnl net);

// ---- distributed: PyTorch's c10d (TCPStore rendezvous + ProcessGroupGloo over TCP, or NCCL) ----------

typedef struct qt_process_group_s *qt_process_group;
/// Who runs the collectives: Gloo (tensors on the CPU) or NCCL (tensors on each rank's GPU).
enum { QT_BACKEND_GLOO = 0, QT_BACKEND_NCCL = 1 };

/// Joins the group `world` processes form through the TCPStore at host:port (rank 0 hosts it). Waits at most
/// timeout_ms for the others; NULL on error (a peer that never comes, a port in use, a build without Gloo, NCCL
/// without CUDA). Gloo listens on local_address, this machine's address on the network that reaches host; NCCL
/// uses each rank's current CUDA device (qt_set_default_device).
qt_process_group qt_pg_create(
    const char *host, int port, int rank, int world, int64_t timeout_ms, const char *local_address, int backend);
/// Sums each tensor over the group, in place on every rank. 0, or -1 on error.
int qt_pg_allreduce_sum(qt_process_group pg, qt_tensor *tensors, int count);
/// Copies each tensor from rank `root` to every rank, in place. 0, or -1 on error.
int qt_pg_broadcast(qt_process_group pg, qt_tensor *tensors, int count, int root);
/// Returns when every rank has called it. 0, or -1 on error.
int qt_pg_barrier(qt_process_group pg);
void qt_pg_free(qt_process_group pg);
/// 1 when this build has NCCL (a CUDA libtorch with its headers: QUADRAT_CUDA), else 0.
int qt_nccl_built(void);

#ifdef __cplusplus
}
#endif

#endif
