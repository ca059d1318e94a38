# SPDX-License-Identifier: BSD-3-Clause
"""Reading a model file's zip archive within fixed bounds, before decoding.

Everything here distrusts the file: member names, counts and sizes are checked
against the manifest and the limits before a byte is decompressed; members are
read through a stream capped at their declared size; JSON is refused above a
nesting depth before it is parsed; arrays are NumPy files whose header (dtype,
shape) is checked against the member's size before the data is viewed, and are
never unpickled. Every failure is a :class:`~tabkit.exceptions.ModelFileError`.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import struct
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from tabkit.exceptions import IncompatibleModelFileError, ModelFileError

#: Version of the model-file layout; a reader accepts files up to its own.
FORMAT_VERSION = 2
FORMAT_NAME = "tabkit-model"
MANIFEST = "manifest.json"
STATE = "state.json"
_ARRAY_NAME = re.compile(r"arrays/(0|[1-9][0-9]{0,8})\.npy")
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: Largest single read from the file: the zip directory and one member chunk.
_MAX_READ = 2 * 2**20
_CHUNK = 2**20
_MAX_MANIFEST_BYTES = 2**20
_MAX_NPY_HEADER = 10_000
_MAX_NDIM = 32
_MAX_CODE_POINT = 0x10FFFF
#: Array dtypes a model file may hold, by kind: bool, integers, floats, str,
#: datetimes and timedeltas.
ARRAY_KINDS = frozenset("biufUMm")
#: Array dtypes that convert to torch tensors.
TENSOR_DTYPES = frozenset(
    np.dtype(t).str[1:]
    for t in ("bool", "uint8", "int8", "int16", "int32", "int64", "f2", "f4", "f8")
)
# Errors the zip, zlib and struct layers raise on a damaged archive.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    ValueError,
    struct.error,
    NotImplementedError,
    RuntimeError,
    UnicodeDecodeError,
    OverflowError,
)


@dataclass(frozen=True)
class Limits:
    """Bounds on what a model file may contain (see ``tabkit.serialization``)."""

    total_bytes: int
    members: int
    state_bytes: int
    json_depth: int
    json_containers: int
    objects: int


@dataclass
class Contents:
    """A model file's checked members: the manifest, the state tree, arrays."""

    manifest: dict[str, Any]
    version: int
    state: Any
    arrays: list[np.ndarray]


def sha256(data: bytes | bytearray) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


class _BoundedFile(io.RawIOBase):
    """A read-only file on which no single read exceeds ``_MAX_READ`` bytes.

    The zip directory is read in one call, so its size (and with it the
    number of entries zipfile builds in memory) is bounded before parsing.
    """

    def __init__(self, raw: BinaryIO, size: int) -> None:
        self._raw, self._size = raw, size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = max(0, self._size - self._raw.tell())
        if size > _MAX_READ:
            raise ModelFileError(
                f"the zip archive asks for a read of {size} bytes at once (its "
                f"directory may hold at most {_MAX_READ} bytes)"
            )
        return self._raw.read(size)


# ------------------------------------------------------------------- JSON
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPENERS, _CLOSERS = (ord("["), ord("{")), (ord("]"), ord("}"))


def _nesting(raw: bytes, chunk: int = 2**16) -> tuple[int, int]:
    """(maximum depth, number of arrays and objects) of a JSON text, unparsed.

    One linear pass in chunks (no regular expression can be made to
    backtrack): a quote preceded by an odd number of backslashes is escaped,
    unescaped quotes delimit strings, and brackets outside strings count.
    """
    codes = np.frombuffer(raw, dtype=np.uint8)
    depth = deepest = opened = run = 0
    inside = False
    for start in range(0, len(codes), chunk):
        part = codes[start : start + chunk]
        index = np.arange(len(part))
        slash = part == _BACKSLASH
        # last position <= i that is not a backslash (-1: none in this chunk)
        last = np.maximum.accumulate(np.where(slash, -1, index))
        before = np.empty(len(part), dtype=np.int64)  # backslashes just before i
        before[0] = run
        before[1:] = index[:-1] - last[:-1] + np.where(last[:-1] < 0, run, 0)
        quote = (part == _QUOTE) & (before % 2 == 0)
        parity = (np.cumsum(quote, dtype=np.int64) + inside) % 2
        outside = (parity == 0) & ~quote
        opens = outside & np.isin(part, _OPENERS)
        closes = outside & np.isin(part, _CLOSERS)
        running = depth + np.cumsum(opens.astype(np.int8) - closes, dtype=np.int64)
        deepest = max(deepest, int(running.max()))
        depth, opened = int(running[-1]), opened + int(opens.sum())
        inside = bool(parity[-1])
        run = len(part) - 1 - int(last[-1]) + (run if last[-1] < 0 else 0)
    return deepest, opened


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        counts = Counter(key for key, _ in pairs)
        twice = sorted(key for key, n in counts.items() if n > 1)
        raise ModelFileError(f"a JSON object has the key(s) {twice[:3]} twice")
    return result


