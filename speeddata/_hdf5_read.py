"""A file that :mod:`speeddata.hdf5` wrote, read back into columns (``read_hdf5``'s first step)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import h5py
import numpy as np

from speeddata import _hdf5_types as types
from speeddata.columnar import ChannelColumns, Column
from speeddata.hdf5 import FORMAT


@dataclass(frozen=True)
class SetFile:
    """What :func:`read_columns` found in a file: the set's attributes and its channels."""

    attrs: dict[str, Any]
    channels: list[ChannelColumns]


def read_columns(source: str | os.PathLike[str] | IO[bytes]) -> SetFile:
    """Reads a file this module wrote back into columns (values as :func:`speeddata.
    _hdf5_types.decode` gives them); each channel's group attributes are in its ``extra``
    under ``"attrs"``, the set's in :attr:`SetFile.attrs`."""
    target = os.fspath(source) if isinstance(source, str | Path) else source
    with h5py.File(target, "r") as f:
        if _text(f.attrs.get("format", "")) != FORMAT:
            raise ValueError(f"{source}: not a SpeedData set (no format={FORMAT!r} attribute)")
        attrs = _plain_attrs(f.attrs)
        return SetFile(attrs, [_read_group(g) for g in f.values() if isinstance(g, h5py.Group)])


def _read_group(group: h5py.Group) -> ChannelColumns:
    attrs = _plain_attrs(group.attrs)
    columns: dict[str, Column] = {}
    for name, dataset in group.items():
        if name == "rx_time" or "valid_for" in dataset.attrs:
            continue
        values, symbols = types.decode(dataset)
        valid = group[f"{name}.valid"][()] if f"{name}.valid" in group else None
        units = dataset.attrs.get("units")
        avro_type = json.loads(_text(dataset.attrs.get("avro_type", "null")))
        columns[name] = Column(
            name, values, avro_type, valid, _text(units) if units is not None else None, symbols
        )
    schema = json.loads(attrs.get("schema") or "{}")
    start, end = attrs.get("range_start_ns"), attrs.get("range_end_ns")
    return ChannelColumns(
        channel=attrs.get("channel") or group.name.lstrip("/"),
        schema=schema,
        time_field=attrs.get("time_field") or None,
        time_unit=attrs.get("time_unit") or None,
        rx_time=group["rx_time"][()],
        columns=columns,
        files=tuple(attrs.get("files", ())),
        range_ns=(start, end),
        clock=attrs.get("clock") or "rx",
        extra={"attrs": attrs},
    )


def _plain_attrs(attrs: h5py.AttributeManager) -> dict[str, Any]:
    """Attributes as Python values: text as ``str``, string arrays as lists, numbers as
    ``int``/``float``."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, np.ndarray):
            out[key] = [_text(v) if isinstance(v, bytes | str) else v for v in value.tolist()]
        elif isinstance(value, np.generic):
            out[key] = value.item()
        else:
            out[key] = _text(value) if isinstance(value, bytes) else value
    return out


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
