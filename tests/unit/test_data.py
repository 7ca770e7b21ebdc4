"""Tests for evotickets.tasks.data: real files from the shared data directory, synthetic idx files
and failure modes (corruption, truncation, missing files, offline downloads)."""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from evotickets.tasks import data
from evotickets.tasks.data import (
    DATASETS,
    DataError,
    load_dataset,
    read_idx,
    resolve_data_dir,
)

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data directory {SHARED} not available")
    return SHARED


def _idx_bytes(arr: np.ndarray) -> bytes:
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.tobytes()


def _mnist_dir_with(tmp_path: Path, shared: Path, replaced: dict[str, bytes]) -> Path:
    """tmp_path/mnist with the real files symlinked, except ``replaced`` (name.gz -> bytes)."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in FILES:
        gz = f"{name}.gz"
        if gz in replaced:
            (folder / gz).write_bytes(replaced[gz])
        else:
            (folder / gz).symlink_to(shared / "mnist" / gz)
    return tmp_path


# ---------------------------------------------------------------------------- real files


def test_mnist_real_files(shared: Path) -> None:
    ds = load_dataset("mnist", data_dir=shared, download=False)
    assert ds.name == "mnist"
    assert ds.x_train.shape == (60000, 28, 28, 1)
    assert ds.x_test.shape == (10000, 28, 28, 1)
    assert ds.y_train.shape == (60000,) and ds.y_test.shape == (10000,)
    assert ds.x_train.dtype == np.float32 and ds.x_test.dtype == np.float32
    assert ds.y_train.dtype == np.int32 and ds.y_test.dtype == np.int32
    for y in (ds.y_train, ds.y_test):
        assert y.min() == 0 and y.max() == 9
        assert set(np.unique(y)) == set(range(10))
    assert abs(float(ds.x_train.mean())) < 0.1
    assert abs(float(ds.x_train.std()) - 1.0) < 0.1
    # pixel 0 maps to -mean/std exactly as in the paper's normalisation
    assert np.isclose(ds.x_train.min(), -0.1307 / 0.3081, atol=1e-5)
    assert np.isclose(ds.x_train.max(), (1 - 0.1307) / 0.3081, atol=1e-5)  # pixel 255 → 1
    assert ds.attrs["split"] == "official"
    assert (ds.attrs["n_train"], ds.attrs["n_test"]) == ("60000", "10000")
    assert (
        ds.attrs["sha256:train-images-idx3-ubyte"]
        == data._SHA256[("mnist", "train-images-idx3-ubyte")]
    )
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in ds.attrs.items())
    # cached: same object, read-only arrays so one caller cannot corrupt another's data
    assert load_dataset("mnist", data_dir=shared, download=False) is ds
    with pytest.raises(ValueError):
        ds.x_train[0, 0, 0, 0] = 1.0


def test_fashion_mnist_real_files(shared: Path) -> None:
    ds = load_dataset("fashion_mnist", data_dir=shared, download=False)
    assert ds.x_train.shape == (60000, 28, 28, 1)
    assert ds.x_test.shape == (10000, 28, 28, 1)
    assert ds.y_train.shape == (60000,) and ds.y_test.shape == (10000,)
    assert ds.y_train.min() == 0 and ds.y_train.max() == 9
    assert ds.attrs["split"] == "official"
    # "fashion-mnist" (the folder name) is accepted as an alias
    assert load_dataset("fashion-mnist", data_dir=shared, download=False) is ds


def test_kmnist_test_split_is_the_official_test_set_8000_2000(shared: Path) -> None:
    ds = load_dataset("kmnist", data_dir=shared, download=False, kmnist_split="test_split")
    assert ds.x_train.shape == (8000, 28, 28, 1)
    assert ds.x_test.shape == (2000, 28, 28, 1)
    assert ds.y_train.shape == (8000,) and ds.y_test.shape == (2000,)
    assert ds.attrs["split"] == "kmnist-test-8000/2000 (kmnist_split: test_split)"
    assert ds.attrs["kmnist_split"] == "test_split"
    # official order: first 8000 / last 2000 of the t10k files
    raw_labels = read_idx(shared / "kmnist" / "t10k-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(ds.y_train, raw_labels[:8000])
    np.testing.assert_array_equal(ds.y_test, raw_labels[8000:])
    # the images as split as their labels (only the labels were compared)
    raw_images = read_idx(shared / "kmnist" / "t10k-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(ds.x_train, data._normalise(raw_images[:8000], 255.0))
    np.testing.assert_array_equal(ds.x_test, data._normalise(raw_images[8000:], 255.0))
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):  # provenance
        assert ds.attrs[f"sha256:{name}"] == data._SHA256[("kmnist", name)]


def _kmnist_test_files_only(tmp_path: Path, shared: Path) -> Path:
    folder = tmp_path / "kmnist"
    folder.mkdir()
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-labels-idx1-ubyte"):
        (folder / f"{name}.gz").symlink_to(shared / "kmnist" / f"{name}.gz")
    return folder


def test_kmnist_test_split_never_tries_a_download(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _kmnist_test_files_only(tmp_path, shared)

    def no_download(*args):
        raise AssertionError(f"test_split tried a download: {args}")

    monkeypatch.setattr(data, "_download", no_download)
    ds = load_dataset("kmnist", data_dir=tmp_path, download=True, kmnist_split="test_split")
    assert ds.attrs["kmnist_split"] == "test_split" and len(ds.y_train) == 8000


def test_kmnist_full_split_without_train_images_is_an_error(shared: Path) -> None:
    """The default split never falls back to the test set: that would change the data."""
    with pytest.raises(DataError) as info:
        load_dataset("kmnist", data_dir=shared, download=False)
    msg = str(info.value)
    assert "train-images-idx3-ubyte" in msg
    assert "kmnist_split: full" in msg and "kmnist_split: test_split" in msg


def test_kmnist_failed_download_is_an_error_not_a_fallback(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _kmnist_test_files_only(tmp_path, shared)
    monkeypatch.setitem(data._MIRRORS, "kmnist", (tmp_path / "offline").as_uri() + "/")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning-and-carry-on either
        with pytest.raises(DataError, match="kmnist_split: test_split") as info:
            load_dataset("kmnist", data_dir=tmp_path, download=True)
    assert "download" in str(info.value) and str(folder) in str(info.value)
    assert not list(folder.glob("*.tmp"))


def test_kmnist_full_split_uses_the_official_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "kmnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 12), ("t10k", 5)):
        images = rng.integers(0, 256, (n, 28, 28))
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(_idx_bytes(images))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx_bytes(np.arange(n) % 10))
    monkeypatch.setattr(data, "_SHA256", {})  # synthetic files: no pinned hashes
    monkeypatch.setattr(data, "_ARCHIVE_SHA256", {})
    ds = load_dataset("kmnist", data_dir=tmp_path, download=False)
    assert (len(ds.y_train), len(ds.y_test)) == (12, 5)
    assert ds.attrs["split"] == "official" and ds.attrs["kmnist_split"] == "full"


def test_kmnist_split_value_is_checked(shared: Path) -> None:
    with pytest.raises(DataError, match="full, test_split"):
        load_dataset("kmnist", data_dir=shared, download=False, kmnist_split="half")
    with pytest.raises(DataError, match="K-MNIST only"):
        load_dataset("mnist", data_dir=shared, download=False, kmnist_split="test_split")


def test_make_task_loads_the_configured_kmnist_split(shared: Path) -> None:
    from evotickets.tasks import make_task

    task = make_task("kmnist", {"kmnist_split": "test_split"}, table=None, data_dir=str(shared))
    assert task.provenance()["data_kmnist_split"] == "test_split"
    assert task.provenance()["data_split"].startswith("kmnist-test-8000/2000")
    with pytest.raises(DataError, match="kmnist_split"):
        make_task("kmnist", {}, table=None, data_dir=str(shared))


# ---------------------------------------------------------------------------- digits


def test_digits_shapes_and_determinism() -> None:
    ds = load_dataset("digits")
    assert ds.x_train.shape == (1437, 8, 8, 1)
    assert ds.x_test.shape == (360, 8, 8, 1)
    assert ds.y_train.shape == (1437,) and ds.y_test.shape == (360,)
    assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
    assert ds.attrs["split"] == "sklearn-digits 1437/360 (rng 0)"
    # the split is the one the attrs name: the last 360 of NumPy's rng-0 permutation
    _, labels = data._digits_images_and_labels()
    perm = np.random.default_rng(0).permutation(1797)
    np.testing.assert_array_equal(ds.y_test, labels[perm[-360:]])
    np.testing.assert_array_equal(ds.y_train, labels[perm[:-360]])
    # undo the normalisation: pixels were scaled by /16 into [0, 1]
    raw = ds.x_train * np.float32(0.3081) + np.float32(0.1307)
    assert raw.min() >= -1e-6 and raw.max() <= 1 + 1e-6 and raw.max() > 0.99
    assert load_dataset("digits") is ds

    data.clear_cache()
    again = load_dataset("digits")
    assert again is not ds
    for a, b in [
        (ds.x_train, again.x_train),
        (ds.y_train, again.y_train),
        (ds.x_test, again.x_test),
        (ds.y_test, again.y_test),
    ]:
        np.testing.assert_array_equal(a, b)
    # train and test together are exactly the 1797 bundled images (a permutation, no overlap)
    from sklearn.datasets import load_digits

    bundled = load_digits()
    y_all = bundled.target
    assert np.array_equal(np.sort(np.concatenate([ds.y_train, ds.y_test])), np.sort(y_all))

    # the images too (as this loader normalises them): sorted rows of (pixels, label) of
    # train + test are the bundled images' rows
    def rows(x, y):
        flat = np.concatenate([np.asarray(x).reshape(len(y), -1), np.asarray(y)[:, None]], 1)
        return flat[np.lexsort(flat.T[::-1])]

    ours = rows(np.concatenate([ds.x_train, ds.x_test]), np.concatenate([ds.y_train, ds.y_test]))
    want = rows(data._normalise(bundled.images, 16.0), y_all)
    np.testing.assert_array_equal(ours, want)


def test_digits_are_read_as_sklearn_loads_them() -> None:
    """The bundled CSV read without importing scikit-learn gives load_digits' arrays exactly
    (values and dtypes), so every digits artifact stays bitwise what it was."""
    from sklearn.datasets import load_digits

    images, labels = data._digits_images_and_labels()
    bunch = load_digits()
    assert images.dtype == bunch.images.dtype and labels.dtype == bunch.target.dtype
    np.testing.assert_array_equal(images, bunch.images)
    np.testing.assert_array_equal(labels, bunch.target)


def test_loading_digits_does_not_import_scikit_learn() -> None:
    """A digits job pays no scikit-learn import (about 2.5 core-seconds)."""
    code = (
        "import sys; from evotickets.tasks import data; data.load_dataset('digits'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'sklearn'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


# ---------------------------------------------------------------------------- idx reading


def test_read_idx_raw_and_gz_identical(tmp_path: Path) -> None:
    rng = np.random.default_rng(123)
    arr = rng.integers(0, 256, size=(7, 5, 3), dtype=np.uint8)
    raw = tmp_path / "x-idx3-ubyte"
    raw.write_bytes(_idx_bytes(arr))
    gz = tmp_path / "x-idx3-ubyte.gz"
    gz.write_bytes(gzip.compress(_idx_bytes(arr)))
    a, b = read_idx(raw), read_idx(gz)
    assert a.shape == (7, 5, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, arr)
    np.testing.assert_array_equal(a, b)


def test_read_idx_rejects_bad_header_and_length(tmp_path: Path) -> None:
    arr = np.arange(12, dtype=np.uint8).reshape(3, 4)
    short = tmp_path / "short-idx2-ubyte"
    short.write_bytes(_idx_bytes(arr)[:-1])
    with pytest.raises(DataError, match="payload"):
        read_idx(short)
    long = tmp_path / "long-idx2-ubyte"  # a byte too many, named as such (not numpy's reshape)
    long.write_bytes(_idx_bytes(arr) + b"\x00")
    with pytest.raises(DataError, match="holds 13 payload bytes"):
        read_idx(long)
    bad_magic = tmp_path / "magic-idx2-ubyte"
    bad_magic.write_bytes(b"\x1f\x8b" + _idx_bytes(arr)[2:])
    with pytest.raises(DataError, match="magic"):
        read_idx(bad_magic)
    bad_magic.write_bytes(b"\x00\x01" + _idx_bytes(arr)[2:])  # the second byte alone
    with pytest.raises(DataError, match="magic"):
        read_idx(bad_magic)


def test_length_mismatch_raises(tmp_path: Path) -> None:
    images = tmp_path / "img-idx3-ubyte"
    labels = tmp_path / "lab-idx1-ubyte.gz"
    images.write_bytes(_idx_bytes(np.zeros((5, 4, 4), dtype=np.uint8)))
    labels.write_bytes(gzip.compress(_idx_bytes(np.zeros(4, dtype=np.uint8))))
    with pytest.raises(DataError, match="5 images.*4 labels"):
        data._load_idx_pair(images, labels, None)
    labels.write_bytes(gzip.compress(_idx_bytes(np.zeros((5, 1), dtype=np.uint8))))
    with pytest.raises(DataError, match="labels must be 1-D, got shape"):
        data._load_idx_pair(images, labels, None)
    labels.write_bytes(gzip.compress(_idx_bytes(np.arange(5, dtype=np.uint8))))
    x, y, _ = data._load_idx_pair(images, labels, None)
    assert x.shape == (5, 4, 4) and y.tolist() == [0, 1, 2, 3, 4]


# ---------------------------------------------------------------------------- integrity


def test_corrupted_file_fails_sha256(tmp_path: Path, shared: Path) -> None:
    name = "train-labels-idx1-ubyte"
    content = bytearray(gzip.decompress((shared / "mnist" / f"{name}.gz").read_bytes()))
    content[100] ^= 0xFF  # still a structurally valid idx file, but the wrong content
    root = _mnist_dir_with(tmp_path, shared, {f"{name}.gz": gzip.compress(bytes(content))})
    with pytest.raises(DataError) as info:
        load_dataset("mnist", data_dir=root, download=False)
    msg = str(info.value)
    assert name in msg and "sha256" in msg
    assert data._SHA256[("mnist", name)] in msg
    assert "EVOTICKETS_DATA_DIR" in msg


def test_truncated_gzip_names_file(tmp_path: Path, shared: Path) -> None:
    name = "train-labels-idx1-ubyte"
    blob = (shared / "mnist" / f"{name}.gz").read_bytes()
    root = _mnist_dir_with(tmp_path, shared, {f"{name}.gz": blob[: len(blob) // 2]})
    with pytest.raises(DataError, match=name) as info:
        load_dataset("mnist", data_dir=root, download=False)
    assert "truncated" in str(info.value)
    with pytest.raises(DataError, match=name):
        read_idx(root / "mnist" / f"{name}.gz")


# ---------------------------------------------------------------------------- missing files


def test_missing_file_without_download(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        load_dataset("mnist", data_dir=tmp_path, download=False)
    msg = str(info.value)
    assert "data_dir" in msg and "EVOTICKETS_DATA_DIR" in msg
    assert "train-images-idx3-ubyte" in msg and "missing" in msg


def test_offline_download_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(data._MIRRORS, "mnist", (tmp_path / "no-such-mirror").as_uri() + "/")
    with pytest.raises(DataError) as info:
        load_dataset("mnist", data_dir=tmp_path, download=True)
    msg = str(info.value)
    assert "missing" in msg and "download" in msg and "failed" in msg
    assert "data_dir" in msg and "EVOTICKETS_DATA_DIR" in msg
    assert not list((tmp_path / "mnist").glob("*"))  # no partial files left behind


def test_a_download_stopped_mid_stream_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM's exit (SystemExit, cli.run's handler) while the archive streams in: the
    partial file goes with it (the cleanup covered only the download's own errors)."""

    class Stream:
        reads = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, size):
            Stream.reads += 1
            if Stream.reads > 1:
                raise SystemExit(143)
            return b"partial"

    monkeypatch.setattr(data.urllib.request, "urlopen", lambda url, timeout: Stream())
    with pytest.raises(SystemExit):
        load_dataset("mnist", data_dir=tmp_path, download=True)
    assert Stream.reads == 2 and not list((tmp_path / "mnist").glob("*"))


