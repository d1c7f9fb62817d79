"""The fast path of a statement import: a batch of rows validated and matched column by column
(polars: the work runs in Rust, off the GIL) for the spellings nearly every statement uses.

It only ever *accepts*: a row in any other spelling, and every row with a problem, is left to
:func:`intake.statements.domain.mapping.validate_cells`, the one place where the rules and their reasons are
written. For a row it accepts, the fast path must give exactly what ``validate_cells`` and
``PolicyIndex.match_fields`` give (tests hold the two side by side). Pure: rows in, a frame out.

Accepted here (anything else goes to the row path):
- every mapped cell printable ASCII; text without a leading ``'`` or a run of spaces, within its limit;
- amounts ``1234.56``, ``-1234.56``, ``$1,234.56``, ``(1,234.56)``; empty;
- rates and dates in every spelling the row path reads (they repeat: each distinct spelling is
  parsed once, by the row path's own functions);
- a transaction code the carrier profile maps (or none), a premium or a commission amount, an
  expiration date not before the effective date.

Money comes out in cents and rates in millionths (integers: exact), dates as dates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import polars as pl

from intake.domain.values import ValueProblem, parse_date, parse_rate
from intake.statements.domain.mapping import FIELDS, TEXT_LIMITS, MappingProfile
from intake.statements.domain.matching import MATCHED, UNMATCHED, PolicyIndex

TEXT_FIELDS = tuple(f for f, kind in FIELDS.items() if kind == "text")
AMOUNT_FIELDS = ("premium", "commission_amount")
DATE_FIELDS = ("effective_date", "expiration_date")
# the frame a batch becomes: the statement_lines columns of a valid row (amounts in cents, the
# rate in millionths), then its match
FRAME_COLUMNS = ("line_no", "policy_number", "normalised_number", "insured_name", "transaction_type", "bill_type",
                 "effective_date", "expiration_date", "line_of_business", "premium", "commission_rate",
                 "commission_amount", "producer_code", "match_status", "match_reason", "policy_id")

FRAME_SCHEMA = {name: pl.String() for name in FRAME_COLUMNS} | {
    "line_no": pl.Int64(), "effective_date": pl.Date(), "expiration_date": pl.Date(), "premium": pl.Int64(),
    "commission_rate": pl.Int64(), "commission_amount": pl.Int64()}

_NOT_PRINTABLE = r"[^ -~]"
_NUMBER_NOISE = r"[ \-./_]+"  # the row path's [\s\-./_]+ on printable ASCII
_POLICY_CHARS = r"^[A-Za-z0-9][A-Za-z0-9 \-./_]*$"
# the row path's two quick amount spellings: plain (-1234.56), and $1,234.56 / (1,234.56)
_PLAIN_AMOUNT = r"^-?\d{1,15}(?:\.\d{1,2})?$"
_COMMON_AMOUNT = r"^\$?(?:\d{1,3}(?:,\d{3}){1,4}|\d{1,15})(?:\.\d{1,2})?$"

col = pl.col


def _text(c: pl.Expr, limit: int) -> tuple[pl.Expr, pl.Expr]:
    """(value, accepted): stripped, empty → null."""
    t = c.str.strip_chars()
    ok = ~t.str.starts_with("'") & ~t.str.contains("  ", literal=True) & (t.str.len_chars() <= limit)
    return pl.when(t == "").then(None).otherwise(t), ok


def _amount(c: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(cents, accepted)."""
    t = c.str.strip_chars()
    paren = t.str.starts_with("(") & t.str.ends_with(")")
    inner = pl.when(paren).then(t.str.slice(1, t.str.len_chars() - 2)).otherwise(t)
    ok = (t == "") | (~paren & t.str.contains(_PLAIN_AMOUNT)) | inner.str.contains(_COMMON_AMOUNT)
    cents = (inner.str.replace_all(r"[$,]", "").cast(pl.Decimal(18, 2), strict=False) * 100).cast(pl.Int64, strict=False)
    return pl.when(t == "").then(None).when(paren).then(-cents).otherwise(cents), ok


