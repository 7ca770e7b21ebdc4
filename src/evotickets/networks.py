"""The paper's CNN, a small variant for 8×8 digits, and the layer table saying what is prunable.

Parameters travel through the project as a flat dict ``{"Conv_0/kernel": array, ...}`` in a
fixed order (``layer_table``), because masks, HDF5 groups and the ES search vector all index the
same flat layout. The flax tree is rebuilt only for the forward pass.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from . import batch_invariant
from .names import DEFAULT_INIT_SCHEME, UNNAMED_POLICY_BIAS_INIT


def _uniform_bias(low: float, high: float):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, low, high)

    return init


KERNEL_INITS = {
    DEFAULT_INIT_SCHEME: nn.initializers.lecun_normal(),
    "lecun_normal": nn.initializers.lecun_normal(),
    "he_normal": nn.initializers.he_normal(),
    "xavier_normal": nn.initializers.xavier_normal(),
}


class PaperCNN(nn.Module):
    """Conv(c1,k) → relu → maxpool 2 → Conv(c2,k) → relu → maxpool 2 → Dense(10) → log-softmax.

    Conv biases start uniform in [0, 0.05) as in the study; kernels and the output layer use the
    flax defaults (LeCun normal kernel, zero bias). The output bias is therefore exactly 0 at
    init, which is why masks are stored as booleans and never inferred from θ ≠ 0.
    """

    features: Sequence[int] = (8, 16)
    kernel_size: int = 5
    num_classes: int = 10
    kernel_init_name: str = DEFAULT_INIT_SCHEME  # not `init`: that is flax's Module.init

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        k = (self.kernel_size, self.kernel_size)
        kinit = KERNEL_INITS[self.kernel_init_name]
        for c in self.features:
            x = nn.Conv(
                c, k, padding="SAME", kernel_init=kinit, bias_init=_uniform_bias(0.0, 0.05)
            )(x)
            x = nn.relu(x)
            x = nn.max_pool(x, (2, 2), strides=(2, 2))
        x = x.reshape(x.shape[:-3] + (-1,))
        x = nn.Dense(self.num_classes, kernel_init=kinit)(x)
        return nn.log_softmax(x)


NETWORKS = {
    # The paper's network on 28×28 inputs: 11,274 parameters.
    "cnn": {"features": (8, 16), "kernel_size": 5},
    # The same shape of network for 8×8 digits: 3×3 kernels, 2·2·16 = 64 features → Dense(10).
    "cnn_small": {"features": (8, 16), "kernel_size": 3},
}


@dataclass(frozen=True)
class LayerEntry:
    """One parameter tensor: its name in the flat dict, shape, offset in the flat vector, and
    whether pruning may touch it."""

    name: str
    shape: tuple[int, ...]
    offset: int
    prunable: bool

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def is_kernel(self) -> bool:
        """A layer's weights (flax's ``kernel``), as opposed to its bias."""
        return self.name.split("/")[-1] == "kernel"


def make_network(name: str, init: str = DEFAULT_INIT_SCHEME) -> PaperCNN:
    """Build a network by its config name."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; choose one of {sorted(NETWORKS)}")
    return PaperCNN(**NETWORKS[name], kernel_init_name=init)


def flatten_params(tree) -> dict[str, np.ndarray]:
    """flax params tree → ``{"Conv_0/kernel": array}`` in the tree's (sorted) order. Under a
    trace (``jax.eval_shape``: a network's shapes without computing it) the leaves stay
    abstract."""
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        abstract = isinstance(leaf, jax.core.Tracer)
        flat["/".join(str(p.key) for p in path)] = leaf if abstract else np.asarray(leaf)
    return flat


def unflatten_params(flat: dict[str, jax.Array]) -> dict:
    """Inverse of :func:`flatten_params`."""
    tree: dict = {}
    for name, value in flat.items():
        node = tree
        *parents, leaf = name.split("/")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return tree


def modules(names, prefix: str = "") -> list[str]:
    """The flax modules (``Conv_0``, ``Dense_1`` …) of parameter ``names`` that start with
    ``prefix``, in the order flax numbers them: by index, so that ``Dense_10`` comes after
    ``Dense_2`` (a sort of the strings would put it first)."""
    found = {n.split("/")[0] for n in names if n.startswith(prefix)}
    return sorted(found, key=lambda m: (m.rsplit("_", 1)[0], int(m.rsplit("_", 1)[1])))


