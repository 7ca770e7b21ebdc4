"""Every name the tool's registries know (tasks, strategies, GD trainers, pruning methods,
analyses, figures) and the small facts the config and the workflow need about each.

The one place the workflow and the config read names from, importing nothing heavy (no JAX,
evosax, flax, optax, gymnax or brax): Snakemake imports it, through :mod:`evotickets.config`,
while it builds the DAG, so ``snakemake -n`` of the paper grid never starts JAX. Tasks, GD
trainers, analyses and figures are defined here; strategy and pruning-method names are read
from their registries (:mod:`evotickets.strategies`, :mod:`evotickets.pruning`), which load
without JAX too. A test checks that every name here has an implementation.
"""

from __future__ import annotations

from typing import Any

from .pruning import (  # noqa: F401
    DYNAMIC_METHODS,
    HEURISTIC_METHODS,
    INIT_GRADIENT_METHODS,
    METHODS,
    PERMUTATION_METHODS,
    PERMUTED_METHOD,
    SIGMA_METHODS,
    SNR_VARIANT_STRATEGIES,
)
from .pruning import REGISTRY as PRUNING_METHODS  # noqa: F401
from .strategies import (  # noqa: F401
    ANTITHETIC,
    COMMON_KEYS,
    STRATEGIES,
    STRATEGY_KEYS,
    has_per_weight_sigma,
    hparams_problem,
    with_digest_defaults,
)
from .train.ppo_settings import PPO_DEFAULTS, PPO_OPTIONAL_KEYS

# ---- tasks -------------------------------------------------------------------------------
#: The test metric of each kind of task, as the artifacts and summary.nc's ``metric_name``
#: spell it: a fraction for vision tasks (error = 1 − accuracy), a return for control tasks.
ACCURACY_METRIC = "test_accuracy"
RETURN_METRIC = "test_return"
#: Members a vision task evaluates at once, where its config names no ``population_chunk``:
#: it must divide the population (the config check and the task read this one default).
DEFAULT_POPULATION_CHUNK = 32
#: A vision task's fitness minibatch where its config names no ``batch_size``.
DEFAULT_FITNESS_BATCH = 1024
#: Task-block keys that only the ES population fitness reads: a vision task's fitness
#: minibatch and how many members it evaluates at once, a control task's rollouts per member.
#: A gradient-descent chain (its own batch in the ``gd`` block, PPO's own rollouts) does not
#: depend on them, so its digest leaves them out: trying another ES batch does not retrain GD.
ES_FITNESS_TASK_KEYS = ("batch_size", "population_chunk", "n_repeats")


def without_es_fitness_keys(mapping: dict[str, Any]) -> dict[str, Any]:
    """``mapping`` (a task block, or a round's task attrs) without
    :data:`ES_FITNESS_TASK_KEYS`: what of it a gradient-descent chain's numbers depend on."""
    return {k: v for k, v in mapping.items() if k not in ES_FITNESS_TASK_KEYS}


#: A control policy's bias initialisers (``networks.POLICY_BIAS_INITIALIZERS``), the study's first:
#: the config fills it into every control task that names none.
POLICY_BIAS_INITS = ("uniform", "zeros")
DEFAULT_POLICY_BIAS_INIT = POLICY_BIAS_INITS[0]
#: The bias initialiser of control settings that name none (written before the key, and
#: whose digests hold without it): flax's zeros, as their θ0 was made.
UNNAMED_POLICY_BIAS_INIT = "zeros"

#: K-MNIST splits (``tasks.<t>.kmnist_split``): the official 60k/10k one, the default, or the
#: official 10k test set split 8,000 / 2,000 (:mod:`evotickets.tasks.data`).
KMNIST_SPLITS: tuple[str, ...] = ("full", "test_split")
DEFAULT_KMNIST_SPLIT = KMNIST_SPLITS[0]
#: Late rewinding's budget of a round after round 0 (``rewind_budget``): the full G
#: generations from the rewind point, the default, or the remaining G − k.
REWIND_BUDGETS: tuple[str, ...] = ("full", "remaining")
DEFAULT_REWIND_BUDGET = REWIND_BUDGETS[0]

