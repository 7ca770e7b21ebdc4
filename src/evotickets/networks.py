"""The paper's CNN, a small variant for 8×8 digits, and the layer table saying what is prunable.

Parameters travel through the project as a flat dict ``{"Conv_0/kernel": array, ...}`` in a
fixed order (``layer_table``), because masks, HDF5 groups and the ES search vector all index the
same flat layout. The flax tree is rebuilt only for the forward pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np


def _uniform_bias(low: float, high: float):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, low, high)

    return init


KERNEL_INITS = {
    "flax_default": nn.initializers.lecun_normal(),
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
    kernel_init_name: str = "flax_default"  # not `init`: that is flax's Module.init

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


def make_network(name: str, init: str = "flax_default") -> PaperCNN:
    """Build a network by its config name."""
    if name not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; choose one of {sorted(NETWORKS)}")
    return PaperCNN(**NETWORKS[name], kernel_init_name=init)


def flatten_params(tree) -> dict[str, np.ndarray]:
    """flax params tree → ``{"Conv_0/kernel": array}`` in the tree's (sorted) order."""
    flat = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        flat["/".join(str(p.key) for p in path)] = np.asarray(leaf)
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


def layer_table(flat: dict[str, np.ndarray], prune_output_layer: bool = True) -> list[LayerEntry]:
    """Which tensors are prunable: every kernel, the output layer's only if asked; never a bias.

    The output layer is the last Dense module in the tree's order.
    """
    dense_layers = sorted({n.split("/")[0] for n in flat if n.startswith("Dense_")})
    output_layer = dense_layers[-1] if dense_layers else None
    table, offset = [], 0
    for name, value in flat.items():
        module, leaf = name.split("/")[0], name.split("/")[-1]
        prunable = leaf == "kernel" and (prune_output_layer or module != output_layer)
        table.append(LayerEntry(name, tuple(value.shape), offset, prunable))
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


def init_params(
    network: str, input_shape: tuple[int, ...], key: jax.Array, init: str = "flax_default"
) -> dict:
    """θ0 as a flat dict, from an explicit key."""
    model = make_network(network, init)
    variables = model.init(key, jnp.zeros((1, *input_shape), jnp.float32))
    return flatten_params(variables["params"])


def from_vector_batched(vectors, table: list[LayerEntry]) -> dict:
    """Like :func:`from_vector` for a batch of flat vectors of shape (P, D)."""
    p = vectors.shape[0]
    return {e.name: vectors[:, e.offset : e.offset + e.size].reshape(p, *e.shape) for e in table}


def _max_pool_2x2(y: jax.Array) -> jax.Array:
    *lead, h, w, c = y.shape
    return y.reshape(*lead, h // 2, 2, w // 2, 2, c).max(axis=(-4, -2))


def _patches(x: jax.Array, k: int) -> jax.Array:
    """im2col for a SAME k×k convolution: (..., H, W, C) → (..., H, W, k·k·C), ordered
    (kh, kw, C) like a flax kernel's leading axes. Built from k² shifted slices: the XLA
    patches op is itself a convolution with a one-hot kernel and costs (k²C)² per pixel."""
    h, w = x.shape[-3], x.shape[-2]
    lo = (k - 1) // 2
    pad = [(0, 0)] * (x.ndim - 3) + [(lo, k - 1 - lo), (lo, k - 1 - lo), (0, 0)]
    xp = jnp.pad(x, pad)
    shifted = [xp[..., i : i + h, j : j + w, :] for i in range(k) for j in range(k)]
    return jnp.concatenate(shifted, axis=-1)


def population_log_probs(params: dict, x: jax.Array, kernel_size: int) -> jax.Array:
    """The CNN's forward pass for P members at once on one shared batch: (P, B, classes).

    Why not ``vmap(model.apply)``: a vmapped convolution with a different kernel per member
    lowers to a grouped convolution that runs far below the machine's matmul rate on CPU. Here
    each convolution is im2col + one batched matmul, and the first layer's patches are computed
    once for all members, because every member sees the same input. Equal to the flax module to
    float tolerance (tests/test_networks.py).
    """
    k = kernel_size
    conv_names = sorted({n.split("/")[0] for n in params if n.startswith("Conv_")})
    dense_name = max({n.split("/")[0] for n in params if n.startswith("Dense_")})
    p = params[f"{conv_names[0]}/kernel"].shape[0]
    y = None
    for i, name in enumerate(conv_names):
        kernel = params[f"{name}/kernel"]  # (P, k, k, C, O)
        c, o = kernel.shape[-2], kernel.shape[-1]
        w = kernel.reshape(p, k * k * c, o)  # (kh, kw, C) order, as the patches
        if i == 0:
            y = jnp.einsum("bhwk,pko->pbhwo", _patches(x, k), w)
        else:
            y = jnp.einsum("pbhwk,pko->pbhwo", _patches(y, k), w)
        y = y + params[f"{name}/bias"][:, None, None, None, :]
        y = _max_pool_2x2(jax.nn.relu(y))
    y = y.reshape(*y.shape[:2], -1)
    logits = jnp.einsum("pbf,pfo->pbo", y, params[f"{dense_name}/kernel"])
    logits = logits + params[f"{dense_name}/bias"][:, None, :]
    return jax.nn.log_softmax(logits, axis=-1)


class PolicyMLP(nn.Module):
    """The study's control policy: tanh hidden layers and a tanh output (continuous actions,
    scaled to the action range by the task) or logits (discrete actions, argmax)."""

    hidden: Sequence[int] = (64, 64)
    num_outputs: int = 1
    kernel_init_name: str = "flax_default"  # not `init`: that is flax's Module.init

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kinit = KERNEL_INITS[self.kernel_init_name]
        for h in self.hidden:
            x = jnp.tanh(nn.Dense(h, kernel_init=kinit)(x))
        return nn.Dense(self.num_outputs, kernel_init=kinit)(x)


def init_policy_params(
    hidden: Sequence[int],
    obs_dim: int,
    num_outputs: int,
    key: jax.Array,
    init: str = "flax_default",
) -> dict:
    """θ0 of a policy MLP as a flat dict."""
    model = PolicyMLP(tuple(hidden), num_outputs, init)
    variables = model.init(key, jnp.zeros((1, obs_dim), jnp.float32))
    return flatten_params(variables["params"])


def mlp_forward(params: dict, x: jax.Array) -> jax.Array:
    """The PolicyMLP's forward pass from a flat dict: pure jnp, so it vmaps over members into
    batched matmuls without flax bookkeeping in the rollout's inner loop."""
    layers = sorted({n.split("/")[0] for n in params}, key=lambda s: int(s.split("_")[1]))
    for i, name in enumerate(layers):
        x = x @ params[f"{name}/kernel"] + params[f"{name}/bias"]
        if i < len(layers) - 1:
            x = jnp.tanh(x)
    return x
