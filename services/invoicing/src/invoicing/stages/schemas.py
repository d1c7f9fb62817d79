"""Request bodies of the stages (create invoices, Create/Pay All, post, pay, abort)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ActionBody(BaseModel):
    idempotency_key: str | None = Field(default=None, max_length=100)


class CreatePayBody(ActionBody):
    decision: Literal["create_pay", "create_pay_post", "cancel", "abort"] | None = None


class PostBody(ActionBody):
    target: Literal["invoices", "reconciliation"] = "invoices"
    invoice_ids: list[int] | None = Field(default=None, max_length=10000)
