"""The typed rows' output type: a support-ticket extraction, as a user's script defines it.

A typed case imports this module inside its timed run (a user's script pays for defining
its model); `bench/typed_schema.json` is the same model's JSON schema as a dict-schema user
keeps it (`tests/bench/test_typed_bench.py` checks the two agree).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel


class Category(StrEnum):
    BILLING = "billing"
    SHIPPING = "shipping"
    PRODUCT = "product"
    ACCOUNT = "account"
    OTHER = "other"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class Team(StrEnum):
    SUPPORT = "support"
    BILLING = "billing"
    LOGISTICS = "logistics"
    ENGINEERING = "engineering"


class ActionItem(BaseModel):
    description: str
    owner: Team
    due_in_days: int | None


class TicketExtraction(BaseModel):
    """What the model extracts from one support ticket."""

    ticket_id: str
    summary: str
    category: Category
    priority: Priority
    sentiment: float
    order_ids: list[str]
    refund_requested: bool
    action_items: list[ActionItem]