def _no_constant(name: str) -> Any:
    raise ModelFileError(f"JSON holds the non-standard constant {name}")


def parse_json(
    raw: bytes | str, what: str, limits: Limits, *, constants: bool = False
) -> Any:
    """Parse JSON after bounding its nesting depth and number of containers.

    Parameters
    ----------
    raw : bytes or str
        UTF-8 JSON text.
    what : str
        Name used in errors.
    limits : Limits
    constants : bool, default=False
        Accept ``NaN`` and ``Infinity`` (as ``json.dumps`` writes them).

    Returns
    -------
    value : object
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    depth, containers = _nesting(data)
    if depth > limits.json_depth:
        raise ModelFileError(
            f"{what} is nested {depth} levels deep (at most {limits.json_depth})"
        )
    if containers > limits.json_containers:
        raise ModelFileError(
            f"{what} has {containers} JSON arrays and objects "
            f"(at most {limits.json_containers})"
        )
    try:
        return json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_unique_keys,
            parse_constant=float if constants else _no_constant,
        )
    except ModelFileError as error:
        raise ModelFileError(f"{what}: {error}") from None
    except (ValueError, RecursionError, MemoryError) as error:
        raise ModelFileError(f"{what} is not valid JSON: {error}") from None


# -------------------------------------------------------------- manifest
def _check_manifest(manifest: Any) -> tuple[int, dict[str, int | None], dict[str, str]]:
    """Format version, member sizes (None in format 1) and checksums."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise ModelFileError(
            "not a tabkit model file (its manifest names another format)"
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelFileError(f"the manifest gives the format version {version!r:.60}")
    if version > FORMAT_VERSION:
        written_by = manifest.get("tabkit_version")
        raise IncompatibleModelFileError(
            f"the file uses model-file format {version}, written by tabkit "
            f"{written_by if isinstance(written_by, str) else '?'}; this tabkit "
            f"reads formats up to {FORMAT_VERSION}: upgrade tabkit to load it"
        )
    expected: dict[str, type | tuple[type, ...]] = {
        "format": str,
        "format_version": int,
        "tabkit_version": str,
        "class": str,
        "created": str,
        "versions": dict,
        "checksums": dict,
    }
    if version >= 2:
        expected["sizes"] = dict
    required = {"format", "format_version", "class", "checksums"} | (
        {"sizes", "tabkit_version"} if version >= 2 else set()
    )
    problems = [f"no {key!r:.60}" for key in sorted(required - set(manifest))]
    problems += [
        f"unknown key {key!r:.60}" for key in sorted(set(manifest) - set(expected))
    ]
    problems += [
        f"{key!r} is not a {kind.__name__}"  # type: ignore[union-attr]
        for key, kind in expected.items()
        if key in manifest and not isinstance(manifest[key], kind)
    ]
    versions = manifest.get("versions", {})
    if isinstance(versions, dict) and not all(
        isinstance(v, str) for v in versions.values()
    ):
        problems.append("'versions' holds a non-string")
    if problems:
        raise ModelFileError(f"the manifest is invalid: {', '.join(problems)}")
    checksums = manifest["checksums"]
    bad = [n for n, c in checksums.items() if not _SHA256.fullmatch(str(c))]
    if bad:
        raise ModelFileError(
            f"the manifest has malformed checksums for {bad[:3]!r:.200}"
        )
    sizes: dict[str, int | None] = dict.fromkeys(checksums)
    if version >= 2:
        if set(manifest["sizes"]) != set(checksums):
            raise ModelFileError(
                "the manifest's sizes and checksums list different members"
            )
        for name, size in manifest["sizes"].items():
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise ModelFileError(
                    f"the manifest gives {name!r:.60} the size {size!r:.60}"
                )
            sizes[name] = size
    return version, sizes, checksums


