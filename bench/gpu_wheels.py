"""The wheels bench/gpu_prepare.sh carries to a lent device machine, pinned to this .venv.

Why a module: the device image (Python 3.12 and a CUDA build of JAX with flax, optax, h5py,
scipy, xarray and matplotlib) lacks evosax, gymnax and brax and reaches no package index, and
the wheels are installed there with ``--no-deps``. So every requirement of a carried package
must travel too or be in the image already. A hand-kept list missed two (``attrs`` for
jsonschema, ``seaborn`` for gymnax; a CPU smoke run found them on 2026-12-03, which a device
run would have found only by failing); :func:`unmet` makes such a gap a refusal here instead.

    python bench/gpu_wheels.py     # one ``name==version`` a line; exit 2 naming a gap
"""

from __future__ import annotations

import importlib.metadata as md
import sys

from packaging.requirements import Requirement

#: What gpu_check.sh needs that the image lacks, with what those need in turn.
CARRIED = (
    "evosax", "dotmap",  # strategies
    "gymnax", "gymnasium", "farama-notifications", "six", "cloudpickle", "seaborn",  # control
    "brax", "mujoco", "mujoco-core", "mujoco-studio", "glfw", "pyopengl", "mujoco-mjx",
    "trimesh", "tensorboardx", "jaxopt", "ml-collections", "flask", "flask-cors", "blinker",
    "itsdangerous", "jinja2", "markupsafe", "click", "werkzeug", "websockets",  # brax
    "jsonschema", "jsonschema-specifications", "referencing", "rpds-py", "attrs",  # config
)  # fmt: skip
#: What the image has (bench/README.md, "On a lent GPU"), with their requirements.
IMAGE = ("jax", "jaxlib", "flax", "optax", "h5py", "scipy", "xarray", "matplotlib")
#: The image's interpreter and platform, for requirements with environment markers.
TARGET = {
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
    "os_name": "posix",
    "extra": "",
}


def normal(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return name.lower().replace("_", "-").replace(".", "-")


def requirements(name: str) -> set[str]:
    """The distributions ``name`` (as installed in this venv) needs on the image's Python."""
    try:
        listed = md.requires(name) or []
    except md.PackageNotFoundError:
        raise SystemExit(
            f"{name} is not installed in this Python ({sys.executable}), so its requirements "
            "cannot be checked: run `make setup` and use .venv/bin/python"
        ) from None
    needed = set()
    for line in listed:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate(TARGET):
            needed.add(normal(req.name))
    return needed


def closure(names) -> set[str]:
    """``names`` and everything they need, transitively (per this venv's metadata)."""
    seen, todo = set(), [normal(n) for n in names]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(requirements(name) - seen)
    return seen


def unmet(carried=CARRIED, image=IMAGE) -> dict[str, list[str]]:
    """Each requirement of a carried package that neither travels nor is in the image, with
    the carried packages that need it."""
    have = {normal(n) for n in carried} | closure(image)
    gaps: dict[str, list[str]] = {}
    for name in carried:
        for need in sorted(requirements(name) - have):
            gaps.setdefault(need, []).append(name)
    return gaps


def main() -> int:
    gaps = unmet()
    if gaps:
        listed = "; ".join(f"{need} (for {', '.join(by)})" for need, by in sorted(gaps.items()))
        print(
            f"bench/gpu_wheels.py: the image lacks {listed}, and no carried wheel brings it: "
            "add it to CARRIED",
            file=sys.stderr,
        )
        return 2
    for name in CARRIED:
        print(f"{name}=={md.version(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
