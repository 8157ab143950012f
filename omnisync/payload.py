"""Channel payloads read through pydantic models, and the one message for one that does not fit.

An adapter states the shape it needs as a `Payload` model and reads every answer through
`ChannelHttp.parse` / `ChannelHttp.validate`; a body of another shape becomes a
ChannelResponseError that names the first bad place as a path into the payload, what was
expected there and what came:

    orders.nodes[3].lineItems.nodes[0].quantity: expected an integer, got "2.0"

Models are strict (a JSON string is not an integer, a number is not a string) because a
quietly coerced quantity is a wrong stock level; the few fields a platform sends in more
than one form say so with their own type (`Id`, `Money`, ...).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from omnisync.timeparse import as_utc

T = TypeVar("T")


class Payload(BaseModel):
    """Base of a channel payload model: strict types, unknown fields ignored (APIs grow)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def _id_text(value: Any) -> Any:
    # Platforms send ids as numbers (Woo) or strings (Shopify GIDs); omnisync keeps text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _money(value: Any) -> Any:
    # Prices come as JSON numbers or decimal strings; from the text, so 0.1 stays 0.1.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError("expected a decimal amount") from None


def _utc(value: Any) -> Any:
    # ISO 8601 text; without an offset it is UTC (Woo's `*_gmt` fields carry none).
    if not isinstance(value, str):
        return value
    try:
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError("expected an ISO 8601 time") from None


Id = Annotated[str, BeforeValidator(_id_text)]
Money = Annotated[Decimal, BeforeValidator(_money)]
UtcTime = Annotated[datetime, BeforeValidator(_utc)]

# What was expected, by pydantic error type, in the words of a message to a seller.
_EXPECTED = {
    "int_type": "expected an integer",
    "int_parsing": "expected an integer",
    "int_from_float": "expected an integer",
    "string_type": "expected a string",
    "bool_type": "expected true or false",
    "float_type": "expected a number",
    "decimal_type": "expected a decimal amount",
    "datetime_type": "expected an ISO 8601 time",
    "list_type": "expected a list",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "missing": "missing",
    "none_required": "expected null",
}


def payload_path(loc: Sequence[int | str]) -> str:
    """A pydantic location as a path into the payload: ("a", 3, "b") → "a[3].b"."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


def describe(error: ErrorDetails, *, root: str = "") -> str:
    """One line for one validation error: where, what was expected, what came."""
    path = payload_path([root, *error["loc"]] if root else error["loc"]) or "(the body)"
    expected = _EXPECTED.get(error["type"])
    if expected is None:
        expected = error["msg"][0].lower() + error["msg"][1:]
        # pydantic phrases value errors "Value error, <ours>"; keep ours.
        expected = expected.removeprefix("value error, ")
    if error["type"] == "missing":
        return f"{path}: missing"
    return f"{path}: {expected}, got {_shown(error.get('input'))}"


def _shown(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


def validation_message(exc: ValidationError, *, root: str = "") -> str:
    """The first error of a ValidationError as one line, counting the others."""
    errors = exc.errors(include_url=False)
    text = describe(errors[0], root=root)
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return text


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def parse(model: type[T] | TypeAdapter[T], data: Any) -> T:
    """`data` read as `model` (a model class, `list[Model]`, or a TypeAdapter).

    Raises pydantic's ValidationError; `validation_message` says it in one line.
    """
    if isinstance(model, TypeAdapter):
        return model.validate_python(data)
    # Building an adapter compiles a validator: once per shape, not once per page.
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return cast(T, adapter.validate_python(data))