def test_download_from_mirror_is_verified_and_atomic(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in FILES:
        (mirror / f"{name}.gz").symlink_to(shared / "mnist" / f"{name}.gz")
    # the mirror serves a corrupted train-labels file: the download must be rejected
    good = (shared / "mnist" / "train-labels-idx1-ubyte.gz").read_bytes()
    bad = bytearray(gzip.decompress(good))
    bad[50] ^= 1
    (mirror / "train-labels-idx1-ubyte.gz").unlink()
    (mirror / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bytes(bad)))
    monkeypatch.setitem(data._MIRRORS, "mnist", mirror.as_uri() + "/")
    dest = tmp_path / "data"
    dest.mkdir()
    with pytest.raises(DataError, match="sha256"):
        load_dataset("mnist", data_dir=dest, download=True)
    assert not (dest / "mnist" / "train-labels-idx1-ubyte.gz").exists()
    assert not list((dest / "mnist").glob("*.tmp"))

    # a good mirror (different gzip bytes than the shared copy: hashes are of content)
    (mirror / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(gzip.decompress(good)))
    ds = load_dataset("mnist", data_dir=dest, download=True)
    assert ds.x_train.shape == (60000, 28, 28, 1)
    assert sorted(p.name for p in (dest / "mnist").iterdir()) == sorted(f"{n}.gz" for n in FILES)


