"""``hint(exercise_id)``: one more hint each time it is called."""

from __future__ import annotations

from dataclasses import dataclass

from . import progress_store as progress
from .registry import load_all

_shown: dict[str, int] = {}


@dataclass
class Hint:
    exercise: str
    text: str

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.text)


def hint(exercise_id: str) -> Hint:
    """Show the next hint for ``exercise_id`` (the count restarts with the kernel)."""
    registry = load_all()
    ex = registry.get(exercise_id) if isinstance(exercise_id, str) else None
    if ex is None:
        known = ", ".join(sorted(registry))
        return Hint(str(exercise_id), f"There is no exercise called {exercise_id!r}. Known exercises: {known}.")
    n = _shown.get(ex.id, 0)
    if n >= len(ex.hints):
        return Hint(ex.id, f"No more hints for {ex.id}: that was the last of {len(ex.hints)}. "
                           f"The worked answer is in solutions/{ex.lesson}.ipynb.")
    _shown[ex.id] = n + 1
    progress.record_hint(ex.id, n + 1)
    return Hint(ex.id, f"Hint {n + 1} of {len(ex.hints)} for {ex.id}: {ex.hints[n]}")