def _check_names(names: list[str]) -> int:
    """Check the members' names; return the number of arrays."""
    if STATE not in names:
        raise ModelFileError(f"the manifest lists no {STATE}")
    arrays = [n for n in names if n != STATE]
    odd = [n for n in arrays if not _ARRAY_NAME.fullmatch(n)]
    if odd:
        raise ModelFileError(
            f"the manifest lists unexpected members {sorted(odd)[:3]!r:.200}"
        )
    numbers = sorted(int(n[7:-4]) for n in arrays)
    if numbers != list(range(len(numbers))):
        raise ModelFileError("the arrays are not numbered 0, 1, 2, ...")
    return len(numbers)


# ------------------------------------------------------------------ arrays
def parse_npy(data: bytearray, name: str) -> np.ndarray:
    """View a NumPy ``.npy`` member as an array after checking its header.

    The dtype must be a plain bool, integer, float or str type and the shape
    must account for exactly the member's bytes: nothing is allocated from the
    header's word.
    """
    prefix = io.BytesIO(bytes(data[: 12 + _MAX_NPY_HEADER]))
    try:
        major, minor = np.lib.format.read_magic(prefix)
        if (major, minor) == (1, 0):
            read_header = np.lib.format.read_array_header_1_0
        elif (major, minor) == (2, 0):
            read_header = np.lib.format.read_array_header_2_0
        else:
            raise ValueError(f"unsupported .npy version {major}.{minor}")
        shape, fortran, dtype = read_header(prefix, max_header_size=_MAX_NPY_HEADER)
    except Exception as error:
        raise ModelFileError(f"{name} is not a valid array: {error}") from None
    offset = prefix.tell()
    if (
        dtype.kind not in ARRAY_KINDS
        or dtype.fields is not None
        or dtype.subdtype is not None
        or dtype.itemsize == 0
    ):
        raise ModelFileError(f"{name} holds the dtype {dtype.str!r}, not allowed")
    if len(shape) > _MAX_NDIM or any(n < 0 for n in shape):
        raise ModelFileError(f"{name} has the shape {shape}")
    count = math.prod(shape)
    if count * dtype.itemsize != len(data) - offset:
        raise ModelFileError(
            f"{name} declares shape {shape} of {dtype.str} ({count * dtype.itemsize}"
            f" bytes) but holds {len(data) - offset} bytes of data"
        )
    array = np.frombuffer(data, dtype=dtype, count=count, offset=offset)
    if not dtype.isnative:
        array = array.astype(dtype.newbyteorder("="))
    if dtype.kind == "U" and count and array.view(np.uint32).max() > _MAX_CODE_POINT:
        raise ModelFileError(f"{name} holds strings with invalid characters")
    array = array.reshape(shape, order="F" if fortran else "C")
    return np.require(array, requirements=["A", "W"])


# ------------------------------------------------------------------- files
def _read_member(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int, checksum: str
) -> bytearray:
    """Read a member through a stream capped at its declared size."""
    data = bytearray()
    with archive.open(info) as stream:
        while len(data) < size:
            chunk = stream.read(min(_CHUNK, size - len(data)))
            if not chunk:
                break
            data += chunk
        if len(data) != size or stream.read(1):
            raise ModelFileError(
                f"corrupted: {info.filename} does not have its declared size"
            )
    if sha256(data) != checksum:
        raise ModelFileError(f"corrupted: checksum mismatch in {info.filename}")
    return data


def _check_infos(
    infos: list[zipfile.ZipInfo], sizes: dict[str, int | None], limits: Limits
) -> dict[str, int]:
    """Check the directory against the manifest; return each member's size."""
    names = [info.filename for info in infos if info.filename != MANIFEST]
    if set(names) != set(sizes):
        missing, extra = (
            sorted(set(sizes) - set(names)),
            sorted(set(names) - set(sizes)),
        )
        raise ModelFileError(
            "corrupted: the members do not match the manifest (missing "
            f"{missing[:3]!r:.200}, unlisted {extra[:3]!r:.200})"
        )
    result = {}
    for info in infos:
        if info.filename == MANIFEST:
            continue
        declared = sizes[info.filename]
        if declared is not None and info.file_size != declared:
            raise ModelFileError(
                f"corrupted: the zip directory gives {info.filename} "
                f"{info.file_size} bytes, the manifest {declared}"
            )
        result[info.filename] = info.file_size
    total = sum(result.values())
    if total > limits.total_bytes:
        raise ModelFileError(
            f"the members hold {total} bytes, more than tabkit.serialization."
            f"MAX_TOTAL_BYTES ({limits.total_bytes}); raise that limit to load a "
            "larger model from a trusted source"
        )
    if result[STATE] > limits.state_bytes:
        raise ModelFileError(
            f"{STATE} has {result[STATE]} bytes, more than tabkit."
            f"serialization.MAX_STATE_BYTES ({limits.state_bytes})"
        )
    return result