def test_parallel_downloads_of_one_file_both_succeed(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parallel jobs on a fresh cache fetch the same file at once; each writes its own
    temporary file (with one shared name, the second truncated the first's download)."""
    import threading
    import time
    import urllib.request

    name = "train-labels-idx1-ubyte"
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / f"{name}.gz").symlink_to(shared / "mnist" / f"{name}.gz")
    monkeypatch.setitem(data._MIRRORS, "mnist", mirror.as_uri() + "/")
    real_urlopen = urllib.request.urlopen

    class Slow:  # a slow mirror: small chunks, so the two downloads overlap
        def __init__(self, resp):
            self.resp = resp

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.resp.close()

        def read(self, n):
            time.sleep(0.002)
            return self.resp.read(min(n, 512))

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Slow(real_urlopen(url)))
    folder = tmp_path / "data" / "mnist"
    results, start = {}, threading.Barrier(2)

    def fetch(i):
        start.wait()
        try:
            results[i] = data._download("mnist", name, folder)
        except Exception as err:  # noqa: BLE001 - the test reports it
            results[i] = err

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {0: folder / f"{name}.gz", 1: folder / f"{name}.gz"}, results
    umask = os.umask(0)
    os.umask(umask)
    assert (folder / f"{name}.gz").stat().st_mode & 0o777 == 0o666 & ~umask  # not 0600
    good = gzip.decompress((shared / "mnist" / f"{name}.gz").read_bytes())
    assert gzip.decompress((folder / f"{name}.gz").read_bytes()) == good
    assert not list(folder.glob("*.tmp"))