def layer_table(flat: dict[str, np.ndarray], prune_output_layer: bool = True) -> list[LayerEntry]:
    """Which tensors are prunable: every kernel, the output layer's only if asked; never a bias.

    The output layer is the last Dense module in the tree's order.
    """
    dense_layers = modules(flat, "Dense_")
    output_layer = dense_layers[-1] if dense_layers else None
    table, offset = [], 0
    for name, value in flat.items():
        entry = LayerEntry(name, tuple(value.shape), offset, False)
        prunable = entry.is_kernel and (prune_output_layer or name.split("/")[0] != output_layer)
        table.append(replace(entry, prunable=prunable))
        offset += value.size
    return table


def to_vector(flat: dict[str, np.ndarray], table: list[LayerEntry]) -> np.ndarray:
    """Concatenate tensors in table order into one flat vector."""
    return np.concatenate([np.asarray(flat[e.name]).reshape(-1) for e in table])


def from_vector(vector, table: list[LayerEntry]) -> dict:
    """Split a flat vector (numpy or jax, possibly traced) back into named tensors."""
    return {e.name: vector[e.offset : e.offset + e.size].reshape(e.shape) for e in table}


def prunable_vector(table: list[LayerEntry]) -> np.ndarray:
    """Boolean vector over the flat layout: True where pruning may act."""
    return np.concatenate([np.full(e.size, e.prunable) for e in table])


def kernel_vector(table: list[LayerEntry]) -> np.ndarray:
    """Boolean vector over the flat layout: True on the layers' weights (kernels, the output
    layer's too), False on biases: the weights of a gradient-flow score (GraSP)."""
    return np.concatenate([np.full(e.size, e.is_kernel) for e in table])


def init_params(
    network: str, input_shape: tuple[int, ...], key: jax.Array, init: str = DEFAULT_INIT_SCHEME
) -> dict:
    """θ0 as a flat dict, from an explicit key."""
    model = make_network(network, init)
    variables = model.init(key, jnp.zeros((1, *input_shape), jnp.float32))
    return flatten_params(variables["params"])


def from_vector_batched(vectors, table: list[LayerEntry]) -> dict:
    """Like :func:`from_vector` for a batch of flat vectors of shape (P, D)."""
    p = vectors.shape[0]
    return {e.name: vectors[:, e.offset : e.offset + e.size].reshape(p, *e.shape) for e in table}


def _pad_hw(y: jax.Array, k: int) -> jax.Array:
    """SAME padding for a stride-1 k×k convolution over the two minor axes, as flax pads."""
    lo = (k - 1) // 2
    return jnp.pad(y, [(0, 0)] * (y.ndim - 2) + [(lo, k - 1 - lo)] * 2)


def _tile_floats(p: int, shapes: list[tuple[int, int, int, int]], k: int) -> int:
    """Floats one image of the batch tile occupies in the largest layer, for all P members:
    conv output for the first layer; row patches plus the k partial outputs for the others."""
    per = []
    for i, (h, w, c, o) in enumerate(shapes):
        if i == 0:
            per.append(p * o * h * w + k * k * c * h * w)
        else:
            per.append(p * k * (c + o) * (h + k - 1) * w)
    return max(per)


#: Floats a batch tile's working set may take, on CPU: about a core's L2 cache (4 MiB), so
#: that each tile's intermediates stay in cache (the whole-batch form streamed ≈ 5 GB per
#: 32 members × 1,024 images through memory and ran at a tenth of the rate).
CPU_TILE_FLOATS = 1 << 20
#: The same on an accelerator (GPU): 1 GiB. There each tile is one iteration of a device
#: loop, which pays its kernels' launches and a host round trip for the loop's control
#: (XLA:GPU runs a while loop's condition on the host: jax-ml/jax#2491), and tiles are not
#: cache-bound. The CPU budget would make the paper CNN's 32-member chunk 1,024 tiles of one
#: image; this one makes it 4 tiles of 256 (≈ 1 GB in the largest layer each).
ACCELERATOR_TILE_FLOATS = 1 << 28


def tile_budget(backend: str) -> int:
    """The batch-tile budget in floats for JAX backend ``backend`` (``jax.default_backend()``)."""
    return CPU_TILE_FLOATS if backend == "cpu" else ACCELERATOR_TILE_FLOATS


