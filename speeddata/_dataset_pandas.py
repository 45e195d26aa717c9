"""``to_pandas()`` of ``speeddata.dataset``: a signal as a pandas column."""

from __future__ import annotations

from typing import Any

import numpy as np

from speeddata._signal import Signal


def pandas_module() -> Any:
    try:
        import pandas
    except ImportError as e:  # pragma: no cover - pandas is a dependency; a trimmed install
        raise ImportError("to_pandas() needs pandas: pip install pandas") from e
    return pandas


def pandas_column(pd: Any, sig: Signal) -> Any:
    values = sig.view(np.ndarray)
    missing = None if sig.valid is None else ~np.asarray(sig.valid, dtype=bool)
    if sig.symbols is not None:
        codes = values.astype(np.int64)
        if missing is not None:
            codes = np.where(missing, -1, codes)
        return pd.Categorical.from_codes(codes, categories=list(sig.symbols))
    if values.dtype.kind == "V":
        values = np.array([bytes(v) for v in values], dtype=object)
    if missing is None:
        return values
    if values.dtype.kind in "iufb":
        return _masked(pd, values, missing)
    out = values.astype(object)
    out[missing] = None
    return out


def _masked(pd: Any, values: np.ndarray, missing: np.ndarray) -> Any:
    if values.dtype.kind == "b":
        return pd.arrays.BooleanArray(values.astype(bool), missing)
    if values.dtype.kind == "f":
        return pd.arrays.FloatingArray(values, missing)
    return pd.arrays.IntegerArray(values, missing)