# ---------------------------------------------------------------------------- names, dirs


def test_unknown_name_suggests() -> None:
    with pytest.raises(DataError) as info:
        load_dataset("mnsit")
    msg = str(info.value)
    assert "'mnist'" in msg and "Did you mean" in msg
    for valid in DATASETS:
        assert valid in msg


def test_resolve_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVOTICKETS_DATA_DIR", raising=False)
    assert resolve_data_dir(None) == (Path.home() / ".cache" / "evotickets" / "data").resolve()
    assert resolve_data_dir(tmp_path) == tmp_path.resolve()
    monkeypatch.setenv("EVOTICKETS_DATA_DIR", str(tmp_path))
    assert resolve_data_dir(None) == tmp_path.resolve()
    assert resolve_data_dir("") == tmp_path.resolve()  # an empty key is unset, not the cwd
    other = tmp_path / "sub"
    other.mkdir()
    assert resolve_data_dir(other) == other.resolve()  # the argument wins over the env var
    with pytest.raises(DataError, match="does not exist"):
        resolve_data_dir(tmp_path / "nope")
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("mnist", data_dir=tmp_path / "nope")
    monkeypatch.setenv("EVOTICKETS_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(DataError, match="EVOTICKETS_DATA_DIR"):
        resolve_data_dir(None)


def test_a_vision_task_refuses_data_of_another_shape_than_its_network_is_built_for() -> None:
    """θ0 and the layer table come from names.VISION_INPUT_SHAPE without reading the data;
    a data folder holding 28×28 images under digits' name failed in the network's first
    layer instead of naming the mismatch."""
    from evotickets.tasks.data import Dataset
    from evotickets.tasks.vision import VisionTask

    def images(shape, test_shape=None):
        x, x_test = np.zeros((4, *shape), np.float32), np.zeros((4, *(test_shape or shape)))
        return Dataset("digits", x, np.zeros(4, np.int32), x_test, np.zeros(4, np.int32))

    VisionTask("digits", images((8, 8, 1)), "cnn_small", table=[])
    with pytest.raises(ValueError, match=r"train images of digits have shape \(28, 28, 1\)"):
        VisionTask("digits", images((28, 28, 1)), "cnn_small", table=[])
    with pytest.raises(ValueError, match=r"test images of digits have shape \(28, 28, 1\)"):
        VisionTask("digits", images((8, 8, 1), (28, 28, 1)), "cnn_small", table=[])


def _kmnist_full_folder(tmp_path: Path, gzip_train_images: bool) -> Path:
    """Synthetic K-MNIST files (12 training, 5 test images), the training images gzipped
    or raw; returns the training images' path."""
    folder = tmp_path / "kmnist"
    folder.mkdir()
    rng = np.random.default_rng(0)
    train = folder / "train-images-idx3-ubyte"
    for prefix, n in (("train", 12), ("t10k", 5)):
        images = _idx_bytes(rng.integers(0, 256, (n, 28, 28)))
        path = folder / f"{prefix}-images-idx3-ubyte"
        if prefix == "train" and gzip_train_images:
            train = path = path.with_name(path.name + ".gz")
            path.write_bytes(gzip.compress(images, mtime=0))
        else:
            path.write_bytes(images)
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx_bytes(np.arange(n) % 10))
    return train