def population_form(backend: str) -> str:
    """How a population's CNN forward pass runs on JAX backend ``backend``, from measurements.

    ``"batched"`` (:func:`population_log_probs`) on CPU, where the vmapped flax module's
    grouped convolution runs far below the matmul rate (bench 1: the batched form 23× faster).
    ``"vmapped"`` (``vmap`` of the flax module) elsewhere: on an H200 (2026-12-04,
    ``bench/gpu_fitness_forms.py``, the paper CNN, population 128 × batch 1,024 in chunks
    of 32) the GPU's grouped convolution took 11.2 ms a generation against 21.5 ms for the
    batched form with its accelerator tiles (fitnesses within 1.7e-6)."""
    return "batched" if backend == "cpu" else "vmapped"


def default_batch_tile(
    p: int, batch: int, shapes, k: int, budget_floats: int = CPU_TILE_FLOATS
) -> int:
    """The largest divisor of ``batch`` whose working set stays within ``budget_floats``
    (:func:`tile_budget`; the CPU's by default), at least 1."""
    want = max(1, budget_floats // max(1, _tile_floats(p, shapes, k)))
    return max(d for d in range(1, min(want, batch) + 1) if batch % d == 0)


def _conv_names(params: dict) -> list[str]:
    return modules(params, "Conv_")


def _conv_shapes(params: dict, x_shape) -> list[tuple[int, int, int, int]]:
    """Static (H, W, C_in, C_out) of each conv layer's input, in forward order (each layer
    is followed by a 2×2 pool), for input batches of shape ``x_shape`` (B, H, W, C)."""
    _, h, w, c = x_shape
    shapes = []
    for name in _conv_names(params):
        o = params[f"{name}/kernel"].shape[-1]
        shapes.append((h, w, c, o))
        h, w, c = h // 2, w // 2, o
    return shapes


def population_batch_tile(
    params: dict, x_shape, kernel_size: int, budget_floats: int | None = None
) -> int:
    """The batch tile :func:`population_log_probs` works in for a population's ``params``
    (leading axis P) and input batches of shape ``x_shape``: :func:`default_batch_tile`
    within ``budget_floats``, by default the current backend's :func:`tile_budget`."""
    p = params[f"{_conv_names(params)[0]}/kernel"].shape[0]
    budget = budget_floats or tile_budget(jax.default_backend())
    return default_batch_tile(p, x_shape[0], _conv_shapes(params, x_shape), kernel_size, budget)


def population_log_probs(
    params: dict, x: jax.Array, kernel_size: int, batch_tile: int | None = None
) -> jax.Array:
    """The CNN's forward pass for P members at once on one shared batch: (P, B, classes).

    Why not ``vmap(model.apply)``: a vmapped convolution with a different kernel per member
    lowers to a grouped convolution that runs far below the machine's matmul rate on CPU.
    Here every convolution is a matrix product, and the work is done one batch tile at a
    time (``lax.map``; tile from :func:`population_batch_tile`, within the backend's
    :func:`tile_budget`), so that on CPU each tile's intermediates stay in cache instead of
    streaming im2col tensors of gigabytes through memory (the previous form: ≈ 5 GB per 32
    members × 1024 images of the paper CNN), and on a GPU the loop has a few large tiles:

    - Layout inside a tile is channel-major, ``(P, C, b, H, W)``: spatial axes are minor.
    - Columns are ordered by 2×2 pool phase, so each convolution's output is laid out as four
      contiguous blocks whose elementwise max is the pooled map: only the pixels that survive
      the (VALID) pool are computed, and bias + relu run after the pool (both commute with
      a max over one channel).
    - First layer: every member sees the same input, so its k²·C_in patches are built once
      per tile and all members' kernels are stacked into the rows of one matrix: a single
      product ``(P·O, k²C) @ (k²C, 4·b·H/2·W/2)``.
    - Later layers ("row shift"): instead of k²-fold im2col, only the k width shifts are
      stacked (k·C rows), one batched product per member gives all k kernel rows at once
      (``(k·O, k·C) @ (k·C, b·(H+k-1)·W)``), and the k height shifts are summed afterwards
      as contiguous slices (rows are also split by phase). That is k× less copying than
      im2col for (H+k-1)/H more FLOPs.
    - The dense head runs once on all tiles' features, with its rows permuted from flax's
      (h, w, c) flattening to the (c, h, w) order used here.

    Equal to the flax module to float tolerance, pruned and zero-valued weights included
    (tests/unit/test_networks.py). ``bench/bench_cnn_fitness.py`` measures it against the
    machine's matmul peak and the vmapped flax form.
    """
    k = kernel_size
    conv_names = _conv_names(params)
    dense_name = modules(params, "Dense_")[-1]
    p = params[f"{conv_names[0]}/kernel"].shape[0]
    batch, h, w, c_in = x.shape
    last_h, last_w, _, c = _conv_shapes(params, x.shape)[-1]
    hh, ww = last_h // 2, last_w // 2  # the last pooled map, which the dense head reads
    bt = batch_tile or population_batch_tile(params, x.shape, k)
    if batch % bt:
        raise ValueError(f"batch_tile {bt} must divide the batch size {batch}")

    # Weights in the layouts the products need, prepared once outside the tile loop.
    k0 = params[f"{conv_names[0]}/kernel"]  # (P, kh, kw, C, O)
    o0 = k0.shape[-1]
    w0 = k0.reshape(p, k * k * c_in, o0).transpose(0, 2, 1).reshape(p * o0, k * k * c_in)
    b0 = params[f"{conv_names[0]}/bias"].reshape(p, o0, 1, 1, 1)
    later = []
    for name in conv_names[1:]:
        kern = params[f"{name}/kernel"]  # (P, kh, kw, C, O) → rows (kh, O), columns (kw, C)
        ci, oi = kern.shape[-2], kern.shape[-1]
        w_rows = kern.transpose(0, 1, 4, 2, 3).reshape(p, k * oi, k * ci)
        later.append((w_rows, params[f"{name}/bias"].reshape(p, oi, 1, 1, 1)))

    def tile(xt):  # (bt, H, W, C_in) → (P, bt, features)
        # First layer: patches of the shared input, one column per (pool phase, image, pixel of
        # the pooled map), so that pooling is a max over four contiguous blocks.
        xp = _pad_hw(jnp.moveaxis(xt, -1, 0), k)  # (C_in, bt, H+k-1, W+k-1)
        hh, wh = h // 2, w // 2
        cols = jnp.stack(
            [
                jnp.stack(
                    [
                        xp[..., ph + i : ph + i + 2 * hh : 2, pw + j : pw + j + 2 * wh : 2]
                        for ph in (0, 1)
                        for pw in (0, 1)
                    ]
                )
                for i in range(k)
                for j in range(k)
            ]
        )  # (k·k, 4, C_in, bt, hh, wh)
        cols = jnp.moveaxis(cols, 2, 1).reshape(k * k * c_in, 4 * bt * hh * wh)
        y = jnp.dot(w0, cols).reshape(p, o0, 4, bt, hh, wh)
        y = jnp.maximum(jnp.maximum(y[:, :, 0], y[:, :, 1]), jnp.maximum(y[:, :, 2], y[:, :, 3]))
        y = jax.nn.relu(y + b0)
        for w_rows, bias in later:
            ci, yh, yw = y.shape[1], y.shape[-2], y.shape[-1]
            oi = w_rows.shape[1] // k
            hh, wh = yh // 2, yw // 2
            r2 = hh + k // 2  # rows per row phase that the pooled outputs read
            yp = _pad_hw(y, k)
            extra = 2 * r2 - yp.shape[-2]
            if extra > 0:
                yp = jnp.pad(yp, [(0, 0)] * 3 + [(0, extra), (0, 0)])
            # Row patches: columns ordered (image, row phase, column phase, row, column).
            a = jnp.stack(
                [
                    jnp.stack(
                        [
                            yp[..., rph : rph + 2 * r2 : 2, pw + j : pw + j + 2 * wh : 2]
                            for rph in (0, 1)
                            for pw in (0, 1)
                        ],
                        axis=3,
                    )
                    for j in range(k)
                ],
                axis=1,
            )  # (P, k, C, bt, 4, r2, wh)
            a = a.reshape(p, k * ci, bt * 4 * r2 * wh)
            z = jnp.einsum("pnk,pkm->pnm", w_rows, a).reshape(p, k, oi, bt, 2, 2, r2, wh)
            phases = []
            for ph in (0, 1):
                for pw in (0, 1):
                    phases.append(
                        sum(
                            z[:, i, :, :, (ph + i) % 2, pw, (ph + i) // 2 : (ph + i) // 2 + hh]
                            for i in range(k)
                        )
                    )
            y = functools.reduce(jnp.maximum, phases)
            y = jax.nn.relu(y + bias)
        return jnp.moveaxis(y, 2, 1).reshape(p, bt, -1)

    feats = jax.lax.map(tile, x.reshape(batch // bt, bt, h, w, c_in))  # (tiles, P, bt, F)
    feats = jnp.moveaxis(feats, 0, 1).reshape(p, batch, -1)
    kd = params[f"{dense_name}/kernel"]  # (P, F, classes), F in flax's (h, w, c) order
    classes = kd.shape[-1]
    kd = kd.reshape(p, hh, ww, c, classes).transpose(0, 3, 1, 2, 4).reshape(p, -1, classes)
    logits = jnp.einsum("pbf,pfo->pbo", feats, kd) + params[f"{dense_name}/bias"][:, None, :]
    return batch_invariant.log_softmax(logits)


#: A control policy's bias initialisers by name (``policy_bias_init``): ``uniform`` is the
#: study's U[0, 0.05) on every layer (es-lottery's ``default_mlp_init``, its ES and PPO
#: networks alike); ``zeros`` is flax's default, which this package used until 2026-12-05.
POLICY_BIAS_INITIALIZERS = {"uniform": _uniform_bias(0.0, 0.05), "zeros": nn.initializers.zeros}


class PolicyMLP(nn.Module):
    """The study's control policy: tanh hidden layers and a linear output, which the task
    turns into an action (``tasks.control.ControlTask._scale``: tanh-squashed into the
    action range or clipped to it, ``policy_output``; the argmax for discrete actions)."""

    hidden: Sequence[int] = (64, 64)
    num_outputs: int = 1
    kernel_init_name: str = DEFAULT_INIT_SCHEME  # not `init`: that is flax's Module.init
    bias_init_name: str = UNNAMED_POLICY_BIAS_INIT

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kinit = KERNEL_INITS[self.kernel_init_name]
        binit = POLICY_BIAS_INITIALIZERS[self.bias_init_name]
        for h in self.hidden:
            x = jnp.tanh(nn.Dense(h, kernel_init=kinit, bias_init=binit)(x))
        return nn.Dense(self.num_outputs, kernel_init=kinit, bias_init=binit)(x)


def init_policy_params(
    hidden: Sequence[int],
    obs_dim: int,
    num_outputs: int,
    key: jax.Array,
    init: str = DEFAULT_INIT_SCHEME,
    bias_init: str | None = None,
) -> dict:
    """θ0 of a policy MLP as a flat dict. ``bias_init``: a :data:`POLICY_BIAS_INITIALIZERS` name;
    None (settings written before the key) is flax's zeros, as they were made."""
    model = PolicyMLP(tuple(hidden), num_outputs, init, bias_init or UNNAMED_POLICY_BIAS_INIT)
    variables = model.init(key, jnp.zeros((1, obs_dim), jnp.float32))
    return flatten_params(variables["params"])


def _mlp_layers(params: dict) -> list[str]:
    """The MLP's layer names (``Dense_0``, ``Dense_1``, ...) in forward order."""
    return modules(params)


def mlp_forward_features(params: dict, features: tuple[jax.Array, ...]) -> jax.Array:
    """:func:`mlp_forward` on an observation given feature by feature: the first layer is a
    sum of rank-1 terms, so the observation vector is never assembled (see
    ``tasks.control.OBS_FEATURES`` for why that matters on CPU)."""
    layers = _mlp_layers(params)
    kernel = params[f"{layers[0]}/kernel"]
    x = params[f"{layers[0]}/bias"]
    for i, f in enumerate(features):
        x = x + f[..., None] * kernel[i]
    for name in layers[1:]:
        x = jnp.tanh(x) @ params[f"{name}/kernel"] + params[f"{name}/bias"]
    return x


def mlp_forward(params: dict, x: jax.Array) -> jax.Array:
    """The PolicyMLP's forward pass from a flat dict: pure jnp, so it vmaps over members into
    batched matmuls without flax bookkeeping in the rollout's inner loop."""
    layers = _mlp_layers(params)
    for i, name in enumerate(layers):
        x = x @ params[f"{name}/kernel"] + params[f"{name}/bias"]
        if i < len(layers) - 1:
            x = jnp.tanh(x)
    return x
