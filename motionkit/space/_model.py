"""Base class of the serialisable MotionSpace values (axes, edits, edit programs).

Frozen pydantic models whose validation failures surface as :class:`~motionkit.EditError` with one readable
``field.path: problem`` entry per problem, whether the value is built in Python or parsed from JSON.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self

from motionkit.errors import EditError


class _InvalidValueError(EditError):
    """EditError that keeps its problems as ``(location, message)`` so that nested models report full paths."""

    def __init__(self, what: str, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        listed = "; ".join(f"{loc}: {message}" if loc else message for loc, message in problems)
        super().__init__(f"invalid {what}: {listed}")


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"])
        nested = item.get("ctx", {}).get("error")
        if isinstance(nested, _InvalidValueError):  # a nested model's own __init__ failed: splice its problems in
            problems.extend((".".join(p for p in (location, loc) if p), message) for loc, message in nested.problems)
        else:
            problems.append((location, str(item["msg"]).removeprefix("Value error, ")))
    return problems


class SpaceModel(BaseModel):
    """Immutable, validated, JSON-serialisable value. Unknown fields, NaN and infinity are rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise _InvalidValueError(type(self).__name__, _problems(error)) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as error:
            raise _InvalidValueError(cls.__name__, _problems(error)) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **kwargs: Any) -> Self:
        try:
            return super().model_validate_json(json_data, **kwargs)
        except ValidationError as error:
            raise _InvalidValueError(f"{cls.__name__} JSON", _problems(error)) from None
