"""The declarative base every table hangs on, and the helpers their columns share."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship




def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_uid() -> str:
    """A random id no database will ever hand to someone else (ACL tokens name users and groups by it)."""
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Facts about this database as a whole, e.g. its ``installation_id`` (see app/runtime/installation.py)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(2000))
