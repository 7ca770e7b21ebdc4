"""Image-classification datasets for the lottery-ticket experiments.

This module is deliberately numpy-only (no jax import) so that it can be used by the workflow
layer, by tests and by tools that must not pay jax's import cost or grab an accelerator.

Why it is built the way it is:

* **Content hashes, not archive hashes.** The same MNIST-family file is distributed by several
  mirrors whose gzip headers differ (timestamps, original file names, Debian's ``gzip -n``), so
  the sha256 pinned here is that of the *decompressed* idx content. Any mirror or a local
  uncompressed copy verifies against the same table.
* **Atomic downloads.** A download goes to a temporary file of its own (``<file>.<pid>-<random>.tmp``: parallel jobs may fetch the same file), is verified, and only then is moved
  into place with :func:`evotickets.durable.durable_replace` (fsync, rename, fsync), so an interrupted or corrupt download never leaves a file
  that a later run would trust.
* **Errors that say what to do.** Every failure raises :class:`DataError` whose message names the
  file involved and the fix (usually: delete the file so it is downloaded again, or point the
  ``data_dir`` config key / ``EVOTICKETS_DATA_DIR`` environment variable at a good copy).
* **Provenance in ``attrs``.** Each :class:`Dataset` carries string attributes (source, split,
  normalisation, content hashes) that are later written into the HDF5 artifacts, so a result can
  always be traced back to exactly the data it was trained on.
* **K-MNIST's split is chosen, never fallen back to.** ``kmnist_split="full"`` (the default)
  needs the official 60,000 training images and is an error without them;
  ``kmnist_split="test_split"`` trains on the first 8,000 and tests on the last 2,000 images of
  the official test set, for machines without the training images. The choice is a config key
  (``tasks.<task>.kmnist_split``) and so part of each chain's digest: a silent fallback on a
  failed download would let seeds or chains of one experiment train on different data.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import hashlib
import os
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..durable import durable_replace, make_dirs, temp_path
from ..names import DATA_DIR_ENV, DEFAULT_KMNIST_SPLIT, KMNIST_SPLITS

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "KMNIST_SPLITS",
    "DataError",
    "Dataset",
    "clear_cache",
    "load_dataset",
    "read_idx",
    "resolve_data_dir",
]

DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion_mnist", "kmnist")


#: MNIST mean and standard deviation (of x/255), applied to *every* dataset as in the paper so
#: that all tasks share one input scaling.
NORM_MEAN = 0.1307
NORM_STD = 0.3081

_TRAIN_IMAGES = "train-images-idx3-ubyte"
_TRAIN_LABELS = "train-labels-idx1-ubyte"
_TEST_IMAGES = "t10k-images-idx3-ubyte"
_TEST_LABELS = "t10k-labels-idx1-ubyte"

#: Dataset name -> folder under the data directory (the folder names of the official mirrors).
_FOLDERS: dict[str, str] = {
    "mnist": "mnist",
    "fashion_mnist": "fashion-mnist",
    "kmnist": "kmnist",
}

#: Official mirrors; every file is served as ``<base><name>.gz``.
_MIRRORS: dict[str, str] = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "kmnist": "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
}

#: sha256 of the DECOMPRESSED idx content, keyed by (folder, file name without ``.gz``).
#: K-MNIST's training images have none (no verified copy was available here): they are
#: checked as the official archive instead (:data:`_ARCHIVE_SHA256`).
_SHA256: dict[tuple[str, str], str] = {
    (
        "fashion-mnist",
        _TEST_IMAGES,
    ): "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    (
        "fashion-mnist",
        _TEST_LABELS,
    ): "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    (
        "fashion-mnist",
        _TRAIN_IMAGES,
    ): "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    (
        "fashion-mnist",
        _TRAIN_LABELS,
    ): "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ("kmnist", _TEST_IMAGES): "76fbd229ce87db80dd281af5e6670de4ad0e42fb30a7bd643972994c47c1f42e",
    ("kmnist", _TEST_LABELS): "a11dc742be8e781a40a92f53d6a4957e7b7d36df2faa097659131ebfd8fd60c6",
    ("kmnist", _TRAIN_LABELS): "2a16eeae62da984b8bd24fa32e31d47291f01dac3fe84d5594f304f71e7d374b",
    ("mnist", _TEST_IMAGES): "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ("mnist", _TEST_LABELS): "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ("mnist", _TRAIN_IMAGES): "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ("mnist", _TRAIN_LABELS): "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
}

#: sha256 of the official gzip ARCHIVE, for files whose decompressed content has no pinned
#: hash: K-MNIST's training images as CODH serves them. The value is the one published
#: package ports of torchvision pin (whose md5 for the same file, bdb82020997e1d708af4cf47b453dcf7,
#: torchvision itself pins); their pins for the other three official K-MNIST archives equal the
#: sha256 and md5 of the copies in the shared data folder, byte for byte. Such a file is
#: accepted only as that archive: a raw copy, or another archive (MNIST's training images
#: under K-MNIST's name would pass every structural check), cannot be verified.
_ARCHIVE_SHA256: dict[tuple[str, str], str] = {
    ("kmnist", _TRAIN_IMAGES): "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
}

#: idx type codes -> big-endian numpy dtypes (the idx format stores data MSB first).
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_KMNIST_SPLIT_TRAIN = 8000
_KMNIST_TEST_SPLIT = "kmnist-test-8000/2000 (kmnist_split: test_split)"
_FIX_KMNIST_SPLIT = (
    "K-MNIST's `kmnist_split: full` (the default) trains on the official 60,000 training "
    "images: put the official train-images-idx3-ubyte(.gz) into {folder}, or, to train "
    "on the first 8,000 and test on the last 2,000 images of the official test set instead, "
    "set `kmnist_split: test_split` in the K-MNIST task's block of the config "
    "(tasks.kmnist.kmnist_split; load_dataset(..., kmnist_split='test_split')); the choice is "
    "part of the config digest, so results of the two splits never mix."
)
_DIGITS_N_TEST = 360
_DIGITS_SPLIT = "sklearn-digits 1437/360 (rng 0)"
#: (training, test) examples per dataset as the loaders split them (digits: this package's
#: split; the MNIST family: the official files): what a config's check needs (a GD batch or
#: rewind point that the data cannot hold) without loading the data (tests/unit/test_data.py
#: checks them against the loaders). K-MNIST's ``test_split`` splits the official test set.
_EXAMPLES = {
    "digits": (1797 - _DIGITS_N_TEST, _DIGITS_N_TEST),
    "mnist": (60000, 10000),
    "fashion_mnist": (60000, 10000),
    "kmnist": (60000, 10000),
}


def train_examples(name: str, kmnist_split: str = DEFAULT_KMNIST_SPLIT) -> int:
    """How many training examples dataset ``name`` has under ``kmnist_split``."""
    if name == "kmnist" and kmnist_split == "test_split":
        return _KMNIST_SPLIT_TRAIN
    return _EXAMPLES[name][0]


def test_examples(name: str, kmnist_split: str = DEFAULT_KMNIST_SPLIT) -> int:
    """How many test examples dataset ``name`` has under ``kmnist_split``."""
    if name == "kmnist" and kmnist_split == "test_split":
        return _EXAMPLES[name][1] - _KMNIST_SPLIT_TRAIN
    return _EXAMPLES[name][1]


_DOWNLOAD_TIMEOUT_S = 60.0
_FIX_DIR = (
    f"set the `data_dir` config key (or the {DATA_DIR_ENV} environment variable) to a directory "
    "that holds the files"
)


class DataError(ValueError):
    """A dataset could not be found, read, verified or downloaded.

    Subclasses :class:`ValueError` so callers that validate configuration can catch both with
    one clause; the message always names the problem and the fix.
    """


class _MissingError(DataError):
    """Files are absent and could not be fetched (offline, mirror down, ``download=False``);
    kept apart from integrity errors so that only these point at ``kmnist_split``."""


class _DownloadError(_MissingError):
    """The network fetch itself failed (offline, mirror down)."""


@dataclass(frozen=True)
class Dataset:
    """A loaded, normalised train/test split.

    Arrays are made read-only because one instance is shared by every caller through the
    in-process cache; an in-place edit by one experiment would silently leak into another.
    """

    name: str
    x_train: np.ndarray  # float32, (N, H, W, 1), normalised
    y_train: np.ndarray  # int32, (N,)
    x_test: np.ndarray
    y_test: np.ndarray
    attrs: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Locating the data
# --------------------------------------------------------------------------------------------


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Return the directory that holds the dataset folders.

    Precedence: the ``data_dir`` argument (the config key), then ``$EVOTICKETS_DATA_DIR``, then
    ``~/.cache/evotickets/data``. A directory the user named explicitly (argument or environment
    variable) must exist: a typo there should fail loudly rather than trigger a 100 MB download
    into a fresh directory. The default cache directory is created lazily when downloading.
    """
    if data_dir is not None and str(data_dir) != "":
        origin = "the `data_dir` argument / config key"
        path = Path(data_dir).expanduser()
    elif os.environ.get(DATA_DIR_ENV):
        origin = f"the {DATA_DIR_ENV} environment variable"
        path = Path(os.environ[DATA_DIR_ENV]).expanduser()
    else:
        return (Path.home() / ".cache" / "evotickets" / "data").resolve()
    path = path.resolve()
    if not path.is_dir():
        what = (
            "is a file, not a directory"
            if path.is_file()
            else "is not a directory"
            if path.exists()
            else "does not exist"
        )
        raise DataError(
            f"data directory {path} (from {origin}) {what}. Fix: create it, or point "
            f"`data_dir` / {DATA_DIR_ENV} at the directory that contains the dataset folders "
            f"({', '.join(sorted(_FOLDERS.values()))})."
        )
    return path