def read(path: Path, limits: Limits) -> Contents:
    """Read and check a model file's members (nothing decoded yet).

    Parameters
    ----------
    path : Path
    limits : Limits

    Returns
    -------
    contents : Contents
    """
    with path.open("rb") as raw:
        size = raw.seek(0, io.SEEK_END)
        raw.seek(0)
        try:
            return _read(zipfile.ZipFile(_BoundedFile(raw, size)), limits)
        except ModelFileError:
            raise
        except _ZIP_ERRORS as error:
            raise ModelFileError(
                f"not a readable tabkit model file (truncated or corrupted?): {error}"
            ) from None


def _read(archive: zipfile.ZipFile, limits: Limits) -> Contents:
    infos = archive.infolist()
    if len(infos) > limits.members + 1:
        raise ModelFileError(
            f"the file has {len(infos)} members, more than tabkit.serialization."
            f"MAX_MEMBERS ({limits.members})"
        )
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        twice = sorted(n for n, count in Counter(names).items() if count > 1)
        raise ModelFileError(f"the file has several members named {twice[:3]!r:.200}")
    if MANIFEST not in names:
        raise ModelFileError("not a tabkit model file (no manifest)")
    for info in infos:
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{info.filename!r:.80} is encrypted")
        if info.compress_type not in {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED}:
            raise ModelFileError(
                f"{info.filename!r:.80} uses compression method {info.compress_type} "
                "(tabkit writes only stored or deflated members)"
            )
    manifest_info = archive.getinfo(MANIFEST)
    if manifest_info.file_size > _MAX_MANIFEST_BYTES:
        raise ModelFileError(f"the manifest has {manifest_info.file_size} bytes")
    with archive.open(manifest_info) as stream:
        manifest_bytes = stream.read(_MAX_MANIFEST_BYTES + 1)
    manifest = parse_json(manifest_bytes, MANIFEST, limits)
    version, sizes, checksums = _check_manifest(manifest)
    n_arrays = _check_names(list(sizes))
    actual = _check_infos(infos, sizes, limits)
    state_bytes = _read_member(
        archive, archive.getinfo(STATE), actual[STATE], checksums[STATE]
    )
    state = parse_json(bytes(state_bytes), STATE, limits)
    del state_bytes
    arrays = []
    for i in range(n_arrays):
        name = f"arrays/{i}.npy"
        data = _read_member(
            archive, archive.getinfo(name), actual[name], checksums[name]
        )
        arrays.append(parse_npy(data, name))
    return Contents(manifest, version, state, arrays)


# ------------------------------------------------------------------ writing
def npy_bytes(array: np.ndarray) -> bytes:
    """Return an array in NumPy's ``.npy`` format (never pickled)."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def check_writable(members: dict[str, bytes], limits: Limits) -> None:
    """Refuse to write a file that :func:`read` would refuse for its size."""
    total = sum(len(data) for data in members.values())
    problems = []
    if total > limits.total_bytes:
        problems.append(
            f"its members would hold {total} bytes, more than tabkit.serialization."
            f"MAX_TOTAL_BYTES ({limits.total_bytes})"
        )
    if len(members) > limits.members:
        problems.append(
            f"it would have {len(members)} members, more than tabkit.serialization."
            f"MAX_MEMBERS ({limits.members})"
        )
    if len(members[STATE]) > limits.state_bytes:
        problems.append(
            f"its {STATE} would have {len(members[STATE])} bytes, more than "
            f"tabkit.serialization.MAX_STATE_BYTES ({limits.state_bytes})"
        )
    depth, containers = _nesting(members[STATE])
    if depth > limits.json_depth or containers > limits.json_containers:
        problems.append(
            f"its {STATE} would nest {depth} levels and hold {containers} arrays "
            f"and objects (limits {limits.json_depth} and {limits.json_containers})"
        )
    if problems:
        raise ValueError(
            f"cannot write a model file that tabkit.load would refuse: "
            f"{'; '.join(problems)}; raise the limit(s) to save a larger model"
        )


def write(path: Path, manifest: bytes, members: dict[str, bytes]) -> None:
    """Write the zip archive: the manifest first, then the members."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, manifest)
        for name, data in members.items():
            archive.writestr(name, data)
