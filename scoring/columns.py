"""Column typing: which columns are numeric, categorical, ignored or protected.

Protected attributes (sex, gender, age, date of birth, in English and Spanish) are never
model inputs, whatever the caller asks: they are dropped and the drop is logged. They may
still be monitored (approval rates by group) outside the model.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scoring.errors import DataError

log = logging.getLogger("scoring")

#: Name tokens that mark a protected attribute (matched case- and accent-insensitively,
#: against the whole name and each ``_``/``-``/space separated token of it).
PROTECTED: tuple[str, ...] = (
    "sex",
    "sexo",
    "gender",
    "genero",
    "género",
    "age",
    "edad",
    "dob",
    "birthdate",
    "date_of_birth",
    "birth_date",
    "fecha_nacimiento",
    "fecha_de_nacimiento",
)

#: Name tokens that mark an identifier (never a characteristic).
ID_TOKENS: frozenset[str] = frozenset(
    {"id", "uuid", "guid", "curp", "rfc", "folio", "key", "email", "phone", "telefono"}
)

MIN_ROWS = 50


def _normalise(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", str(name))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower().strip()


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", _normalise(name)) if t]


_PROTECTED_NORMALISED = frozenset(_normalise(p) for p in PROTECTED)


def is_protected(name: str, extra: Iterable[str] = ()) -> bool:
    """True if ``name`` is a protected attribute (e.g. ``SEX``, ``Edad``, ``driver_age``)."""
    protected = _PROTECTED_NORMALISED | {_normalise(e) for e in extra}
    norm = _normalise(name)
    return norm in protected or any(t in protected for t in _tokens(name))


def _is_id_name(name: str) -> bool:
    tokens = _tokens(name)
    return bool(tokens) and (tokens[-1] in ID_TOKENS or tokens[0] in ID_TOKENS)


@dataclass(frozen=True)
class ColumnPlan:
    """The outcome of column typing, kept with the model so scoring uses the same columns."""

    target: str
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    ignored: dict[str, str] = field(default_factory=dict)  # column -> reason
    protected: tuple[str, ...] = ()

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def _split_list(values: Sequence[str] | None) -> list[str]:
    return [v for v in (values or []) if v]


def _to_numeric_strict(series: pd.Series, column: str) -> pd.Series:
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna() & series.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        example = series.iloc[row]
        raise DataError(
            f"column {column!r} is declared numeric but row {row + 1} holds text {example!r}"
        )
    return converted.astype("float64")


def plan_columns(
    df: pd.DataFrame,
    target: str,
    *,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    ignore: Sequence[str] | None = None,
    extra_protected: Iterable[str] = (),
) -> ColumnPlan:
    """Type every column of ``df`` except the target.

    Automatic rules (each overridable by ``numeric``/``categorical``/``ignore``): numbers
    are numeric; text that parses as numbers is numeric; other text is categorical unless
    it is nearly unique (free text or an identifier); columns named like an identifier or
    holding a unique integer per row are ignored; constant columns are dropped with a
    warning. Protected attributes are always dropped, even when named in an override.
    """
    if target not in df.columns:
        raise DataError(f"target column {target!r} not found; columns are {list(df.columns)}")
    numeric_set, categorical_set = set(_split_list(numeric)), set(_split_list(categorical))
    ignore_set = set(_split_list(ignore))
    for name in numeric_set | categorical_set | ignore_set:
        if name not in df.columns:
            raise DataError(f"column {name!r} named in an option is not in the data")
    both = numeric_set & categorical_set
    if both:
        raise DataError(f"columns {sorted(both)} are declared both numeric and categorical")

    num: list[str] = []
    cat: list[str] = []
    ignored: dict[str, str] = {}
    protected: list[str] = []
    n_rows = len(df)
    for col in df.columns:
        if col == target:
            continue
        if is_protected(str(col), extra_protected):
            protected.append(str(col))
            log.warning("protected attribute %r dropped: it is never a model input", col)
            continue
        if col in ignore_set:
            ignored[col] = "ignored on request"
            continue
        series = df[col]
        if col in numeric_set:
            values = _to_numeric_strict(series, col)
            kind = "numeric"
        elif col in categorical_set:
            values = series
            kind = "categorical"
        else:
            if _is_id_name(str(col)):
                ignored[col] = "identifier"
                continue
            if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
                values, kind = series, "numeric"
            else:
                parsed = pd.to_numeric(series, errors="coerce")
                if series.notna().any() and (parsed.notna() == series.notna()).all():
                    values, kind = parsed, "numeric"
                else:
                    values, kind = series, "categorical"
            n_unique = values.nunique(dropna=True)
            if (
                kind == "numeric"
                and n_rows >= MIN_ROWS
                and n_unique == n_rows
                and pd.api.types.is_integer_dtype(values)
            ):
                ignored[col] = "identifier (one distinct integer per row)"
                continue
            if kind == "categorical" and n_unique > max(50, 0.5 * n_rows):
                ignored[col] = "free text or identifier (nearly every value distinct)"
                continue
        if values.nunique(dropna=True) <= 1:
            log.warning("column %r is constant and was dropped", col)
            ignored[col] = "constant"
            continue
        (num if kind == "numeric" else cat).append(str(col))
    if not num and not cat:
        raise DataError("no usable feature columns remain after typing the columns")
    return ColumnPlan(target, tuple(num), tuple(cat), ignored, tuple(protected))


def feature_frame(df: pd.DataFrame, plan: ColumnPlan) -> pd.DataFrame:
    """The model inputs of ``df`` with the planned types: floats and strings (NaN = missing)."""
    missing = [c for c in plan.features if c not in df.columns]
    if missing:
        raise DataError(f"columns {missing} the model needs are missing from the data")
    out: dict[str, object] = {}
    for col in plan.numeric:
        out[col] = _to_numeric_strict(df[col], col).to_numpy(dtype="float64")
    for col in plan.categorical:
        series = df[col]
        text = series.astype("object").where(series.notna(), None)
        out[col] = np.array([None if v is None else str(v) for v in text], dtype=object)
    return pd.DataFrame(out, index=df.index)


def target_vector(df: pd.DataFrame, target: str) -> np.ndarray:
    """The 0/1 target (1 = default) as an int array, or a :class:`DataError`."""
    if target not in df.columns:
        raise DataError(f"target column {target!r} not found; columns are {list(df.columns)}")
    raw = df[target]
    if raw.isna().any():
        raise DataError(f"target column {target!r} has {int(raw.isna().sum())} missing values")
    values = pd.to_numeric(raw, errors="coerce") if not pd.api.types.is_bool_dtype(raw) else raw
    if values.isna().any() or not set(np.unique(values.astype("float64"))) <= {0.0, 1.0}:
        raise DataError(f"target column {target!r} must hold only 0 and 1 (1 = default)")
    return values.astype("int64").to_numpy()


def check_trainable(y: np.ndarray, folds: int = 1) -> None:
    """Refuse data too small or too one-sided to train (and cross-validate) a model."""
    n = len(y)
    if n < MIN_ROWS:
        raise DataError(f"only {n} rows; at least {MIN_ROWS} are needed")
    bads = int(y.sum())
    goods = n - bads
    if bads == 0 or goods == 0:
        raise DataError("the target has a single class; both defaults and non-defaults needed")
    need = max(2 * folds, 5)
    if min(bads, goods) < need:
        raise DataError(
            f"only {min(bads, goods)} rows of the rarer class; at least {need} needed "
            f"for {folds} fold(s)"
        )
