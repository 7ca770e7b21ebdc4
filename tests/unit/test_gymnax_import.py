"""gymnax's render-only plotting stack is imported on first use, not by a training job."""

import json
import subprocess
import sys

import pytest

from evotickets.tasks.gymnax_import import deferred_imports


def _fresh(code: str) -> dict:
    """Run ``code`` in a fresh interpreter (so no test has imported anything yet); it prints
    one JSON line."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_pendulum_task_imports_neither_seaborn_nor_pyplot_and_render_still_can():
    got = _fresh(
        "import json, sys\n"
        "from evotickets.tasks import make_task\n"
        "task = make_task('pendulum', {}, None)\n"
        "loaded = {m: m in sys.modules for m in ('seaborn', 'pandas', 'matplotlib.pyplot')}\n"
        "import gymnax.environments.misc.pong as pong\n"
        "palette = pong.sns.color_palette('cubehelix', 3)\n"  # what pong's render reads
        "print(json.dumps({'loaded': loaded, 'obs_dim': task.obs_dim, 'palette': len(palette),\n"
        "    'real_seaborn': type(sys.modules['seaborn']).__name__}))\n"
    )
    assert got["loaded"] == {"seaborn": False, "pandas": False, "matplotlib.pyplot": False}
    assert got["obs_dim"] == 3
    assert got["palette"] == 3
    assert got["real_seaborn"] == "module"


def test_stand_ins_leave_sys_modules_and_an_imported_module_is_left_alone():
    name = "evotickets_test_never_imported"
    with deferred_imports((name, "json")):
        stand_in = sys.modules[name]
        assert sys.modules["json"] is json  # already imported: the real module stays
        with pytest.raises(AttributeError):
            _ = stand_in.__path__  # introspection does not trigger the import
    assert name not in sys.modules
    with pytest.raises(ModuleNotFoundError, match=name):
        _ = stand_in.anything  # first use imports the real module (here: none exists)


def test_stand_ins_leave_sys_modules_when_the_import_fails():
    name = "evotickets_test_never_imported_either"
    with pytest.raises(RuntimeError), deferred_imports((name,)):
        raise RuntimeError("the import inside failed")
    assert name not in sys.modules
