"""What an answer stream yields: typed events that map one to one onto server-sent events.

The CLI prints ``Token`` text as it arrives; the web app (next issue) writes each
event as ``event: <name>`` / ``data: <json>``, so the browser can show the
stage, the words and then the checked answer with its citations, without a
second protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

if TYPE_CHECKING:
    from app.answering.service import AnswerResult


@dataclass(frozen=True)
class Status:
    """A stage began: ``queued`` (waiting for a free answer slot, web only), ``searching``,
    ``found`` (with how many readable passages),
    ``generating``, ``quoting`` or ``verifying``."""

    stage: str
    count: int | None = None
    name = "status"

    def data(self) -> dict:
        return {"stage": self.stage} if self.count is None else {"stage": self.stage, "count": self.count}


@dataclass(frozen=True)
class Token:
    """Answer text as it is written (a generated piece, or a quoted sentence)."""

    text: str
    name = "token"

    def data(self) -> dict:
        return {"text": self.text}


@dataclass(frozen=True)
class Answer:
    """The finished, verified and stored answer; always the last event."""

    result: "AnswerResult"
    name = "answer"

    def data(self) -> dict:
        return self.result.as_dict()


AnswerEvent = Union[Status, Token, Answer]
