"""Reading INSPECTOR's classifier pickles without running them: an allow-list unpickler of inert records.

A pickle is a program: its GLOBAL / STACK_GLOBAL opcodes name any importable callable and
REDUCE / NEWOBJ / BUILD call it, so the standard loader runs whatever a downloaded file says;
judgerl never uses it. `RestrictedUnpickler` subclasses `pickle.Unpickler` and overrides
`find_class`, the one hook every global reference goes through: it imports nothing and answers
only the (module, name) pairs that INSPECTOR's released files use (sklearn 1.6 GridSearchCV of a
StandardScaler + LogisticRegression or SVC pipeline, pickled with `pickle.dump`, and the numpy
pieces of their arrays; plus the cross-validation splitter a newer sklearn keeps in the same
search), each with an inert stand-in:

- an sklearn class becomes a `PickledObject` subclass that only records the state dict the file
  gives it (no sklearn code runs, and the installed sklearn version does not matter);
- a referenced function (the f1_score inside GridSearchCV's scorer) becomes a `PickledFunction`,
  which cannot be called;
- numpy's array, dtype and scalar rebuilders become functions here that record their arguments;
  numbers are read from the recorded bytes with `np.frombuffer` only when asked for, after the
  dtype (an allow-listed plain number type) and the byte count are checked.

Any other name stops the read in `find_class`, before anything it names is imported or called,
with a `RefusedPickleError` naming it. joblib's files (`joblib.dump`) wrap arrays in
`joblib.numpy_pickle.NumpyArrayWrapper` objects whose bytes follow the pickle stream; INSPECTOR
saves with `pickle.dump`, so that class is refused too, with a hint to save it with pickle.dump.
Protocols 3 to 5 are read (INSPECTOR's files are protocol 4, Python's default); protocols 0-2
spell bytes as calls to _codecs.encode, which is refused.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from judgerl.probes.linear import ProbeFileError

MAX_BYTES = 512 << 20  # INSPECTOR's files are at most 2 MB; a larger one is not one of them

SKLEARN_CLASSES: frozenset[tuple[str, str]] = frozenset(
    {
        ("sklearn.model_selection._search", "GridSearchCV"),
        ("sklearn.pipeline", "Pipeline"),
        ("sklearn.preprocessing._data", "StandardScaler"),
        ("sklearn.linear_model._logistic", "LogisticRegression"),
        ("sklearn.svm._classes", "SVC"),
        ("sklearn.metrics._scorer", "_Scorer"),
        # the splitter GridSearchCV(cv=5) keeps in recent sklearn versions (1.6 keeps the int)
        ("sklearn.model_selection._split", "StratifiedKFold"),
        ("sklearn.model_selection._split", "KFold"),
    }
)
FUNCTIONS: frozenset[tuple[str, str]] = frozenset({("sklearn.metrics._classification", "f1_score")})
_NUMPY_CORE = ("numpy._core", "numpy.core")  # numpy 2 names, and numpy 1's


class RefusedPickleError(ProbeFileError):
    """A pickle names a class or function outside the allow-list; nothing in it was run."""


class PickledObject:
    """An inert stand-in for an allow-listed sklearn object: its class name and recorded state.

    The unpickler creates one per object with `cls.__new__(cls)` and hands it the state dict
    the file holds; nothing else happens.
    """

    module = ""
    name = ""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise TypeError(f"{self.module}.{self.name}: expected a state dict, got {type(state).__name__}")
        self.state = dict(state)

    @property
    def qualname(self) -> str:
        """'module.Name' of the sklearn class this stands for."""
        return f"{self.module}.{self.name}"

    def get(self, key: str, default: Any = None) -> Any:
        """One recorded attribute (`default` when the file did not hold it). Usage: obj.get("coef_")"""
        return getattr(self, "state", {}).get(key, default)


@dataclass(frozen=True)
class PickledFunction:
    """A function the file refers to (never called: this object is not callable)."""

    module: str
    name: str


class _ArrayType:
    """Stands for numpy.ndarray / numpy.ma.MaskedArray where the file passes the class itself."""


class _MaskedArrayType:
    """Stands for numpy.ma.MaskedArray."""


_DTYPE_SPEC = re.compile(r"(?:b1|[iu][1248]|f[248]|O[48]|U\d{1,6})")


class DTypeRecord:
    """An allow-listed dtype: a plain number type (or objects / text, which are never read as numbers)."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.byteorder = "="

    def __setstate__(self, state: Any) -> None:
        if not (isinstance(state, tuple) and len(state) >= 4 and state[2] is None and state[3] is None):
            raise TypeError(f"dtype {self.spec}: only plain (unstructured) dtypes are read")
        if state[1] not in ("<", ">", "|", "="):
            raise TypeError(f"dtype {self.spec}: unknown byte order {state[1]!r}")
        self.byteorder = state[1]

    def numeric(self) -> np.dtype[Any]:
        """The numpy dtype of a number array; ValueError for objects or text."""
        if self.spec[0] in "OU":
            raise ValueError(f"an array of {self.spec} where numbers were expected")
        dtype = np.dtype(self.spec)
        return dtype.newbyteorder(self.byteorder) if self.byteorder in "<>" else dtype


