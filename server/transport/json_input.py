"""The shape a JSON request body must have, checked against the message's descriptor.

protobuf's `ParseDict` with `ignore_unknown_fields` (which forward compatibility needs) is
lenient in ways that change meaning: it iterates a string or an array given for a message
field as if it were an object, so `"filter": "x"` silently becomes no filter, and it drops
enum names it does not know, so an unknown phase silently widens a filter. This check runs
first and reports every such mistake as a field violation (proto field names, as
`server/service/validation.py` uses), so the answer is `invalid_argument` naming the field
and the rule, never a changed request.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from server.errors import FieldViolation

# Well-known types whose JSON form is a string (RFC 3339, "3.5s", "a,b").
_STRING_WKT = {
    "google.protobuf.Timestamp",
    "google.protobuf.Duration",
    "google.protobuf.FieldMask",
}
_INTEGER_TYPES = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
}
_FLOAT_TYPES = {FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE}


def json_shape_violations(document: dict[str, Any], descriptor: Any) -> list[FieldViolation]:
    """Every place where `document` does not have the JSON shape of `descriptor`, a message
    Descriptor (typed Any: the stubs know upb's descriptors and the pure ones as two types)."""
    found: list[FieldViolation] = []
    _check_message(document, descriptor, "", found)
    return found


def _check_message(
    document: dict[str, Any], descriptor: Descriptor, prefix: str, found: list[FieldViolation]
) -> None:
    for key, value in document.items():
        field = descriptor.fields_by_camelcase_name.get(key) or descriptor.fields_by_name.get(key)
        if field is None or value is None:
            continue  # unknown fields are ignored; null means the default
        path = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            if not isinstance(value, dict):
                found.append(FieldViolation(path, "must be a JSON object"))
        elif field.is_repeated:
            if not isinstance(value, list):
                found.append(FieldViolation(path, "must be a JSON array"))
                continue
            for i, item in enumerate(value):
                _check_value(item, field, f"{path}[{i}]", found)
        else:
            _check_value(value, field, path, found)


def _check_value(
    value: Any, field: FieldDescriptor, path: str, found: list[FieldViolation]
) -> None:
    problem = _problem(value, field)
    if problem is not None:
        found.append(FieldViolation(path, problem))
    elif (
        field.message_type is not None
        and isinstance(value, dict)
        and not field.message_type.full_name.startswith("google.protobuf.")
    ):
        _check_message(value, field.message_type, f"{path}.", found)


def _problem(value: Any, field: FieldDescriptor) -> str | None:
    """What is wrong with one (non-repeated) value of `field`, or None."""
    if field.message_type is not None:
        name = field.message_type.full_name
        if name in _STRING_WKT:
            return None if isinstance(value, str) else f"must be a JSON string ({name})"
        if name.startswith("google.protobuf."):
            return None  # Struct, Value, wrappers, Any: protobuf's parser knows their forms
        return None if isinstance(value, dict) else "must be a JSON object"
    if field.enum_type is not None:
        return _enum_problem(value, field.enum_type)
    kind = field.type
    if kind == FieldDescriptor.TYPE_BOOL:
        return None if isinstance(value, bool) else "must be true or false"
    if kind in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES):
        return None if isinstance(value, str) else "must be a JSON string"
    # Ranges and integral values: protobuf's parser checks those.
    numeric = not isinstance(value, bool) and isinstance(value, int | float | str)
    if kind in _INTEGER_TYPES and not numeric:
        return "must be an integer (a JSON number or a string)"
    if kind in _FLOAT_TYPES and not numeric:
        return "must be a number (a JSON number or a string)"
    return None


def _enum_problem(value: Any, enum: EnumDescriptor) -> str | None:
    if isinstance(value, str):
        if value in enum.values_by_name:
            return None
        return f"must be one of the {enum.name} names or numbers"
    if isinstance(value, int) and not isinstance(value, bool):
        return None  # numbers: the service's `defined` rules decide
    return f"must be a {enum.name} name (a JSON string) or number"
