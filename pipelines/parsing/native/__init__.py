"""HMAC-SHA256 of a whole string column in one native call (``hmac_column.c``), with the pure
Python loop as the fallback; pseudonyms of raw text in one native pass (normalise, append a
scope, hash: :func:`normalise_hmac_hex_column`), with pandas as the fallback; and the workbook grid
reader (``xlsx_grid.c``, :func:`grid_module`, used by :mod:`pipelines.parsing.xlsx_native`), with
python-calamine as the fallback.

The C file needs only a C compiler: ``python -m pipelines.parsing.native`` builds it (``make
install`` does), and it calls SHA-256 in the libcrypto that Python's ``hashlib`` already loaded
(OpenSSL; SHA-NI where the CPU has it). On a machine without a compiler or libcrypto nothing
breaks: :func:`hmac_hex_column` returns None and the caller hashes in Python (the same tokens,
about 5x slower; :func:`status` says which is in use).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import subprocess
import sysconfig
from pathlib import Path

import numpy as np
import pyarrow as pa

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("hmac_column.c")
LIBRARY = Path(__file__).with_name("_hmac_column.so")
_loaded: ctypes.CDLL | None = None
_failure: str | None = None


def build(force: bool = False) -> Path:
    """Compile :data:`SOURCE` into :data:`LIBRARY` (``$CC``, else ``cc``) unless it is newer, and the
    workbook grid reader (:data:`GRID_SOURCE`, a CPython extension for this interpreter,
    :func:`grid_module_path`) likewise. Without Python's headers only the grid reader is left out
    (workbooks are then read by calamine alone).

    Raises:
        OSError / subprocess.CalledProcessError: no compiler, or it failed.
    """
    _compile([SOURCE], LIBRARY, force)
    include = sysconfig.get_paths().get("include")
    if not (include and Path(include, "Python.h").exists()):
        log.warning("no Python.h for this interpreter (python3-dev): the native workbook reader is not built; "
                    "calamine reads every workbook")
        return LIBRARY
    try:
        _compile([GRID_SOURCE], grid_module_path(), force, [f"-I{include}"])
    except (OSError, subprocess.CalledProcessError) as exc:
        log.warning("the native workbook reader was not built (%s); calamine reads every workbook", exc)
    return LIBRARY


def _compile(sources: list[Path], target: Path, force: bool, flags: list[str] | None = None) -> None:
    if not force and target.exists() and all(target.stat().st_mtime >= s.stat().st_mtime for s in sources):
        return
    partial = target.with_suffix(f".{os.getpid()}.tmp")
    compiler = os.environ.get("CC", "cc")
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", *(flags or []), "-o", str(partial), *map(str, sources)],
                   check=True)
    partial.replace(target)  # atomic: a process loading it never sees half a file


GRID_SOURCE = Path(__file__).with_name("xlsx_grid.c")


def grid_module_path() -> Path:
    """Where this interpreter's build of the workbook grid reader goes (one per Python version)."""
    return Path(__file__).with_name("_xlsx_grid" + sysconfig.get_config_var("EXT_SUFFIX"))


_grid_module: list = []


def grid_module():
    """The workbook grid reader (``xlsx_grid.c``: ``shared_strings``, ``sheet_grid``), or None when it
    is not built for this interpreter (then calamine reads every workbook, only slower)."""
    if not _grid_module:
        module = None
        path = grid_module_path()
        if path.exists() and path.stat().st_mtime >= GRID_SOURCE.stat().st_mtime:
            import importlib.util  # noqa: PLC0415

            try:
                spec = importlib.util.spec_from_file_location("_xlsx_grid", path)
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
            except (ImportError, OSError) as exc:
                log.warning("native workbook reader unavailable (calamine reads every workbook): %s", exc)
                module = None
        _grid_module.append(module)
    return _grid_module[0]


def _libcrypto() -> str | None:
    """The libcrypto Python's hashlib uses (read from this process's mappings), else the system's."""
    import _hashlib  # noqa: F401, PLC0415 - maps the libcrypto hashlib was built against

    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "/libcrypto" in path and ".so" in path:
                    return path
    except OSError:
        pass
    return ctypes.util.find_library("crypto")


def _load() -> ctypes.CDLL | None:
    global _loaded, _failure
    if _loaded is not None or _failure is not None:
        return _loaded
    try:
        if not LIBRARY.exists():
            raise OSError(f"{LIBRARY.name} not built (make install, or python -m pipelines.parsing.native)")
        crypto = _libcrypto()
        if crypto is None:
            raise OSError("no libcrypto found")
        ctypes.CDLL(crypto, mode=ctypes.RTLD_GLOBAL)
        lib = ctypes.CDLL(str(LIBRARY))
        fn = lib.hmac_sha256_hex_column
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p,
                       ctypes.c_int64, ctypes.c_void_p, ctypes.c_int]
        fn = lib.normalise_hmac_hex_column  # a library built from an older source lacks it: rebuilt by make
        fn.restype = ctypes.c_int64
        fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_void_p,
                       ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                       ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                       ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p,
                       ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int]
        fn = lib.sheet_extent_canonical
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_char_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int64)]
        _loaded = lib
    except (OSError, AttributeError) as exc:
        _failure = str(exc)
        log.warning("native library unavailable (pseudonyms hashed in Python, workbook extents scanned with numpy): %s",
                    _failure)
    return _loaded


def status() -> str:
    """``native`` or ``python (<why>)``: which HMAC path this process uses."""
    return "native" if _load() is not None else f"python ({_failure})"