def _dtype(spec: Any, align: Any = False, copy: Any = True) -> DTypeRecord:
    if not isinstance(spec, str) or not _DTYPE_SPEC.fullmatch(spec):
        raise TypeError(f"dtype {spec!r} is not one of the plain types these files use")
    return DTypeRecord(spec)


@dataclass
class ArrayRecord:
    """An array as the file describes it: shape, dtype, order and raw bytes (or a list of objects).

    `values()` reads a number array with np.frombuffer after checking the byte count.
    """

    masked: bool = False
    shape: tuple[int, ...] = ()
    dtype: DTypeRecord | None = None
    fortran: bool = False
    raw: Any = None
    mask: Any = field(default=None, repr=False)

    def __setstate__(self, state: Any) -> None:
        size = 7 if self.masked else 5
        if not (isinstance(state, tuple) and len(state) == size):
            raise TypeError(f"array state must be a {size}-tuple, got {type(state).__name__}")
        _, shape, dtype, fortran, raw = state[:5]
        if not (isinstance(shape, tuple) and all(isinstance(n, int) and n >= 0 for n in shape)):
            raise TypeError(f"array shape must be a tuple of sizes, got {shape!r:.60}")
        if not isinstance(dtype, DTypeRecord):
            raise TypeError("array dtype is not a recorded dtype")
        self.shape, self.dtype, self.fortran, self.raw = shape, dtype, bool(fortran), raw
        self.mask = state[5] if self.masked else None

    def values(self) -> np.ndarray:
        """The array's numbers (a new array); ValueError if they are not plain numbers of the right size.

        Usage: coef = record.state["coef_"].values()
        """
        if self.dtype is None:
            raise ValueError("an array without its contents")
        dtype = self.dtype.numeric()
        if not isinstance(self.raw, (bytes, bytearray)):
            raise ValueError(f"array of {self.dtype.spec} holds {type(self.raw).__name__}, not bytes")
        count = math.prod(self.shape)
        if len(self.raw) != count * dtype.itemsize:
            raise ValueError(
                f"array of shape {self.shape} needs {count * dtype.itemsize} bytes, has {len(self.raw)}"
            )
        flat = np.frombuffer(bytes(self.raw), dtype=dtype, count=count)
        return flat.reshape(self.shape, order="F" if self.fortran else "C").astype(dtype.newbyteorder("="))


@dataclass
class ScalarRecord:
    """A numpy scalar as recorded: its dtype and payload (bytes for a number)."""

    dtype: DTypeRecord
    payload: Any

    def value(self) -> Any:
        """The number (a Python int / float / bool), or the object an object scalar holds."""
        if self.dtype.spec[0] == "O":
            return self.payload
        return ArrayRecord(shape=(), dtype=self.dtype, raw=self.payload).values().item()


def _reconstruct(subtype: Any, shape: Any, typecode: Any) -> ArrayRecord:
    if subtype is not _ArrayType:
        raise TypeError("numpy _reconstruct of something other than an ndarray")
    return ArrayRecord()


def _mareconstruct(subtype: Any, baseclass: Any, baseshape: Any, basetype: Any) -> ArrayRecord:
    if subtype is not _MaskedArrayType or baseclass is not _ArrayType:
        raise TypeError("numpy _mareconstruct of something other than a MaskedArray of an ndarray")
    return ArrayRecord(masked=True)