def test_kmnist_training_images_are_verified_as_the_official_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """K-MNIST's training images have no pinned content hash: any 60,000 × 28 × 28 idx file
    passed (MNIST's under K-MNIST's name too). They are now checked as CODH's archive."""
    monkeypatch.setattr(data, "_SHA256", {})  # synthetic files: no content hashes
    archive = _kmnist_full_folder(tmp_path, gzip_train_images=True)
    with pytest.raises(DataError, match="sha256 of the archive is .* not the official file") as e:
        load_dataset("kmnist", data_dir=tmp_path, download=False)
    assert "kmnist_split: test_split" in str(e.value) and "51467d22" in str(e.value)
    # the official archive is accepted (here: the synthetic one's hash pinned in its place)
    official = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setitem(data._ARCHIVE_SHA256, ("kmnist", "train-images-idx3-ubyte"), official)
    data.clear_cache()
    ds = load_dataset("kmnist", data_dir=tmp_path, download=False)
    assert (len(ds.y_train), len(ds.y_test)) == (12, 5)
    # beside a raw copy the archive is the one read; a raw copy alone cannot be verified
    raw = archive.with_suffix("")
    raw.write_bytes(gzip.decompress(archive.read_bytes()))
    data.clear_cache()
    assert len(load_dataset("kmnist", data_dir=tmp_path, download=False).y_train) == 12
    archive.unlink()
    data.clear_cache()
    with pytest.raises(DataError, match="verified only as its official gzip archive"):
        load_dataset("kmnist", data_dir=tmp_path, download=False)


