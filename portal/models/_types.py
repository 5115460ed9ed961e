"""Column types shared by the model modules."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated, Any

from sqlalchemy import BigInteger, DateTime, Enum, String
from sqlalchemy.orm import mapped_column

from portal.db import utcnow

Cents = Annotated[int, mapped_column(BigInteger)]
"""Money in integer centavos (MXN)."""

Timestamp = Annotated[datetime, mapped_column(DateTime(timezone=True))]
Created = Annotated[datetime, mapped_column(DateTime(timezone=True), default=utcnow)]


def enum_column(enum_class: type[enum.StrEnum], *, name: str | None = None, **kwargs: Any) -> Any:
    """A VARCHAR with a CHECK constraint listing the enum's values (readable in plain SQL).

    `name` names the CHECK constraint when a table has two columns of the same enum.
    """
    return mapped_column(
        Enum(
            enum_class,
            native_enum=False,
            create_constraint=True,
            validate_strings=True,
            length=max(len(m.value) for m in enum_class) + 8,
            values_callable=lambda members: [m.value for m in members],
            name=name or enum_class.__name__.lower(),
        ),
        **kwargs,
    )


Str = Annotated[str, mapped_column(String(200))]