def _string_buffers(values: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray, int]:
    """``(values as one large_string array, its offsets shifted to its first value, its data address)``."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.large_string())
    values = values.cast(pa.large_string())
    n = len(values)
    _, offset_buf, data_buf = values.buffers()
    offsets = np.frombuffer(offset_buf, dtype=np.int64, count=n + 1, offset=values.offset * 8) if n else \
        np.zeros(1, np.int64)
    data = data_buf.address if data_buf is not None and data_buf.size else ctypes.addressof(ctypes.c_char())
    return values, offsets, data


def _validity(values: pa.Array) -> int | None:
    buffer = values.buffers()[0]
    return buffer.address if buffer is not None and values.null_count else None


def normalise_hmac_hex_column(key_block: bytes, prefix: bytes, values: pa.Array | pa.ChunkedArray, hex_chars: int, *,
                              suffix: pa.Array | pa.ChunkedArray | None = None, sep: bytes = b"|",
                              empty_gives_null: bool = True, selected: np.ndarray | None = None,
                              ) -> tuple[pa.Array, np.ndarray] | None:
    """Normalise (as ``pseudonym.normalise_identity``) and hash every value of a string array in one
    native pass (see ``hmac_column.c``): ``(tokens, fallback)``, or None when the native library is
    unavailable.

    With ``suffix`` (a string array as long as ``values``), the hashed text is
    ``normalise_identity(norm + sep + suffix)`` (a null suffix counts as empty). ``tokens`` is a
    ``large_string`` array, null where ``selected`` (a bool array) is False, where the value is
    null or normalises to empty (unless not ``empty_gives_null``: then it counts as empty text), and
    where ``fallback`` (a bool array) is True: a row with a byte other than printable ASCII, tab, CR
    or LF, whose Unicode trimming and upper-casing the caller does in Python.
    """
    lib = _load()
    if lib is None:
        return None
    if len(key_block) != 64:
        raise ValueError("key_block must be 64 bytes")
    values, offsets, data = _string_buffers(values)
    n = len(values)
    longest = int(np.diff(offsets).max()) if n else 0
    suffix_args: list = [None, None, None, 0]
    if suffix is not None:
        suffix, suffix_offsets, suffix_data = _string_buffers(suffix)
        if len(suffix) != n:
            raise ValueError("suffix must be as long as values")
        longest += len(sep) + (int(np.diff(suffix_offsets).max()) if n else 0)
        suffix_args = [suffix_offsets.ctypes.data, suffix_data, _validity(suffix), suffix.offset]
    if selected is not None:
        selected = np.ascontiguousarray(selected, dtype=bool)
        if len(selected) != n:
            raise ValueError("selected must be as long as values")
    scratch = np.empty(max(longest, 1), dtype=np.uint8)
    out = np.empty(n * hex_chars, dtype=np.uint8)
    out_valid = np.empty(n, dtype=np.uint8)
    fallback = np.empty(n, dtype=np.uint8)
    rc = lib.normalise_hmac_hex_column(
        key_block, prefix, len(prefix), offsets.ctypes.data, data, _validity(values), values.offset, n,
        *suffix_args, sep, len(sep), int(empty_gives_null), None if selected is None else selected.ctypes.data,
        out.ctypes.data, out_valid.ctypes.data, fallback.ctypes.data, scratch.ctypes.data, hex_chars)
    if rc < 0:
        raise ValueError("native HMAC refused its arguments")
    present = out_valid.view(bool)
    n_null = n - int(present.sum())
    bitmap = pa.py_buffer(np.packbits(present, bitorder="little")) if n_null else None
    starts = pa.py_buffer(np.arange(0, (n + 1) * hex_chars, hex_chars, dtype=np.int64))
    tokens = pa.LargeStringArray.from_buffers(n, starts, pa.py_buffer(out), bitmap, n_null)
    return tokens, fallback.view(bool)


def hmac_hex_column(key_block: bytes, prefix: bytes, values: pa.Array | pa.ChunkedArray, hex_chars: int) -> pa.Array | None:
    """``hex(HMAC-SHA256(key, prefix + value))[:hex_chars]`` of every value of a non-null string
    array, as a ``large_string`` array; None when the native library is unavailable.

    Args:
        key_block: the key padded as HMAC pads it (64 bytes).
    """
    lib = _load()
    if lib is None:
        return None
    if len(key_block) != 64:
        raise ValueError("key_block must be 64 bytes")
    if values.null_count:
        raise ValueError("values must not be null")
    values, offsets, data = _string_buffers(values)
    n = len(values)
    out = np.empty(n * hex_chars, dtype=np.uint8)
    rc = lib.hmac_sha256_hex_column(key_block, prefix, len(prefix), offsets.ctypes.data, data, n,
                                    out.ctypes.data, hex_chars)
    if rc != 0:
        raise ValueError("native HMAC refused its arguments")
    starts = pa.py_buffer(np.arange(0, (n + 1) * hex_chars, hex_chars, dtype=np.int64))
    return pa.LargeStringArray.from_buffers(n, starts, pa.py_buffer(out))


UNAVAILABLE = object()  # what sheet_extent_canonical returns without the native library


def sheet_extent_canonical(xml: bytes):
    """``(last row, last column)`` of the cells of a chunk of sheet XML written as Excel writes them,
    None when some cell is written otherwise (``xlsx_limits._extent_canonical``, in one native pass);
    :data:`UNAVAILABLE` without the native library."""
    lib = _load()
    if lib is None:
        return UNAVAILABLE
    rows, cols = ctypes.c_int64(), ctypes.c_int64()
    if not lib.sheet_extent_canonical(xml, len(xml), ctypes.byref(rows), ctypes.byref(cols)):
        return None
    return rows.value, cols.value