def test_a_downloaded_kmnist_training_archive_is_verified_before_it_is_kept(
    tmp_path: Path, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mirror serving other training images under K-MNIST's name (here MNIST's) is refused
    and nothing is kept: the download is checked as the official archive too."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "train-images-idx3-ubyte.gz").symlink_to(
        shared / "mnist" / "train-images-idx3-ubyte.gz"
    )
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        (mirror / f"{name}.gz").symlink_to(shared / "kmnist" / f"{name}.gz")
    monkeypatch.setitem(data._MIRRORS, "kmnist", mirror.as_uri() + "/")
    dest = tmp_path / "data"
    dest.mkdir()
    with pytest.raises(DataError, match="failed verification and was discarded"):
        load_dataset("kmnist", data_dir=dest, download=True)
    assert not list((dest / "kmnist").glob("train-images*"))


def test_train_examples_are_what_the_loaders_give(shared: Path) -> None:
    """The config's checks count a dataset's training examples without loading it."""
    assert data.train_examples("digits") == len(load_dataset("digits").y_train)
    for name in ("mnist", "fashion_mnist"):
        assert data.train_examples(name) == len(
            load_dataset(name, data_dir=shared, download=False).y_train
        )
    split = load_dataset("kmnist", data_dir=shared, download=False, kmnist_split="test_split")
    assert data.train_examples("kmnist", "test_split") == len(split.y_train)
    assert data.train_examples("kmnist") == 60000  # the official split (no copy here)
    # and their test examples, which check-config's landscape note counts
    assert data.test_examples("digits") == len(load_dataset("digits").y_test)
    for name in ("mnist", "fashion_mnist"):
        loaded = load_dataset(name, data_dir=shared, download=False)
        assert data.test_examples(name) == len(loaded.y_test)
    assert data.test_examples("kmnist", "test_split") == len(split.y_test)
