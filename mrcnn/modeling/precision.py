"""Mixed precision (Config.DTYPE_POLICY), and what "auto" resolves to.

Under "mixed_bfloat16" or "mixed_float16" the convolutions and dense layers
of the backbone, the FPN, the RPN's shared convolution and the heads compute
in bfloat16 / float16 while their variables stay float32 (checkpoints are
the same files under every policy). Everything geometric (anchors, box
deltas, proposals and their NMS, ROIAlign and crop_and_resize, detection
targets, the detection layer), the normalisation statistics (BatchNorm and
GroupNorm compute in float32), every output that a loss or a user reads
(logits, probabilities, box deltas, mask logits), the losses and the L2
weight decay stay float32: bfloat16 keeps 8 bits of mantissa, too few for
box coordinates or a softmax, and float16 reaches only 65504, which
exp(), box sizes in pixels and sums of squares exceed.

The float16 ops are then Conv2D, BiasAdd, Relu, MaxPool, Pad (ResNet),
AddV2, the reshapes of UpSampling2D, the transposed convolution of the mask
head and their gradients; TensorFlow's CPU kernels cover all of them (listed
by benchmarks/float16_ops.py). float16 gradients that would underflow are
kept by loss scaling (mrcnn/training/optimizer.py).

DTYPE_POLICY "auto" takes the fastest policy that the hardware computes
natively (`resolve_precision`): bfloat16 on GPUs of compute capability 8.0
or more and on CPUs with AVX512_BF16 or AMX-BF16 instructions, float16 on
GPUs of compute capability 7.x (tensor cores, no bfloat16), float32
elsewhere (bfloat16 emulated on a CPU without those instructions is several
times slower than float32: docs/mixed-precision.md).
"""
import contextlib
import dataclasses
import functools
import os

import keras

from mrcnn.config import DTYPE_POLICIES

AUTO = "auto"
# The policies "auto" can stand for.
POLICIES = tuple(p for p in DTYPE_POLICIES if p != AUTO)

FLOAT32 = "float32"


class Float32Layer(keras.layers.Layer):
    """A layer that computes in float32 whatever the global dtype policy;
    floating inputs are cast to float32 when it is called."""

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", FLOAT32)
        super().__init__(**kwargs)


@contextlib.contextmanager
def dtype_policy(name):
    """Build layers under the Keras dtype policy `name` (e.g.
    "mixed_bfloat16"), then restore the previous global policy."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


@dataclasses.dataclass(frozen=True)
class Precision:
    """The Keras dtype policy a network computes in, and why.

    policy: "float32", "mixed_bfloat16" or "mixed_float16".
    setting: the Config.DTYPE_POLICY it comes from ("auto" or the policy).
    reason: one line for the log (what "auto" found).
    """
    policy: str
    setting: str
    reason: str

    def describe(self):
        """E.g. "mixed_bfloat16 (DTYPE_POLICY 'auto': this CPU has AVX512_BF16)"."""
        if self.setting == AUTO:
            return f"{self.policy} (DTYPE_POLICY 'auto': {self.reason})"
        return f"{self.policy} (DTYPE_POLICY)"


def choose_policy(gpu_capabilities, cpu_flags):
    """What "auto" picks for the hardware described.

    gpu_capabilities: the (major, minor) compute capability of each GPU
        TensorFlow sees (empty: none; None for a GPU that reports none).
    cpu_flags: the CPU's feature flags, lower case (Linux /proc/cpuinfo).
    Returns (policy, reason).
    """
    if gpu_capabilities:
        known = [c for c in gpu_capabilities if c]
        if len(known) < len(gpu_capabilities):
            return "float32", "a GPU reports no compute capability"
        lowest = min(known)
        shown = f"{lowest[0]}.{lowest[1]}"
        if lowest >= (8, 0):
            return "mixed_bfloat16", f"GPU compute capability {shown} computes bfloat16"
        if lowest >= (7, 0):
            return "mixed_float16", (f"GPU compute capability {shown} computes float16 "
                                     "(bfloat16 needs 8.0)")
        return "float32", f"GPU compute capability {shown} has no fast float16 or bfloat16"
    native = sorted({"avx512_bf16", "amx_bf16"} & set(cpu_flags))
    if native:
        return "mixed_bfloat16", f"this CPU has {', '.join(f.upper() for f in native)}"
    return "float32", ("this CPU has no bfloat16 instructions (AVX512_BF16 or AMX-BF16), "
                       "on which bfloat16 would be slower than float32")


def cpu_flags(path="/proc/cpuinfo"):
    """The CPU's feature flags (Linux); empty where the file is absent
    (macOS, Windows), which "auto" treats as a CPU without bfloat16."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].lower().split())
    except OSError:
        pass
    return frozenset()


def gpu_capabilities():
    """[(major, minor) or None] of the GPUs TensorFlow sees."""
    import tensorflow as tf

    found = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            found.append(tf.config.experimental.get_device_details(gpu).get("compute_capability"))
        except (RuntimeError, ValueError):
            found.append(None)
    return found


@functools.lru_cache(maxsize=None)
def _hardware_choice():
    return choose_policy(gpu_capabilities(), cpu_flags())


def resolve_precision(setting):
    """Precision of Config.DTYPE_POLICY `setting`: "auto" looks at the
    hardware once per process (choose_policy); any other value is the
    policy itself. MRCNN_AUTO_DTYPE_POLICY, when set, is what "auto" takes
    (e.g. to compare a machine's choice with the others)."""
    if setting != AUTO:
        return Precision(setting, setting, "")
    forced = os.environ.get("MRCNN_AUTO_DTYPE_POLICY")
    if forced:
        if forced not in POLICIES:
            raise ValueError(f"MRCNN_AUTO_DTYPE_POLICY is {forced!r}; use one of {list(POLICIES)} "
                             "or unset it")
        return Precision(forced, AUTO, "MRCNN_AUTO_DTYPE_POLICY")
    policy, reason = _hardware_choice()
    return Precision(policy, AUTO, reason)
