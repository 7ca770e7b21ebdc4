"""Typed settings: what determines an artifact's numbers, as frozen dataclasses.

The rules hand each verb its settings as one JSON string (a Snakemake param, so a job whose
settings changed is rerun); the verb reads it back with ``from_json`` and uses attributes, not
string keys. The JSON form, ``to_dict``, is key for key the dict that earlier versions sent, so
the config digest of every existing artifact is unchanged and no finished result is recomputed
(``tests/unit/test_settings.py`` checks the digests of the default run).

- :class:`InitSettings`: what determines θ0 of a (task, seed).
- :class:`ChainSettings`: what determines a pruning chain of (task, strategy, method, seed).
- :class:`TransferSettings`: a source chain's tickets trained in a target setting.

The config (:mod:`evotickets.config`) builds them; this module imports nothing heavy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .names import (
    DEFAULT_INIT_SCHEME,
    DEFAULT_REWIND_BUDGET,
    GD_STRATEGIES,
    METHODS,
    POLICY_BIAS_INITS,
    REWIND_BUDGETS,
    STRATEGIES,
    TASKS,
    TRANSFER_TARGET_METHOD,
    UNNAMED_POLICY_BIAS_INIT,
    default_hidden,
    is_control,
    is_gd,
    with_digest_defaults,
    without_es_fitness_keys,
)
from .schema import analysis_defaults, check_analysis_options, load_schema


def digest(settings: dict) -> str:
    """A short hash of the settings that produced an artifact. ``data_dir`` is where the data
    live, not what they are (their content is checksummed), so it is left out."""
    canon = {k: v for k, v in settings.items() if k != "data_dir"}
    return hashlib.sha256(json.dumps(canon, sort_keys=True).encode()).hexdigest()[:16]


class _Json:
    """``to_json`` / ``from_json`` / ``digest`` from each class's ``to_dict`` / ``from_dict``."""

    def to_dict(self) -> dict:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def digest_form(self) -> dict:
        """What :meth:`digest` hashes: the JSON form, less what a class knows does not
        determine its numbers (:meth:`ChainSettings.digest_form`)."""
        return self.to_dict()

    def digest(self) -> str:
        """The digest an artifact of these settings is written with."""
        return digest(self.digest_form())

    def accepted_digests(self) -> tuple[str, ...]:
        """The digests an artifact of these settings may carry: :meth:`digest` first (what
        is written now), then the whole JSON form's, which is what versions before
        :meth:`digest_form` left keys out wrote; the two differ only for the chains whose
        form leaves keys out, so their finished artifacts stay valid."""
        return tuple(dict.fromkeys((self.digest(), digest(self.to_dict()))))

    @classmethod
    def from_json(cls, text: str, flag: str = "--settings"):
        """The settings of a ``flag`` argument (``--settings``, ``--analysis``, …), or a
        ValueError that says what is wrong with it (the verbs' callers, the workflow's
        rules, write it from the config)."""
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as err:
            raise ValueError(f"{flag} is not JSON ({err}): {text[:200]!r}") from err
        except SettingsProblem as err:
            raise ValueError(f"{flag} {err}") from err
        except (KeyError, TypeError, AttributeError) as err:
            raise ValueError(
                f"{flag} is not a {cls.__name__} JSON (missing or malformed {err}); the "
                "workflow's rules write it from the config: see `snakemake -n -p`"
            ) from err

    @classmethod
    def from_dict(cls, d: dict):  # pragma: no cover
        raise NotImplementedError


class SettingsProblem(ValueError):
    """A settings JSON names a task, strategy, method or budget no registry knows, or gives
    a value none accepts (an empty hidden layer)."""


def _known(what: str, name: str, names) -> None:
    """A name in settings JSON must be one the registries know (a typo in a JSON written by
    hand failed later with a bare KeyError)."""
    if name not in names:
        raise SettingsProblem(
            f"names an unknown {what} {name!r}; known: {', '.join(sorted(names))} (the "
            "workflow's rules write it from a checked config: see `snakemake -n -p`)"
        )


