"""moto's server, started the way the local stack needs it.

moto tracks every model instance it creates so that its test decorators can reset them. A long-running
server never resets, and DynamoDB's TransactWriteItems deep-copies each table it touches (moto 5.2.5), so that
list grows by a table copy per transaction: memory grew by gigabytes over a 10,000-event benchmark. The
server mode needs no tracking: instances are created untracked here.
"""

from __future__ import annotations

from typing import Any

from moto.core.common_models import BaseModel
from moto.server import main


def _untracked_new(cls: type[BaseModel], *args: Any, **kwargs: Any) -> BaseModel:
    return object.__new__(cls)


BaseModel.__new__ = _untracked_new  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
