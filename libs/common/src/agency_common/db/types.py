"""Column types that keep values exact on SQLite and PostgreSQL.

SQLite has no decimal type (SQLAlchemy's Numeric round-trips through float there), so ``Money`` and
``Rate`` store a scaled integer on SQLite (cents for money) and NUMERIC on PostgreSQL. Both keep
``SUM`` and comparisons in SQL exact. A value with more decimals than the column's scale is refused
rather than silently rounded: rounding is a domain decision made before storing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    impl = Numeric
    cache_ok = True

    def __init__(self, scale: int = 2, precision: int = 18) -> None:
        super().__init__()
        self.scale = scale
        self.precision = precision
        self._factor = Decimal(10) ** scale

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("refusing a float for an exact decimal column")
        value = value if isinstance(value, Decimal) else Decimal(str(value))
        if not value.is_finite():
            raise ValueError(f"not a finite decimal: {value}")
        scaled = value * self._factor
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} has more than {self.scale} decimal places")
        if dialect.name == "sqlite":
            return int(scaled)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / self._factor).quantize(Decimal(1).scaleb(-self.scale))
        return Decimal(value).quantize(Decimal(1).scaleb(-self.scale))

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


def Money() -> ExactDecimal:
    """Currency amounts: two decimals."""
    return ExactDecimal(scale=2)


def Rate() -> ExactDecimal:
    """Rates as decimals (0.15 for 15 %), six decimals."""
    return ExactDecimal(scale=6)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on both databases."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must carry a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @property
    def python_type(self) -> type[datetime]:
        return datetime