def _find(folder_dir: Path, name: str, archive_only: bool = False) -> Path | None:
    """Return the raw or gzipped copy of ``name`` in ``folder_dir``; raw wins if both exist
    because it needs no decompression, unless ``archive_only`` (a file verified as its
    official archive, :data:`_ARCHIVE_SHA256`): then the ``.gz``, else the raw copy, which
    the archive check refuses with its fix."""
    order = (f"{name}.gz", name) if archive_only else (name, f"{name}.gz")
    for candidate in (folder_dir / n for n in order):
        if candidate.is_file():
            return candidate
    return None


def _check_archive(path: Path, expected: str, gzipped: bool | None = None) -> bytes:
    """Refuse ``path`` (in its dataset's folder) unless it is the official archive whose
    sha256 is ``expected``; returns the archive's bytes, so that the caller decompresses what
    was verified instead of reading the file again."""
    folder = path.parent.name
    where = f" from {_MIRRORS[folder]}" if folder in _MIRRORS else ""
    fix = (
        f"Fix: put the official archive {_canonical(path)}.gz{where} (sha256 {expected}) in "
        f"{path.parent}, or point `data_dir` / {DATA_DIR_ENV} at a folder that has it"
        + (", or set the task's kmnist_split: test_split" if folder == "kmnist" else "")
        + "."
    )
    if not (path.suffix == ".gz" if gzipped is None else gzipped):
        raise DataError(
            f"{path}: this file has no pinned hash of its content, so it can be verified only "
            f"as its official gzip archive, and this copy is not gzipped. {fix}"
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path} ({exc}). {fix}") from exc
    actual = hashlib.sha256(raw).hexdigest()
    if actual != expected:
        raise DataError(
            f"{path}: sha256 of the archive is {actual}, expected {expected}; it is not the "
            f"official file (another dataset's under this name would pass every structural "
            f"check). {fix}"
        )
    return raw


