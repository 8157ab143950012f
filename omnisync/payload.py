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
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar, cast

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from omnisync.timeparse import as_utc

# The most units one order line or one listing may hold as a channel reports it. No real shop
# sells a million of one thing in one line; a bigger number is garbage (a plugin's overflow, a
# corrupted row) and applying it would wreck the SKU's stock for good.
MAX_CHANNEL_QUANTITY = 10**6

T = TypeVar("T")


class Payload(BaseModel):
    """Base of a channel payload model: strict types, unknown fields ignored (APIs grow)."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def _id_text(value: Any) -> Any:
    # Platforms send ids as numbers (Woo) or strings (Shopify GIDs); omnisync keeps text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and not value.strip():
        # An empty id would file every such order under one key, counted once for all.
        raise ValueError("expected an id")
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
        # Offsets are honoured wherever they come (a `*_gmt` field carrying +07:00 is read as
        # the moment it names, not as UTC), so no order lands outside its window.
        return as_utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError("expected an ISO 8601 time") from None


Id = Annotated[str, BeforeValidator(_id_text)]
# A line's unit count: a whole number from 0 to MAX_CHANNEL_QUANTITY ("2.0", -2, null are not).
Quantity = Annotated[int, Field(ge=0, le=MAX_CHANNEL_QUANTITY)]
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
    "greater_than_equal": "expected a quantity of 0 or more",
    "less_than_equal": f"expected at most {MAX_CHANNEL_QUANTITY:,}",
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


@dataclass(frozen=True, slots=True)
class Rejected:
    """One item of a list that did not fit its model: which item, where in it, and what came."""

    item_id: str | None  # the item's own id when it has a readable one
    field: str  # path into the payload, root included: "orders[3].line_items[0].quantity"
    value: str  # what came there, as JSON text
    message: str  # the one-line description (`describe`)


def parse_each(
    model: type[T], items: list[Any], *, root: str = "", id_key: str = "id"
) -> tuple[list[T], list[Rejected]]:
    """Each item of `items` read as `model`: those that fit, and one `Rejected` per other.

    One order a channel garbled must not stop the others: the caller goes on with what was
    read and reports each rejected item by its id (`id_key` at the item's top level).
    """
    read: list[T] = []
    rejected: list[Rejected] = []
    for index, item in enumerate(items):
        try:
            read.append(parse(model, item))
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            raw_id = item.get(id_key) if isinstance(item, dict) else None
            item_id = str(raw_id).strip() if isinstance(raw_id, int | str) else ""
            place = payload_path([root, index, *error["loc"]] if root else [index, *error["loc"]])
            rejected.append(
                Rejected(
                    item_id=item_id or None,
                    field=place,
                    value=_shown(error.get("input")),
                    message=validation_message(exc, root=f"{root}[{index}]" if root else ""),
                )
            )
    return read, rejected
