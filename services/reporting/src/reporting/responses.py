"""The base of reporting's response models (``<capability>/schemas.py``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    """A JSON response as the routes have always answered it, key for key: a key the model does not
    name is refused (a 500 in tests), so a builder and its model cannot drift apart."""

    model_config = ConfigDict(extra="forbid")