def _by_value(values: Sequence[str], parse: Callable[[str], Any], dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """(value, accepted) of a column whose values repeat (dates, rates): each distinct spelling is
    parsed once by the row path's own function."""
    distinct = list(set(values))
    parsed, good = [], []
    for raw in distinct:
        try:
            parsed.append(parse(raw))
        except ValueProblem:
            parsed.append(None)
        else:
            good.append(raw)
    return (pl.lit(pl.Series(values, dtype=pl.String)).replace_strict(distinct, parsed, default=None,
                                                                      return_dtype=dtype),
            pl.lit(pl.Series(values, dtype=pl.String)).is_in(good))


def _millionths(raw: str) -> int | None:
    rate = parse_rate(raw)
    if rate is not None and rate < 0:
        raise ValueProblem("negative")  # the row path says why
    return None if rate is None else int(rate * 1_000_000)


def normalise_numbers(numbers: pl.Expr, profile: MappingProfile) -> pl.Expr:
    """``MappingProfile.normalise`` for printable-ASCII numbers without a leading ``'``."""
    text = numbers.str.strip_chars_start().str.replace_all(_NUMBER_NOISE, "").str.to_uppercase()
    out = text
    for prefix in reversed(profile._prepared):  # type: ignore[attr-defined]  # first (longest) prefix wins
        out = pl.when(text.str.starts_with(prefix) & (text.str.len_chars() > len(prefix))).then(
            text.str.slice(len(prefix))).otherwise(out)
    return out


def validate_rows(rows: Sequence[tuple[int, Sequence[str]]], columns: dict[str, int],
                  profile: MappingProfile) -> tuple[pl.DataFrame, list[int]]:
    """The rows the fast path accepts, as a frame of :data:`FRAME_COLUMNS` (match columns still
    empty), and the positions in ``rows`` of the others (for the row path)."""
    n = len(rows)
    width = max(columns.values()) + 1
    cells = [r[1] for r in rows]
    if cells and min(map(len, cells)) < width:  # short rows: the missing cells are empty
        cells = [c if len(c) >= width else [*c, *[""] * (width - len(c))] for c in cells]
    by_column = list(zip(*cells, strict=False)) if cells else [()] * width
    frame = pl.DataFrame({"line_no": pl.Series([r[0] for r in rows], dtype=pl.Int64), "_pos": pl.int_range(n, eager=True),
                          **{f: pl.Series(by_column[i], dtype=pl.String) for f, i in columns.items()}})
    exprs: dict[str, pl.Expr] = {}
    oks: list[pl.Expr] = [~pl.any_horizontal(col(f).str.contains(_NOT_PRINTABLE) for f in columns)]
    for f in FIELDS:
        c = col(f) if f in columns else pl.lit("", dtype=pl.String)
        if f in TEXT_FIELDS:
            value, ok = _text(c, TEXT_LIMITS[f])
        elif f in AMOUNT_FIELDS:
            value, ok = _amount(c)
        elif f not in columns:
            value, ok = pl.lit(None, FRAME_SCHEMA[f]), pl.lit(True)
        elif f in DATE_FIELDS:
            value, ok = _by_value(by_column[columns[f]], parse_date, pl.Date())
        else:
            value, ok = _by_value(by_column[columns[f]], _millionths, pl.Int64())
        exprs[f] = value
        oks.append(ok)
    typed = frame.select("line_no", "_pos", pl.all_horizontal(oks).alias("_ok"), **exprs)
    number, code, codes = col("policy_number"), col("transaction_type"), dict(profile.bill_types)
    bill = pl.coalesce(code.replace_strict(codes, default=None, return_dtype=pl.String),
                       code.str.to_uppercase().replace_strict(codes, default=None, return_dtype=pl.String)
                       ) if codes else pl.lit(None, pl.String)
    typed = typed.with_columns(normalised_number=normalise_numbers(number, profile), bill_type=bill)
    accepted = (
        col("_ok") & number.is_not_null() & number.str.contains(_POLICY_CHARS) & (col("normalised_number") != "")
        & (col("premium").is_not_null() | col("commission_amount").is_not_null())
        & (code.is_null() | col("bill_type").is_not_null())
        & (col("effective_date").is_null() | col("expiration_date").is_null()
           | (col("expiration_date") >= col("effective_date"))))
    typed = typed.with_columns(_accepted=accepted.fill_null(False))
    rejected = typed.filter(~col("_accepted"))["_pos"].to_list()
    good = typed.filter(col("_accepted")).with_columns(
        match_status=pl.lit(None, pl.String), match_reason=pl.lit(None, pl.String), policy_id=pl.lit(None, pl.String))
    return good.select(FRAME_COLUMNS).cast(FRAME_SCHEMA), rejected  # type: ignore[arg-type]


class Book:
    """The carrier's policies for matching: the numbers one policy has, as a frame (a frame of lines
    is matched with one join), and the numbers several policies share, with their terms, in a
    :class:`PolicyIndex` (a line's effective date picks the term there)."""

    def __init__(self, profile: MappingProfile, ids: Sequence[str], numbers: Sequence[str]) -> None:
        self.profile = profile
        frame = pl.DataFrame({"book_id": pl.Series(ids, dtype=pl.String),
                              "book_number": pl.Series(numbers, dtype=pl.String)})
        number = col("book_number")
        simple = ~number.str.contains(_NOT_PRINTABLE) & ~number.str.strip_chars_start().str.starts_with("'")
        frame = frame.with_columns(_simple=simple, normalised_number=normalise_numbers(number, profile))
        if not frame["_simple"].all():  # numbers in other characters: normalised as the row path does
            odd = frame.filter(~col("_simple"))
            frame = pl.concat([frame.filter(col("_simple")), odd.with_columns(normalised_number=pl.Series(
                [profile.normalise(x) for x in odd["book_number"].to_list()], dtype=pl.String))])
        counts = frame.group_by("normalised_number").agg(pl.len().alias("n"))
        frame = frame.join(counts, on="normalised_number").drop("_simple")
        self.unique = frame.filter(col("n") == 1).drop("n")
        shared = frame.filter(col("n") > 1)
        self.shared_keys = frozenset(shared["normalised_number"].to_list())
        self.shared = PolicyIndex(profile, zip(shared["book_id"].to_list(), shared["book_number"].to_list(),
                                               strict=True))
        self.count = frame.height

    def shared_ids(self) -> list[str]:
        """The policies whose normalised number another policy has too (their terms are wanted)."""
        return self.shared.shared()

    def set_terms(self, terms: Mapping[str, tuple[date | None, date | None]]) -> None:
        self.shared.set_terms(terms)

    def __len__(self) -> int:
        return self.count

    def match(self, lines: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(the lines matched or not matched by the join, the lines whose number several policies
        share, without match columns: for :meth:`index_for`)."""
        shared = col("normalised_number").is_in(list(self.shared_keys)) if self.shared_keys else pl.lit(False)
        joined = lines.drop("match_status", "match_reason", "policy_id").with_columns(_shared=shared).join(
            self.unique, on="normalised_number", how="left", maintain_order="left")
        number = col("normalised_number")
        found = col("book_id").is_not_null()
        exact = col("policy_number").str.to_uppercase() == col("book_number").str.strip_chars().str.to_uppercase()
        done = joined.filter(~col("_shared")).with_columns(
            match_status=pl.when(found).then(pl.lit(MATCHED)).otherwise(pl.lit(UNMATCHED)),
            policy_id=col("book_id"),
            match_reason=pl.when(~found).then(pl.format("no policy of this carrier has number {}", number))
            .when(exact).then(pl.lit("exact policy number"))
            .otherwise(pl.format("normalised policy number {} (case, spaces, dashes, prefixes ignored)", number)))
        return done.select(FRAME_COLUMNS), joined.filter(col("_shared")).select(FRAME_COLUMNS[:-3])

    def index_for(self, keys: Iterable[str]) -> PolicyIndex:
        """A :class:`PolicyIndex` of the policies with these normalised numbers (for the lines
        matched one by one)."""
        wanted = set(keys)
        index = PolicyIndex(self.profile)
        found = self.unique.filter(col("normalised_number").is_in(list(wanted - self.shared_keys)))
        for pid, number, key in found.select("book_id", "book_number", "normalised_number").iter_rows():
            index.normalised[key] = (pid, number, None, None)
        for key in wanted & self.shared_keys:
            index.normalised[key] = self.shared.normalised[key]
        index.count = len(index.normalised)
        return index