#: The kernel initialiser a task entry without ``init`` uses (flax's default, LeCun normal):
#: the study's θ0. Entries under another scheme are Fig. 9's comparison.
DEFAULT_INIT_SCHEME = "flax_default"

VISION_TASKS = {
    # task name → (dataset name, default network)
    "digits": ("digits", "cnn_small"),
    "mnist": ("mnist", "cnn"),
    "fashion_mnist": ("fashion_mnist", "cnn"),
    "kmnist": ("kmnist", "cnn"),
}
#: The input images of each vision task (height, width, channels): digits are 8×8, the
#: MNIST family 28×28. With the network they set every tensor's shape (the dense head's too).
VISION_INPUT_SHAPE = {"digits": (8, 8, 1), "mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1),
                      "kmnist": (28, 28, 1)}  # fmt: skip
#: The kernels of a vision network on images of a shape, in layer order (the output layer's
#: last), and all its weights (biases too): what the workflow's validation, which imports no
#: JAX, checks a config's rounds and strategies against, and what check-config's odds of a
#: random mask emptying a layer read (tests/unit/test_names.py holds both equal to
#: jax.eval_shape's shapes; control policies: ``CONTROL_IO_SIZES``).
VISION_KERNEL_SIZES: dict[tuple[str, tuple[int, ...]], tuple[int, ...]] = {
    ("cnn", (8, 8, 1)): (200, 3200, 640),
    ("cnn", (28, 28, 1)): (200, 3200, 7840),
    ("cnn_small", (8, 8, 1)): (72, 1152, 640),
    ("cnn_small", (28, 28, 1)): (72, 1152, 7840),
}
VISION_WEIGHT_TOTALS: dict[tuple[str, tuple[int, ...]], int] = {
    ("cnn", (8, 8, 1)): 4074,
    ("cnn", (28, 28, 1)): 11274,
    ("cnn_small", (8, 8, 1)): 1898,
    ("cnn_small", (28, 28, 1)): 9098,
}
#: A control policy's input and output sizes by library task (observation length; actions, or
#: discrete actions' count): with its hidden sizes they set every tensor's shape, so θ0 and
#: the workflow's validation need no environment built (seconds for brax).
#: tests/unit/test_names.py holds it equal to what each environment reports.
CONTROL_IO_SIZES: dict[str, tuple[int, int]] = {
    "pendulum": (3, 1),
    "cartpole": (4, 2),
    "acrobot": (6, 3),
    "mountain_car_continuous": (2, 1),
    "ant": (27, 8),
    "ant_heavy": (27, 8),
    "halfcheetah": (17, 6),
    "hopper": (11, 3),
    "reacher": (11, 2),
    "walker2d": (17, 6),
    "humanoid": (244, 17),
    "pusher": (23, 7),
    "humanoidstandup": (244, 17),
    "inverted_double_pendulum": (8, 1),
}
#: The environment variable that names the data folder where the ``data_dir`` config key (or
#: a verb's --data-dir) does not; the workflow hands the config's folder to its jobs through
#: it (workflow/rules/common.smk), so that a moved folder is no changed param.
DATA_DIR_ENV = "EVOTICKETS_DATA_DIR"
# gymnax control tasks: our name → gymnax's environment id.
GYMNAX_TASKS = {
    "pendulum": "Pendulum-v1",
    "cartpole": "CartPole-v1",
    "acrobot": "Acrobot-v1",
    "mountain_car_continuous": "MountainCarContinuous-v0",
}
# Brax tasks: our name → brax's environment name. fetch, grasp and ur5e are gone from brax
# 0.14; their stand-ins (README): fetch → pusher, grasp → humanoidstandup,
# ur5e → inverted_double_pendulum.
BRAX_TASKS = {
    "ant": "ant",
    "ant_heavy": "ant",  # torso mass × 1.5: the paper's "Ant, torso mass 10 → 15"
    "halfcheetah": "halfcheetah",
    "hopper": "hopper",
    "reacher": "reacher",
    "walker2d": "walker2d",
    "humanoid": "humanoid",
    "pusher": "pusher",
    "humanoidstandup": "humanoidstandup",
    "inverted_double_pendulum": "inverted_double_pendulum",
}
#: brax's backend where a task entry names none (``tasks.<task>.backend``).
DEFAULT_BRAX_BACKEND = "spring"
# The one brax backend ant_heavy accepts, so the one every brax task accepts; and why (config
# validation and the task both say it).
ANT_HEAVY_BACKEND = "generalized"
ANT_HEAVY_BACKEND_ERROR = (
    "task ant_heavy scales the torso mass, but brax's {backend!r} Ant sets "
    "spring_mass_scale=1, so every link has unit mass and the change would do nothing; set "
    f"tasks.ant_heavy.backend: {ANT_HEAVY_BACKEND} (and the same for the ant task it is "
    "compared with)"
)
CONTROL_TASKS = {**{k: "gymnax" for k in GYMNAX_TASKS}, **{k: "brax" for k in BRAX_TASKS}}
#: Control tasks with discrete actions (the policy's argmax); the others are continuous.
DISCRETE_CONTROL_TASKS = frozenset({"cartpole", "acrobot"})
#: How a continuous control policy's output becomes an action (``policy_output``): ``tanh``
#: squashes it into the action range, as the study's brax policies (es-lottery's
#: ``BraxPolicy``, tanh output); ``clip`` clips the linear output to the range, as the study's
#: gymnax policies (``GymPolicy``: a linear output, which gymnax's Pendulum clips to ±2).
POLICY_OUTPUTS = ("tanh", "clip")
#: The study's output per control library; the config fills it into every continuous control
#: task that names none (this package used ``tanh`` for gymnax too until 2026-12-05).
DEFAULT_POLICY_OUTPUT = {"gymnax": "clip", "brax": "tanh"}
# Every task with its default network: the vision CNNs, or "mlp" for a control policy.
TASKS = {
    **{name: (dataset, network) for name, (dataset, network) in VISION_TASKS.items()},
    **{name: (kind, "mlp") for name, kind in CONTROL_TASKS.items()},
}
DEFAULT_HIDDEN = {"gymnax": (64, 64), "brax": (32, 32)}