# --------------------------------------------------------------------------------------------
# Reading and verifying idx files
# --------------------------------------------------------------------------------------------


def _read_bytes(path: Path, gzipped: bool | None = None) -> bytes:
    """Return the decompressed content of ``path``.

    ``gzipped=None`` decides by the ``.gz`` suffix; downloads pass ``True`` explicitly because
    their temporary name ends in ``.tmp``.
    """
    path = Path(path)
    if gzipped is None:
        gzipped = path.suffix == ".gz"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(
            f"cannot read {path} ({exc}). Fix: check the file's permissions, or point "
            f"`data_dir` / {DATA_DIR_ENV} at a readable copy."
        ) from exc
    return _gunzip(raw, path) if gzipped else raw


def _gunzip(raw: bytes, path: Path) -> bytes:
    """The decompressed content of ``raw``, the bytes of the gzip file ``path``."""
    try:
        return gzip.decompress(raw)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise DataError(
            f"{path} is not a complete gzip file ({type(exc).__name__}: {exc}); it is probably "
            f"truncated by an interrupted download. Fix: delete {path} so it is downloaded "
            f"again, or point `data_dir` / {DATA_DIR_ENV} at a good copy."
        ) from exc


def _parse_idx(data: bytes, path: Path) -> np.ndarray:
    """Decode idx bytes, checking the header against the payload so a truncated or foreign file
    is rejected instead of being reshaped into garbage."""
    fix = (
        f"Fix: delete {path} so it is downloaded again, or point `data_dir` / {DATA_DIR_ENV} at a "
        "good copy."
    )
    if len(data) < 4:
        raise DataError(f"{path} is too short ({len(data)} bytes) to be an idx file. {fix}")
    if data[0] != 0 or data[1] != 0:
        raise DataError(
            f"{path} has bad idx magic bytes {data[:4].hex()} (expected 0000<type><ndim>); it is "
            f"not an idx file (or is gzipped without a .gz suffix). {fix}"
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        raise DataError(f"{path} has unknown idx data type 0x{type_code:02x}. {fix}")
    if ndim == 0:
        raise DataError(f"{path} declares 0 dimensions in its idx header. {fix}")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise DataError(f"{path} is truncated inside its idx header. {fix}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header_len
    if actual != expected:
        raise DataError(
            f"{path}: idx header declares shape {dims} ({expected} payload bytes) but the file "
            f"holds {actual} payload bytes. {fix}"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(dims)
    return arr.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an idx file (raw, or gzipped when the name ends in ``.gz``) into a numpy array.

    Validates the magic bytes, the data type code, the number of dimensions and that the payload
    length matches the declared shape. No content hash is checked here (use
    :func:`load_dataset` for that), so this also reads files that are not in the pinned table.
    """
    path = Path(path)
    return _parse_idx(_read_bytes(path), path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(path: Path) -> str:
    """File name without ``.gz``/``.tmp`` suffixes: the key of the hash table."""
    name = path.name
    for suffix in (".tmp", ".gz"):
        name = name.removesuffix(suffix)
    return name


def _check_hash(data: bytes, path: Path, expected: str | None) -> str:
    """Return the sha256 of ``data``; raise if it differs from ``expected`` (when given)."""
    actual = _sha256(data)
    if expected is not None and actual != expected:
        raise DataError(
            f"{path}: sha256 of the decompressed content is {actual}, expected {expected}; the "
            f"file is corrupt or not the official one. Fix: delete {path} so it is downloaded "
            f"again, or point `data_dir` / {DATA_DIR_ENV} at a good copy."
        )
    return actual


def _load_idx_file(
    path: Path, expected_sha256: str | None, archive_sha256: str | None = None
) -> tuple[np.ndarray, str]:
    """Read, verify (when a hash of the content, or else of the official archive, is given)
    and decode one idx file; returns (array, sha256 of the content)."""
    if expected_sha256 is None and archive_sha256 is not None:
        data = _gunzip(_check_archive(path, archive_sha256), path)  # refused unless gzipped
    else:
        data = _read_bytes(path)
    digest = _check_hash(data, path, expected_sha256)
    return _parse_idx(data, path), digest


def _load_idx_pair(
    images_path: str | os.PathLike[str],
    labels_path: str | os.PathLike[str],
    expected_hashes: dict[str, str] | None = None,
    archive_hashes: dict[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Load a matching (images, labels) pair of idx files.

    ``expected_hashes`` maps file names without ``.gz`` to the sha256 of the decompressed
    content; ``None`` skips the hash check (for synthetic files in tests). Labels are read first
    because they are small, so a corrupt pair fails fast. Returns the uint8 images (N, H, W),
    the labels (N,) and the actual hashes keyed by file name, for provenance.
    """
    images_path, labels_path = Path(images_path), Path(labels_path)
    hashes, archives = expected_hashes or {}, archive_hashes or {}

    def load(path: Path) -> tuple[np.ndarray, str]:
        name = _canonical(path)
        return _load_idx_file(path, hashes.get(name), archives.get(name))

    labels, labels_sha = load(labels_path)
    images, images_sha = load(images_path)
    if labels.ndim != 1:
        raise DataError(
            f"{labels_path}: labels must be 1-D, got shape {labels.shape}. Fix: check that the "
            "images and labels files are not swapped."
        )
    if images.ndim != 3:
        raise DataError(
            f"{images_path}: images must be 3-D (N, H, W), got shape {images.shape}. Fix: check "
            "that the images and labels files are not swapped."
        )
    if len(images) != len(labels):
        raise DataError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; the pair does not belong together. Fix: replace both files with the "
            f"official pair (delete them so they are downloaded again, or point `data_dir` / "
            f"{DATA_DIR_ENV} at a good copy)."
        )
    return (
        images,
        labels,
        {_canonical(labels_path): labels_sha, _canonical(images_path): images_sha},
    )


# --------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------


def _download(folder: str, name: str, folder_dir: Path) -> Path:
    """Fetch ``<mirror><name>.gz`` into ``folder_dir`` atomically and return its path.

    The archive is streamed to ``<file>.<pid>-<random>.tmp``, its decompressed content is verified (hash when
    pinned, idx structure always) and only then renamed into place, so a failed download never
    leaves a file that a later run would trust.
    """
    url = f"{_MIRRORS[folder]}{name}.gz"
    dest = folder_dir / f"{name}.gz"
    try:
        make_dirs(folder_dir)
    except OSError as exc:
        raise DataError(
            f"cannot create {folder_dir} to download {name} ({exc}). Fix: {_FIX_DIR}."
        ) from exc
    # a temporary name of its own: parallel jobs on a fresh cache download the same file at
    # once, and with one shared name a second writer truncated the first's download. Opened
    # "x" (not tempfile's 0600): the file keeps the umask's permissions, as a shared cache
    # (EVOTICKETS_DATA_DIR) needs
    tmp = temp_path(folder_dir / f"{name}.gz")
    try:  # whatever stops it (an error, SIGTERM's exit), no temporary file stays
        try:
            with (
                urllib.request.urlopen(url, timeout=_DOWNLOAD_TIMEOUT_S) as resp,
                open(tmp, "xb") as fh,
            ):
                while chunk := resp.read(1 << 20):
                    fh.write(chunk)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise _DownloadError(
                f"{folder_dir / name}(.gz) is missing and the download from {url} failed "
                f"({exc}). Fix: connect to the internet and retry, or download the file by "
                f"hand, or {_FIX_DIR}."
            ) from exc
        try:
            data = _read_bytes(tmp, gzipped=True)
            _parse_idx(data, tmp)
        except DataError as exc:
            raise DataError(
                f"{name}.gz downloaded from {url} is not a valid gzipped idx file and was "
                f"discarded ({exc}). Fix: retry later, or {_FIX_DIR}."
            ) from exc
        if (archive := _ARCHIVE_SHA256.get((folder, name))) is not None:
            try:
                _check_archive(tmp, archive, gzipped=True)
            except DataError as exc:
                raise DataError(
                    f"{name}.gz downloaded from {url} failed verification and was discarded ({exc})"
                ) from exc
        expected = _SHA256.get((folder, name))
        actual = _sha256(data)
        if expected is not None and actual != expected:
            raise DataError(
                f"{name}.gz downloaded from {url} failed verification and was discarded: sha256 "
                f"of the decompressed content is {actual}, expected {expected}. Fix: retry later "
                f"(the mirror may be serving a damaged file), or {_FIX_DIR}."
            )
        durable_replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _missing_error(folder_dir: Path, names: list[str], download: bool) -> DataError:
    listed = ", ".join(f"{n}(.gz)" for n in names)
    why = "download=False" if not download else "the download failed"
    return _MissingError(
        f"missing dataset file(s) in {folder_dir}: {listed} ({why}). Fix: {_FIX_DIR}"
        + ("" if download else ", or allow downloading (download=True)")
        + "."
    )


def _locate(folder: str, folder_dir: Path, names: list[str], download: bool) -> dict[str, Path]:
    """Return the path of every file in ``names``, downloading missing ones if allowed.

    All missing files are reported together so the user fixes the directory in one go.
    """
    found = {n: _find(folder_dir, n, (folder, n) in _ARCHIVE_SHA256) for n in names}
    missing = [n for n, p in found.items() if p is None]
    if missing and not download:
        raise _missing_error(folder_dir, missing, download)
    for n in missing:
        found[n] = _download(folder, n, folder_dir)
    return {n: p for n, p in found.items() if p is not None}


# --------------------------------------------------------------------------------------------
# Assembling datasets
# --------------------------------------------------------------------------------------------


def _normalise(images: np.ndarray, scale: float) -> np.ndarray:
    """Scale to [0, 1], standardise with the MNIST statistics and add the channel axis (NHWC)."""
    x = images.astype(np.float32) / np.float32(scale)
    x = (x - np.float32(NORM_MEAN)) / np.float32(NORM_STD)
    return np.ascontiguousarray(x[..., None], dtype=np.float32)


def _freeze(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


def _make(
    name: str,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    scale: float,
    attrs: dict[str, str],
) -> Dataset:
    attrs = {
        "dataset": name,
        "normalisation": f"x/{scale:g}, then (x - {NORM_MEAN}) / {NORM_STD}",
        "n_train": str(len(y_train)),
        "n_test": str(len(y_test)),
        **attrs,
    }
    return Dataset(
        name=name,
        x_train=_freeze(_normalise(x_train, scale)),
        y_train=_freeze(np.ascontiguousarray(y_train, dtype=np.int32)),
        x_test=_freeze(_normalise(x_test, scale)),
        y_test=_freeze(np.ascontiguousarray(y_test, dtype=np.int32)),
        attrs=attrs,
    )


def _digits_images_and_labels() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 images (float64, 8×8) and labels of scikit-learn's bundled digits, as
    ``sklearn.datasets.load_digits`` returns them.

    Why not call it: importing ``sklearn.datasets`` costs about 2.5 core-seconds (scikit-learn
    imports SciPy and more), paid by every job that trains on digits, the default task, while
    the data are one small CSV that scikit-learn ships. So this reads that file the way
    ``load_digits`` does (``np.loadtxt`` of ``datasets/data/digits.csv.gz``; last column the
    label), locating the package without importing it; tests/unit/test_data.py checks the
    arrays equal ``load_digits``'s. Should a scikit-learn release move the file, it calls
    ``load_digits``."""
    import importlib.util

    spec = importlib.util.find_spec("sklearn")
    where = spec.submodule_search_locations if spec is not None else None
    csv = Path(where[0]) / "datasets" / "data" / "digits.csv.gz" if where else None
    if csv is None or not csv.is_file():
        from sklearn.datasets import load_digits

        bunch = load_digits()
        return np.asarray(bunch.images), np.asarray(bunch.target)
    with gzip.open(csv, mode="rt", encoding="utf-8") as f:
        table = np.loadtxt(f, delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(int)


def _load_digits() -> Dataset:
    """scikit-learn's bundled 8x8 digits: available offline everywhere, hence the smoke task."""
    images, labels = _digits_images_and_labels()
    perm = np.random.default_rng(0).permutation(len(labels))
    train, test = perm[:-_DIGITS_N_TEST], perm[-_DIGITS_N_TEST:]
    return _make(
        "digits",
        images[train],
        labels[train],
        images[test],
        labels[test],
        scale=16.0,
        attrs={"source": "sklearn.datasets.load_digits", "split": _DIGITS_SPLIT},
    )


def _load_idx_dataset(name: str, data_dir: Path, download: bool, kmnist_split: str) -> Dataset:
    folder = _FOLDERS[name]
    folder_dir = data_dir / folder
    hashes = {n: h for (f, n), h in _SHA256.items() if f == folder}
    archives = {n: h for (f, n), h in _ARCHIVE_SHA256.items() if f == folder}
    attrs = {"source": _MIRRORS[folder], "data_dir": str(data_dir)}
    if name == "kmnist":
        attrs["kmnist_split"] = kmnist_split

    if name == "kmnist" and kmnist_split == "test_split":
        # The training images are neither looked for nor downloaded: the split is the config's
        # choice, the same on every machine whatever files it happens to hold.
        paths = _locate(folder, folder_dir, [_TEST_LABELS, _TEST_IMAGES], download)
        images, labels, digests = _load_idx_pair(paths[_TEST_IMAGES], paths[_TEST_LABELS], hashes)
        k = _KMNIST_SPLIT_TRAIN
        attrs["split"] = _KMNIST_TEST_SPLIT
        attrs.update({f"sha256:{n}": d for n, d in sorted(digests.items())})
        return _make(name, images[:k], labels[:k], images[k:], labels[k:], scale=255.0, attrs=attrs)

    names = [_TRAIN_LABELS, _TRAIN_IMAGES, _TEST_LABELS, _TEST_IMAGES]
    try:
        paths = _locate(folder, folder_dir, names, download)
    except _MissingError as exc:
        if name != "kmnist":
            raise
        raise DataError(f"{exc} {_FIX_KMNIST_SPLIT.format(folder=folder_dir)}") from exc
    pair = {"expected_hashes": hashes, "archive_hashes": archives}
    x_tr, y_tr, d_tr = _load_idx_pair(paths[_TRAIN_IMAGES], paths[_TRAIN_LABELS], **pair)
    x_te, y_te, d_te = _load_idx_pair(paths[_TEST_IMAGES], paths[_TEST_LABELS], **pair)
    attrs["split"] = "official"
    attrs.update({f"sha256:{n}": d for n, d in sorted({**d_tr, **d_te}.items())})
    return _make(name, x_tr, y_tr, x_te, y_te, scale=255.0, attrs=attrs)


@functools.lru_cache(maxsize=8)
def _load_cached(name: str, data_dir: Path | None, download: bool, kmnist_split: str) -> Dataset:
    """Decoding MNIST takes about a second; every experiment in one process shares the result."""
    if name == "digits":
        return _load_digits()
    assert data_dir is not None
    return _load_idx_dataset(name, data_dir, download, kmnist_split)


def clear_cache() -> None:
    """Forget every dataset decoded in this process (e.g. after replacing files on disk)."""
    _load_cached.cache_clear()


def _canonical_name(name: str) -> str:
    key = str(name).strip().lower().replace("-", "_")
    if key in DATASETS:
        return key
    close = difflib.get_close_matches(key, DATASETS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise DataError(f"unknown dataset {name!r}.{hint} Fix: use one of {', '.join(DATASETS)}.")


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    kmnist_split: str = DEFAULT_KMNIST_SPLIT,
) -> Dataset:
    """Load a dataset by name as normalised float32 NHWC arrays with int32 labels.

    ``data_dir`` follows :func:`resolve_data_dir`. Missing idx files are downloaded from the
    official mirrors when ``download`` is true; every file is checked against the pinned sha256
    of its decompressed content. Repeated calls with the same arguments in one process return
    the same (read-only) :class:`Dataset` object. ``digits`` is bundled with scikit-learn and
    ignores ``data_dir``.

    ``kmnist_split`` (K-MNIST only): ``"full"`` needs the official training images and raises
    :class:`DataError` without them; ``"test_split"`` splits the official test set 8,000 /
    2,000 and never looks for the training images. ``attrs["kmnist_split"]`` and
    ``attrs["split"]`` record which.
    """
    key = _canonical_name(name)
    if kmnist_split not in KMNIST_SPLITS:
        raise DataError(
            f"unknown kmnist_split {kmnist_split!r}. Fix: use one of {', '.join(KMNIST_SPLITS)}."
        )
    if key != "kmnist" and kmnist_split != "full":
        raise DataError(
            f"kmnist_split={kmnist_split!r} applies to K-MNIST only, not {key!r}. Fix: drop it."
        )
    resolved = None if key == "digits" else resolve_data_dir(data_dir)
    return _load_cached(key, resolved, bool(download), kmnist_split)