@dataclass(frozen=True)
class InitSettings(_Json):
    """θ0 of (task, seed): shared by every strategy and method of the pair."""

    task: str
    network: str
    prune_output_layer: bool
    seed: int
    #: the library task an alias entry runs (only aliases carry it, so old digests hold)
    library_task: str | None = None
    #: a control policy's hidden sizes
    hidden: tuple[int, ...] | None = None
    #: a non-default init scheme (the default is left out, so old digests hold)
    init: str | None = None
    #: a control policy's bias initialiser (``networks.POLICY_BIAS_INITIALIZERS``); the config fills
    #: it into every control task, so control digests name it; None (settings of before the
    #: key, and vision tasks) is flax's zeros
    policy_bias_init: str | None = None

    @property
    def base_task(self) -> str:
        return self.library_task or self.task

    @classmethod
    def for_task(cls, task_config: dict, task: str, seed: int) -> InitSettings:
        """From a task's config block (as the config and the chain settings carry it)."""
        base = task_config.get("task", task)
        scheme = task_config.get("init", DEFAULT_INIT_SCHEME)
        return cls(
            task=task,
            network=task_config.get("network", TASKS[base][1]),
            prune_output_layer=bool(task_config.get("prune_output_layer", True)),
            seed=int(seed),
            library_task=base if base != task else None,
            hidden=(
                tuple(int(h) for h in task_config.get("hidden", default_hidden(base)))
                if is_control(base)
                else None
            ),
            init=scheme if scheme != DEFAULT_INIT_SCHEME else None,
            policy_bias_init=task_config.get("policy_bias_init") if is_control(base) else None,
        )

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "task": self.task,
            "network": self.network,
            "prune_output_layer": self.prune_output_layer,
            "seed": self.seed,
        }
        if self.library_task is not None:
            d["library_task"] = self.library_task
        if self.hidden is not None:
            d["hidden"] = list(self.hidden)
        if self.init is not None:
            d["init"] = self.init
        if self.policy_bias_init is not None:
            d["policy_bias_init"] = self.policy_bias_init
        return d

    @classmethod
    def from_dict(cls, d: dict) -> InitSettings:
        hidden = d.get("hidden")
        _known("task", d.get("library_task") or d["task"], TASKS)
        entry = load_schema()["properties"]["tasks"]["additionalProperties"]["properties"]
        _known("init scheme", d.get("init") or DEFAULT_INIT_SCHEME, entry["init"]["enum"])
        _known(
            "policy bias init",
            d.get("policy_bias_init") or UNNAMED_POLICY_BIAS_INIT,
            POLICY_BIAS_INITS,
        )
        if hidden is not None and (not hidden or any(int(h) < 1 for h in hidden)):
            raise SettingsProblem(
                f"gives hidden sizes {hidden}: a control policy needs at least one hidden "
                "layer, each of at least 1 unit (the workflow's rules write it from a checked "
                "config: see `snakemake -n -p`)"
            )
        return cls(
            task=d["task"],
            network=d["network"],
            prune_output_layer=bool(d["prune_output_layer"]),
            seed=int(d["seed"]),
            library_task=d.get("library_task"),
            hidden=tuple(int(h) for h in hidden) if hidden is not None else None,
            init=d.get("init"),
            policy_bias_init=d.get("policy_bias_init"),
        )