def is_control(name: str) -> bool:
    """Whether library task ``name`` is a control task (a policy, scored by its return)."""
    return name in CONTROL_TASKS


def default_hidden(name: str) -> tuple[int, ...]:
    """The study's policy size: 2×64 for gymnax tasks, 2×32 for brax."""
    return DEFAULT_HIDDEN[CONTROL_TASKS[name]]


# ---- evolution strategies ------------------------------------------------------------------
# One module per strategy (evotickets/strategies/<name>.py: its keys, builder and per-weight
# σ), registered by name there. The registry loads without JAX; its names are imported above:
# STRATEGIES, ANTITHETIC (even population), COMMON_KEYS and STRATEGY_KEYS.

# ---- gradient-descent "strategies" of the chain ---------------------------------------------
# Their settings (config block ``gd:``) with the defaults. The paper's table says 20 epochs
# per round; its published config runs 2. gd_ppo (control tasks) is masked PPO, train/ppo.py,
# with the study's Pendulum settings.
GD_STRATEGIES: dict[str, dict[str, Any]] = {
    "gd_adam": {"lr": 3e-4, "batch_size": 128, "epochs": 2},
    "gd_ppo": dict(PPO_DEFAULTS),
}
# Keys a GD strategy accepts without a default filled into every config (so chains that do not
# set them keep their settings digest).
GD_OPTIONAL_KEYS: dict[str, tuple[str, ...]] = {"gd_adam": (), "gd_ppo": PPO_OPTIONAL_KEYS}
GD_TASK_KIND = {"gd_adam": "vision", "gd_ppo": "control"}


def is_gd(strategy: str) -> bool:
    """Whether a chain strategy is trained by gradient descent (no search distribution)."""
    return strategy in GD_STRATEGIES


def gd_fits_task(strategy: str, task: str) -> bool:
    """Adam trains the supervised (vision) tasks, PPO the control tasks."""
    return GD_TASK_KIND[strategy] == ("control" if is_control(task) else "vision")


# ---- pruning methods ------------------------------------------------------------------------
# One registry entry per method in evotickets.pruning (its source, score and what it reads);
# numpy only, so it loads without JAX. METHODS, HEURISTIC_METHODS, SIGMA_METHODS,
# SNR_VARIANT_STRATEGIES and PERMUTATION_METHODS are imported above.