def _scalar(dtype: Any, payload: Any = None) -> ScalarRecord:
    if not isinstance(dtype, DTypeRecord):
        raise TypeError("numpy scalar without a recorded dtype")
    return ScalarRecord(dtype, payload)


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> ArrayRecord:
    """Protocol 5's array rebuilder (in-band buffers only: a stream with out-of-band buffers fails)."""
    if not isinstance(dtype, DTypeRecord) or order not in ("C", "F"):
        raise TypeError("numpy _frombuffer without a recorded dtype and order C or F")
    raw = bytes(buffer.raw() if isinstance(buffer, pickle.PickleBuffer) else buffer)
    record = ArrayRecord(dtype=dtype, fortran=order == "F", raw=raw)
    record.shape = tuple(int(n) for n in shape)
    return record


_STAND_INS: dict[tuple[str, str], type[PickledObject]] = {
    key: type(key[1], (PickledObject,), {"module": key[0], "name": key[1], "__module__": __name__})
    for key in SKLEARN_CLASSES
}
_NUMPY: dict[tuple[str, str], Any] = {
    ("numpy", "ndarray"): _ArrayType,
    ("numpy", "dtype"): _dtype,
    ("numpy.ma", "MaskedArray"): _MaskedArrayType,
    ("numpy.ma.core", "MaskedArray"): _MaskedArrayType,
    ("numpy.ma.core", "_mareconstruct"): _mareconstruct,
    **{(f"{core}.multiarray", "_reconstruct"): _reconstruct for core in _NUMPY_CORE},
    **{(f"{core}.multiarray", "scalar"): _scalar for core in _NUMPY_CORE},
    **{(f"{core}.numeric", "_frombuffer"): _frombuffer for core in _NUMPY_CORE},
}


def allowed_names() -> list[str]:
    """Every 'module.name' the restricted reader answers, sorted. Usage: print(allowed_names())"""
    return sorted(f"{m}.{n}" for m, n in (*SKLEARN_CLASSES, *FUNCTIONS, *_NUMPY))


class RestrictedUnpickler(pickle.Unpickler):
    """pickle.Unpickler whose find_class answers only the allow-list, with inert stand-ins.

    `find_class` is the only way a pickle reaches a global name, so refusing there refuses
    before anything is imported or called. Persistent ids are refused by pickle itself (no
    persistent_load is defined).

    Usage: obj = RestrictedUnpickler(io.BytesIO(data)).load()
    """

    def find_class(self, module: str, name: str) -> Any:
        """The stand-in for an allow-listed (module, name); RefusedPickleError for anything else."""
        key = (module, name)
        if key in _STAND_INS:
            return _STAND_INS[key]
        if key in FUNCTIONS:
            return PickledFunction(module, name)
        if key in _NUMPY:
            return _NUMPY[key]
        hint = (
            " (a joblib.dump file: INSPECTOR saves with pickle.dump; load it in your own environment "
            "and save it again with pickle.dump)"
            if module.startswith("joblib")
            else ""
        )
        raise RefusedPickleError(
            f"it names {module}.{name}, which is not one of the sklearn / numpy classes INSPECTOR's "
            f"classifier files use{hint}; nothing in the file was run"
        )


def read_restricted_pickle(path: str | os.PathLike[str]) -> Any:
    """The contents of a pickle file as inert records (dicts, lists, `PickledObject`, `ArrayRecord`, ...).

    RefusedPickleError names a class outside the allow-list; ProbeFileError any other reason
    the file cannot be read. The file is never executed.

    Usage: package = read_restricted_pickle("gsm8k_binary_clfs/logicality.pkl")
    """
    file = Path(path)
    if not file.is_file():
        raise ProbeFileError(f"{file}: no such classifier file")
    size = file.stat().st_size
    if size > MAX_BYTES:
        raise ProbeFileError(f"{file}: {size} bytes is too large for an INSPECTOR classifier file")
    data = file.read_bytes()
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except RefusedPickleError as e:
        raise RefusedPickleError(f"{file}: refused: {e}") from None
    except Exception as e:  # any malformed stream: pickle raises many types, none of them ours
        raise ProbeFileError(
            f"{file}: not a readable INSPECTOR classifier pickle ({type(e).__name__}: {e}); nothing in it was run"
        ) from None