@dataclass(frozen=True)
class ChainSettings(_Json):
    """Everything that determines one pruning chain's numbers (plus where its data live).

    ``task_config`` and ``strategy_config`` stay mappings: their keys differ per task and
    strategy and are checked by the config's schema and by the strategy's registry entry.
    ``es`` (the ES loop: generations, log interval) is None for gradient descent, whose
    numbers do not depend on it."""

    task: str
    task_config: dict[str, Any]
    strategy: str
    strategy_config: dict[str, Any]
    method: str
    seed: int
    prune_fraction: float
    es: dict[str, Any] | None = None
    data_dir: str | None = field(default=None, compare=False)
    #: the method's own settings (its registry entry's config block, e.g. ``pruning_at_init``
    #: for snip and grasp, and its ``definition``); None for methods without any, and then
    #: absent from the JSON, so their digests do not change
    method_config: dict[str, Any] | None = None
    #: late rewinding: rounds ≥ 1 start from round 0's search mean after this many
    #: generations (GD: steps); 0 = from θ0, and then absent from the JSON (digests unchanged)
    rewind: int = 0
    #: late rewinding's budget for rounds ≥ 1: ``full`` (G generations from the rewind
    #: point) or ``remaining`` (G − k, so that a ticket's search from θ0 totals G, as the
    #: k = 0 chain's does); in the JSON only when the chain rewinds and it is ``remaining``
    rewind_budget: str = DEFAULT_REWIND_BUDGET

    def __post_init__(self) -> None:
        """The strategy's ``digest_defaults`` (its spec's), where ``strategy_config`` lacks
        them: every chain's digest names those choices, whether its settings come from the
        config or from a JSON written by hand or before a choice had a key (such a JSON
        builds today's default, so it must not hash like the results made before)."""
        filled = with_digest_defaults(self.strategy, self.strategy_config)
        if filled != self.strategy_config:
            object.__setattr__(self, "strategy_config", filled)

    @property
    def library_task(self) -> str:
        return self.task_config.get("task", self.task)

    @property
    def key_task(self) -> str:
        """The task name the chain's keys are derived from: the entry's name, except that a
        rewinding entry uses its library task's, so that k = 0 and k > 0 of one task share
        θ0 and search noise (a paired comparison; round 0 differs only by its snapshot)."""
        return self.library_task if self.rewind else self.task

    @property
    def is_gd(self) -> bool:
        return is_gd(self.strategy)

    @property
    def label(self) -> str:
        return f"{self.task}/{self.strategy}/{self.method}"

    def init_settings(self) -> InitSettings:
        return InitSettings.for_task(self.task_config, self.task, self.seed)

    def rewinds_against(self, base: ChainSettings) -> bool:
        """Whether ``base`` (k = 0) is this rewinding chain's paired partner (claim 10): the
        same keys (θ0, search noise, minibatches, random masks) and the same settings but for
        the rewind point and the entry's name. A rewinding entry is keyed by its library
        task's name (:attr:`key_task`), so only the entry of that name can be its partner:
        a k = 0 alias such as ``digits_he`` draws other noise, even with equal settings."""

        def without_name(c: ChainSettings) -> dict:
            d = c.to_dict(with_data_dir=False)
            d.pop("task")
            d.pop("rewind", None)
            d.pop("rewind_budget", None)
            # θ0's settings with their defaults resolved (an entry may name a default or leave
            # it out), under one name; the rest of the task block as it is
            init = replace(c.init_settings(), task="", library_task=None)
            d["init"] = init.to_dict()
            own = set(init.to_dict()) | {"task", "init"}
            d["task_config"] = {k: v for k, v in c.task_config.items() if k not in own}
            return d

        return (
            self.rewind > 0
            and base.rewind == 0
            and self.key_task == base.key_task
            and self.library_task == base.library_task
            and without_name(self) == without_name(base)
        )

    def for_round(self, t: int) -> ChainSettings:
        """The settings round ``t`` trains with: a rewound round (t ≥ 1) with the
        ``remaining`` budget searches G − k generations, every other round these."""
        if t == 0 or not self.rewind or self.rewind_budget != "remaining" or self.es is None:
            return self
        generations = int(self.es["num_generations"]) - self.rewind
        return replace(self, es={**self.es, "num_generations": generations})

    def with_method(self, method: str) -> ChainSettings:
        """The same chain with another method (that has no settings of its own)."""
        return replace(self, method=method, method_config=None)

    def to_dict(self, with_data_dir: bool = True) -> dict:
        d: dict[str, Any] = {
            "task": self.task,
            "task_config": self.task_config,
            "strategy": self.strategy,
            "strategy_config": self.strategy_config,
            "method": self.method,
            "seed": self.seed,
            "prune_fraction": self.prune_fraction,
        }
        if self.es is not None:
            d["es"] = self.es
        if self.method_config is not None:
            d["method_config"] = self.method_config
        if self.rewind:
            d["rewind"] = self.rewind
            if self.rewind_budget != DEFAULT_REWIND_BUDGET:
                d["rewind_budget"] = self.rewind_budget
        if with_data_dir:
            d["data_dir"] = self.data_dir
        return d

    def digest_form(self, with_data_dir: bool = True) -> dict:
        """:meth:`to_dict`, but a gradient-descent chain's task block without the keys only
        the ES fitness reads (``names.ES_FITNESS_TASK_KEYS``): its numbers do not depend on
        them, so another ES batch or population chunk leaves its rounds current. The JSON
        form keeps them (the rules' params, unchanged for existing runs)."""
        d = self.to_dict(with_data_dir)
        if self.is_gd:
            d["task_config"] = without_es_fitness_keys(self.task_config)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ChainSettings:
        task = d["task"]  # first: a JSON without it is named by this key
        _known("task", d["task_config"].get("task", task), TASKS)
        _known("strategy", d["strategy"], (*STRATEGIES, *GD_STRATEGIES))
        _known("method", d["method"], (*METHODS, TRANSFER_TARGET_METHOD))
        _known("rewind_budget", d.get("rewind_budget", DEFAULT_REWIND_BUDGET), REWIND_BUDGETS)
        return cls(
            task=d["task"],
            task_config=dict(d["task_config"]),
            strategy=d["strategy"],
            strategy_config=dict(d["strategy_config"]),
            method=d["method"],
            seed=int(d["seed"]),
            prune_fraction=float(d["prune_fraction"]),
            es=dict(d["es"]) if d.get("es") is not None else None,
            data_dir=d.get("data_dir"),
            method_config=dict(d["method_config"]) if d.get("method_config") else None,
            rewind=int(d.get("rewind", 0)),
            rewind_budget=str(d.get("rewind_budget", DEFAULT_REWIND_BUDGET)),
        )


