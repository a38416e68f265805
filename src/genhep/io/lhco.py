"""The LHC Olympics 2020 features files (R&D and black boxes) as an input, read with h5py.

``events_anomalydetection_v2.features.h5`` is a pandas DataFrame written with
``to_hdf(path, key="df")`` in pandas' 'fixed' format: a group ``df`` holding

    axis0            the column names (bytes)
    axis1            the row index
    blockN_items     the column names held by block N
    blockN_values    block N's values, one row per event, one column per item (2-D)

with the columns ``pxj1, pyj1, pzj1, mj1, tau1j1, tau2j1, tau3j1`` of the first jet, the
same with ``j2`` for the second, and ``label`` (1 = signal); momenta and masses in GeV.
It is read here without pandas or PyTables, in slices of rows (bounded memory).

:func:`iterate_lhco` turns each slice into the same per-jet arrays (pt, eta, phi, mass,
τ1..τ3) that a ROOT file gives through a ``jets`` branch mapping, so that
:mod:`genhep.ingest` computes the features (mjj, mj_min, delta_mj, τ21 of the lighter and
the heavier jet) with exactly the code it uses for ROOT jets: the ``lhco_rnd`` mapping
(:mod:`genhep.io.mappings`) is a ``jets`` mapping whose files are these HDF5 tables. A jet
slot that is all zeros (px = py = pz = m = 0) is the padding of an event with fewer than
two jets and is left out, so such an event is dropped as ``fewer_than_2_jets``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import awkward as ak
import h5py
import numpy as np
import vector

from genhep.errors import GenhepError
from genhep.io.mappings import JET_KINEMATICS, JET_TAUS, BranchMapping

LHCO_KEY = "df"
# Per-jet quantities, in the file's column order; the column of jet i is f"{q}j{i}".
JET_QUANTITIES = ("px", "py", "pz", "m", "tau1", "tau2", "tau3")
LHCO_JET_COLUMNS = tuple(f"{q}j{i}" for i in (1, 2) for q in JET_QUANTITIES)
LHCO_COLUMNS = LHCO_JET_COLUMNS + ("label",)
LAYOUT = "axis0, axis1, block0_items, block0_values"


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    return value.decode() if isinstance(value, bytes) else str(value)


def _names(dataset: h5py.Dataset) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in dataset[...].ravel()]


class PandasFixedTable:
    """Column access to a DataFrame stored by pandas ``to_hdf(format="fixed")``, by h5py.

    ``read(columns, start, stop)`` reads rows ``start:stop`` of the named columns only from
    the blocks that hold them. Any departure from the layout is one GenhepError naming the
    file, what was expected and what was found.
    """

    def __init__(self, h5file: h5py.File, key: str, path: str | os.PathLike):
        self.path = path
        self.key = key
        where = f"{path}: not a pandas 'fixed' table"
        if not isinstance(h5file.get(key), h5py.Group):
            raise GenhepError(
                f"{where}: expected a group {key!r} (pandas to_hdf(key={key!r}, "
                f"format='fixed')) holding {LAYOUT}; found top-level keys {sorted(h5file)}"
            )
        group = h5file[key]
        kind = _text(group.attrs.get("pandas_type"))
        if kind == "frame_table":
            raise GenhepError(
                f"{path}: {key!r} is a pandas table in 'table' format; genhep reads the "
                f"'fixed' format (rewrite it with pandas.read_hdf(path, {key!r})"
                f".to_hdf(new_path, key={key!r}, format='fixed'))"
            )
        if kind not in (None, "frame"):
            raise GenhepError(f"{where}: {key!r} holds a pandas {kind!r}, expected a DataFrame")
        members = sorted(group)
        n_blocks = group.attrs.get("nblocks")
        if n_blocks is None:
            n_blocks = sum(1 for m in members if re.fullmatch(r"block\d+_items", m))
        wanted = ["axis0", "axis1"]
        for i in range(max(int(n_blocks), 1)):
            wanted += [f"block{i}_items", f"block{i}_values"]
        missing = [m for m in wanted if not isinstance(group.get(m), h5py.Dataset)]
        if missing:
            raise GenhepError(
                f"{where}: group {key!r} lacks {', '.join(missing)} (expected {LAYOUT}, ...; "
                f"found {members})"
            )
        self.columns = _names(group["axis0"])
        self.n_rows = int(group["axis1"].shape[0]) if group["axis1"].ndim else 0
        self._where: dict[str, tuple[h5py.Dataset, bool, int]] = {}
        for i in range(int(n_blocks)):
            items = _names(group[f"block{i}_items"])
            values = group[f"block{i}_values"]
            # pandas stores a block transposed: one row per event (the usual case).
            if values.ndim == 2 and values.shape == (self.n_rows, len(items)):
                by_row = True
            elif values.ndim == 2 and values.shape == (len(items), self.n_rows):
                by_row = False
            else:
                raise GenhepError(
                    f"{where}: {key}/block{i}_values has shape {values.shape}, expected "
                    f"({self.n_rows}, {len(items)}) (rows of axis1, columns of "
                    f"block{i}_items)"
                )
            for position, name in enumerate(items):
                self._where[name] = (values, by_row, position)
        unplaced = [c for c in self.columns if c not in self._where]
        if unplaced:
            raise GenhepError(f"{where}: column(s) {unplaced} of {key}/axis0 are in no block")

    def require(self, columns: Sequence[str], expected: str = "") -> None:
        """A GenhepError listing the missing columns, if any of ``columns`` is not here."""
        missing = [c for c in columns if c not in self._where]
        if missing:
            raise GenhepError(
                f"{self.path}: the table {self.key!r} has no column(s) {missing} "
                f"(expected {expected or ', '.join(columns)}; found {', '.join(self.columns)})"
            )
        for c in columns:
            dtype = self._where[c][0].dtype
            if dtype.kind not in "biuf":
                raise GenhepError(
                    f"{self.path}: column {c!r} of {self.key!r} is stored as {dtype}, not numbers"
                )

    def read(self, columns: Sequence[str], start: int, stop: int) -> dict[str, np.ndarray]:
        """Rows ``start:stop`` of ``columns``, each block read once."""
        self.require(columns)
        by_block: dict[int, list[str]] = {}
        for c in columns:
            by_block.setdefault(id(self._where[c][0]), []).append(c)
        out = {}
        try:
            for names in by_block.values():
                values, by_row, _ = self._where[names[0]]
                rows = values[start:stop] if by_row else values[:, start:stop].T
                for c in names:
                    out[c] = rows[:, self._where[c][2]]
        except OSError as err:  # h5py: truncated file, unavailable compression filter, ...
            raise GenhepError(
                f"{self.path}: failed reading {self.key!r} rows {start}:{stop}, truncated "
                f"or corrupt, or compressed with a filter h5py lacks? ({err})"
            ) from err
        return {c: out[c] for c in columns}


def iterate_table(
    path: str | os.PathLike,
    columns: Sequence[str],
    chunk_size: int,
    key: str = LHCO_KEY,
    expected: str = "",
) -> Iterator[dict[str, np.ndarray]]:
    """Yield ``{column: values}`` for successive slices of ``chunk_size`` rows of a pandas
    'fixed' table; the file is checked (layout, columns) before the first slice."""
    path = Path(path)
    if not path.exists():
        raise GenhepError(f"{path}: input file does not exist")
    if path.is_dir():
        raise GenhepError(f"{path}: is a directory, not an HDF5 file")
    if not h5py.is_hdf5(path):
        raise GenhepError(
            f"{path}: not an HDF5 file (expected a pandas HDF5 table with key {key!r}, "
            "such as the LHC Olympics events_anomalydetection_v2.features.h5)"
        )
    try:
        h5 = h5py.File(path, "r")
    except OSError as err:
        raise GenhepError(f"{path}: cannot open HDF5 file, truncated or corrupt? ({err})") from err
    with h5:
        table = PandasFixedTable(h5, key, path)
        table.require(columns, expected)
        for start in range(0, table.n_rows, chunk_size):
            yield table.read(columns, start, min(start + chunk_size, table.n_rows))


def lhco_jets(columns: dict[str, np.ndarray], taus: bool = True) -> dict[str, ak.Array]:
    """Both jets of each event as jagged arrays ``{pt, eta, phi, mass[, tau1, tau2, tau3]}``
    in the file's units, from the LHCO columns; an all-zero jet slot (padding) is left out.

    The polar coordinates come from the vector library; the mass is the file's, so the
    four-vector has E = sqrt(p² + m²) downstream.
    """
    per_jet = {
        q: np.stack([np.asarray(columns[f"{q}j{i}"], np.float64) for i in (1, 2)], axis=1)
        for q in JET_QUANTITIES[: 7 if taus else 4]
    }
    px, py, pz, m = per_jet["px"], per_jet["py"], per_jet["pz"], per_jet["m"]
    present = ~((px == 0) & (py == 0) & (pz == 0) & (m == 0))
    counts = present.sum(axis=1)
    flat = present.ravel()
    with np.errstate(all="ignore"):
        p4 = vector.array({"px": px.ravel(), "py": py.ravel(), "pz": pz.ravel(), "mass": m.ravel()})
        values = {"pt": p4.pt, "eta": p4.eta, "phi": p4.phi, "mass": m.ravel()}
    if taus:
        values.update({t: per_jet[t].ravel() for t in JET_TAUS})
    return {k: ak.unflatten(np.asarray(v)[flat], counts) for k, v in values.items()}


def iterate_lhco(
    path: str | os.PathLike, mapping: BranchMapping, chunk_size: int
) -> Iterator[tuple[dict[str, ak.Array | np.ndarray], int]]:
    """Yield ``({name: array}, events)`` chunks of an LHCO features file in the form that
    :func:`genhep.io.root.iterate_mapped` gives for a ROOT file: per-jet arrays under the
    mapping's field names, and the ``label`` / ``weight`` columns the mapping names. The
    HDF5 key is the mapping's ``tree`` (``df``)."""
    if mapping.kind != "jets" or getattr(mapping, "cartesian", False):
        raise GenhepError(
            f"{path}: an LHCO features file is read through a jets mapping with pt, eta, phi, "
            "mass (the lhco_rnd preset)"
        )
    taus = mapping.has_taus
    jet_columns = [c for c in LHCO_JET_COLUMNS if taus or not c.startswith("tau")]
    extra = [c for c in (mapping.label, mapping.weight) if c]
    expected = f"the LHC Olympics features columns {', '.join(LHCO_JET_COLUMNS)}" + (
        f" and {', '.join(extra)}" if extra else ""
    )
    for columns in iterate_table(path, jet_columns + extra, chunk_size, mapping.tree, expected):
        jets = lhco_jets(columns, taus)
        out: dict[str, ak.Array | np.ndarray] = {
            mapping.fields[k].branch: jets[k]
            for k in JET_KINEMATICS + JET_TAUS
            if k in mapping.fields
        }
        out.update({c: columns[c] for c in extra})
        yield out, len(columns[jet_columns[0]])