#: Why a strategy runs fewer methods than the config lists, in words (the config's and the
#: workflow's messages; config.method_applies is the rule), from the registries.
_WITHOUT_SIGMA = ", ".join(s for s in STRATEGIES if not has_per_weight_sigma(s))
SKIPPED_METHODS = "; ".join(
    [
        f"gradient descent and ES without a per-weight σ ({_WITHOUT_SIGMA}) skip "
        + f"{', '.join(SIGMA_METHODS)}, which read σ",
        *(f"{m} runs for {', '.join(s)} only" for m, s in SNR_VARIANT_STRATEGIES.items()),
    ]
)

#: The method name of a transfer's target chain (its settings, digest and round key): the
#: target trains a ticket it was given, by no pruning method of its own.
TRANSFER_TARGET_METHOD = "transfer"
#: The method whose ticket a transfer takes where its entry names none (``source.method``'s
#: default in the schema, held equal by a test): the paper transfers SNR tickets.
TRANSFER_SOURCE_METHOD = "snr"

# ---- how a group job trains its chains (config ``resources.group_program``) -----------------
GROUP_PROGRAMS = ("sequential", "vmapped")
#: the group verbs' default; the workflow passes ``--program`` only where the config differs
DEFAULT_GROUP_PROGRAM = "sequential"

# ---- analyses and figures ------------------------------------------------------------------
ANALYSES = ("lmc", "landscape", "snr_magnitude", "layerwise")
#: The pairs LMC joins (``lmc --kind``): consecutive rounds of a chain, two seeds' chains, an
#: ES chain and its gradient-descent transfer.
LMC_KINDS = ("consecutive", "seeds", "es_gd")
#: The analyses of per-weight statistics, one rule (``weight_statistics``) for both.
WEIGHT_STATISTICS = ("snr_magnitude", "layerwise")


def analysis_file(analysis: str, lmc_kind: str | None = None, suffix: str = ".h5") -> str:
    """The file of an analysis artifact in its ``analysis/`` folder (``landscape.h5``; for
    LMC one a kind of pairs, ``lmc_seeds.h5``), or of its log (``suffix=".log"``): the one
    spelling that the rules write, the config's targets list and collect reads. A Snakemake
    wildcard (``"{stat}"``) passes through as the analysis."""
    if (analysis == "lmc") != (lmc_kind is not None) or lmc_kind not in (None, *LMC_KINDS):
        raise ValueError(
            f"analysis_file({analysis!r}, {lmc_kind!r}): LMC names one of {LMC_KINDS}, "
            "every other analysis none"
        )
    return f"{analysis}_{lmc_kind}{suffix}" if lmc_kind else f"{analysis}{suffix}"


# Each figure by what it shows, and the paper's figure number, which names its rule and its
# file (results/<exp>/figures/fig6.png); `evotickets figure` takes either name.
FIGURES_BY_NUMBER = {
    "fig1": "ticket_effect",
    "fig2": "pruning_curves",
    "fig3": "es_against_gd",
    "fig4": "transfer_across_settings",
    "fig5": "transfer_es_to_gd",
    "fig6": "lmc_and_sharpness",
    "fig7": "snr_against_magnitude",
    "fig8": "ticket_decomposition",
    "fig9": "heuristics_and_inits",
    "fig10": "loss_surfaces",
    "fig11": "layerwise_ratios",
}
# Figures beyond the paper: named by what they show, which is also their file name.
FIGURES_BEYOND = ("pruning_families", "tickets_shared")
FIGURE_NAMES = (*FIGURES_BY_NUMBER, *FIGURES_BEYOND)


def figure_number(name: str) -> str:
    """``fig6`` for ``fig6`` or ``lmc_and_sharpness``; a clear error for anything else."""
    if name in FIGURES_BY_NUMBER or name in FIGURES_BEYOND:
        return name
    by_name = {v: k for k, v in FIGURES_BY_NUMBER.items()}
    if name in by_name:
        return by_name[name]
    known = ", ".join([*(f"{k} ({v})" for k, v in FIGURES_BY_NUMBER.items()), *FIGURES_BEYOND])
    raise ValueError(f"unknown figure {name!r}; choose one of {known}")


#: summary.nc's dims of a chain's round (collect writes every chain variable on them).
CHAIN_DIMS = ("task", "strategy", "method", "seed", "iteration")
