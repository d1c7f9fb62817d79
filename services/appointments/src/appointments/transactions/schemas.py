"""A request to appoint (what the guarded creator takes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from appointments.domain.rows import COCODE_RE, COCODE_RULE, state_error


class BulkRequest(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    npn: str = Field(pattern=r"^\d{1,10}$")
    states: list[str] = Field(min_length=1, max_length=60)
    loa_category: str = Field(min_length=1, max_length=150)
    cocodes: list[str] = Field(min_length=1, max_length=20)
    submit: bool = False
    submit_jit: bool = Field(False, alias="submitJustInTime")

    @field_validator("states")
    @classmethod
    def _states(cls, value: list[str]) -> list[str]:
        out = []
        for st in value:
            st = st.strip().upper()
            if err := state_error(st):
                raise ValueError(err)
            if st not in out:
                out.append(st)
        return out

    @field_validator("cocodes")
    @classmethod
    def _cocodes(cls, value: list[str]) -> list[str]:
        out = list(dict.fromkeys(c.strip() for c in value if c.strip()))
        for c in out:
            if not COCODE_RE.match(c):  # "6054" is not "06054": never padded or guessed
                raise ValueError(f"{c!r} is not a CoCode ({COCODE_RULE})")
        return out