@dataclass(frozen=True)
class TransferSettings(_Json):
    """A transfer chain: the source chain (whose round-t mask is the ticket) and the target
    (which trains it, with its own chain keys: the same noise and minibatches as the target's
    own tickets). The source and target carry no ``data_dir``; the transfer's own does."""

    transfer: str
    kind: str
    seed: int
    source: ChainSettings
    target: ChainSettings
    data_dir: str | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        return {
            "transfer": self.transfer,
            "kind": self.kind,
            "seed": self.seed,
            "source": self.source.to_dict(with_data_dir=False),
            "target": self.target.to_dict(with_data_dir=False),
            "data_dir": self.data_dir,
        }

    def __post_init__(self) -> None:
        # the target trains with its own chain's keys, so another seed there would give the
        # transfer another seed's noise, unnoticed (the source's seed is checked by its
        # mask's digest); the config always writes the three equal
        if not self.seed == self.source.seed == self.target.seed:
            raise ValueError(
                f"transfer {self.transfer!r} of seed {self.seed} has a source of seed "
                f"{self.source.seed} and a target of seed {self.target.seed}: a transfer keeps "
                "one seed; take the settings from the config (config.transfer_settings)"
            )

    def digest_form(self) -> dict:
        """:meth:`to_dict` with the source's and target's digest forms."""
        return {
            **self.to_dict(),
            "source": self.source.digest_form(with_data_dir=False),
            "target": self.target.digest_form(with_data_dir=False),
        }

    @classmethod
    def from_dict(cls, d: dict) -> TransferSettings:
        return cls(
            transfer=d["transfer"],
            kind=d["kind"],
            seed=int(d["seed"]),
            source=ChainSettings.from_dict(d["source"]),
            target=ChainSettings.from_dict(d["target"]),
            data_dir=d.get("data_dir"),
        )


@dataclass(frozen=True)
class LmcOptions(_Json):
    """What an LMC analysis computes (config ``analyses.lmc``): the number of α points.
    Missing keys take the schema's defaults (the schema is their only owner)."""

    alphas: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LmcOptions:
        _only(cls, d)
        return cls(**_options("lmc", cls, d))


#: How a landscape's random directions are drawn. Not a config key: part of the options (so
#: of the artifacts' digest and the rule's params) so that landscapes drawn another way are
#: recomputed by the workflow and refused by collect, never mixed with these. Earlier
#: versions drew them from a NumPy generator round after round (no such field).
LANDSCAPE_DRAWS = "keys.landscape_key"


@dataclass(frozen=True)
class LandscapeOptions(_Json):
    """What a landscape analysis computes (config ``analyses.landscape``). Missing keys take
    the schema's defaults; the rules always send every key."""

    directions: int
    xi_points: int
    grid_points: int
    grid_extent: float
    eval_examples: int
    direction_norm: str
    draws: str = LANDSCAPE_DRAWS

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> LandscapeOptions:
        _only(cls, d)
        if d.get("draws", LANDSCAPE_DRAWS) != LANDSCAPE_DRAWS:
            raise ValueError(
                f"landscape options drawn by {d['draws']!r}; this version draws its directions "
                f"by {LANDSCAPE_DRAWS!r}: rerun rule landscape"
            )
        return cls(**_options("landscape", cls, d))


#: The analyses with options of their own, by config name.
ANALYSIS_OPTIONS = {"lmc": LmcOptions, "landscape": LandscapeOptions}


def analysis_digest(settings: ChainSettings, options: _Json | None = None) -> str:
    """The digest an analysis artifact of a chain carries: the chain's settings, and the
    analysis's options where it has some (so a change of either makes it stale). The whole
    settings form, not :meth:`ChainSettings.digest_form`: an analysis may read what a
    gradient-descent chain's training does not (a control task's landscape evaluates the ES
    fitness, ``n_repeats`` rollouts a member), and the analyses keep no finished file."""
    analysis = {"analysis": options.to_dict()} if options is not None else {}
    return digest({**settings.to_dict(), **analysis})


def _options(name: str, cls, given: dict) -> dict:
    """The schema's defaults of analysis ``name`` for the fields of ``cls``, then ``given``,
    which must pass the schema's types and ranges (:func:`schema.check_analysis_options`)."""
    check_analysis_options(name, given)
    names = {f.name for f in fields(cls)}
    defaults = {k: v for k, v in analysis_defaults(name).items() if k in names}
    return {**defaults, **given}


def _only(cls, d: dict) -> None:
    unknown = set(d) - {f.name for f in fields(cls)}
    if unknown:
        raise ValueError(
            f"{cls.__name__} has no option {sorted(unknown)}; "
            f"it takes {[f.name for f in fields(cls)]}"
        )
