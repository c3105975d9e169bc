"""Identifier rules for the raw layer: Fivetran-compatible snake_case and a strict validator.

Object, field and property names come from the APIs, so they are untrusted input: a name either
passes :func:`validate_identifier` and is loaded under that exact name, or it raises
:class:`UnsafeIdentifier` and is not loaded at all. Names are never "cleaned up" into something
plausible, because two hostile names could then collide with each other or with a real column.
Generated SQL quotes every identifier with :func:`quote_ident` regardless.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

SAFE_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

# The destination appends "__versions" to table names, and PostgreSQL truncates identifiers at
# 63 bytes, so table names must leave room for the suffix.
VERSIONS_SUFFIX = "__versions"
MAX_TABLE_NAME_LENGTH = 63 - len(VERSIONS_SUFFIX)

# Loader bookkeeping columns. A leading underscore is reserved for these, so a source field can
# never shadow one of them.
METADATA_COLUMNS = ("_synced_at", "_sync_id", "_is_deleted", "_row_hash")

# Word boundaries, applied in order: "HTMLParser" -> "HTML_Parser", "stageName" -> "stage_Name",
# "Territory2Id" -> "Territory_2_Id".
_ACRONYM_BEFORE_WORD = re.compile(r"([A-Z]+)([A-Z][a-z])")
_LOWER_OR_DIGIT_BEFORE_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_LETTER_BEFORE_DIGIT = re.compile(r"([A-Za-z])([0-9])")
_DIGIT_BEFORE_LETTER = re.compile(r"([0-9])([A-Za-z])")
_UNDERSCORE_RUN = re.compile(r"_{2,}")


class UnsafeIdentifier(ValueError):
    """A name from an API cannot be used as a table or column name; the item was not loaded."""

    def __init__(self, name: str, *, source: str, obj: str, reason: str) -> None:
        self.name = name
        self.source = source
        self.obj = obj
        self.reason = reason
        super().__init__(
            f"{source} {obj}: name {name!r} {reason}; it was not loaded. "
            f"Allowed after conversion: {SAFE_IDENTIFIER.pattern}"
        )


def to_snake_case(name: str) -> str:
    """Convert a Salesforce API name the way Fivetran does: ``Territory2Id`` -> ``territory_2_id``.

    Only case and word boundaries change; any other character is kept, so that an unsafe input
    stays unsafe and is caught by :func:`validate_identifier` instead of being silently mangled.
    The result never contains a double underscore (``Custom_Field__c`` -> ``custom_field_c``).
    """
    text = _ACRONYM_BEFORE_WORD.sub(r"\1_\2", name)
    text = _LOWER_OR_DIGIT_BEFORE_UPPER.sub(r"\1_\2", text)
    text = _LETTER_BEFORE_DIGIT.sub(r"\1_\2", text)
    text = _DIGIT_BEFORE_LETTER.sub(r"\1_\2", text)
    return _UNDERSCORE_RUN.sub("_", text.lower())


def validate_identifier(name: str, *, source: str, obj: str, kind: str = "column") -> str:
    """Return ``name`` unchanged if it is safe to load as a ``kind`` ("column" or "table").

    Raises :class:`UnsafeIdentifier` naming the source, the object and the offending name.
    """
    if not isinstance(name, str) or not SAFE_IDENTIFIER.fullmatch(name):
        raise UnsafeIdentifier(name, source=source, obj=obj, reason="is not a safe identifier")
    if kind == "column" and name.startswith("_"):
        raise UnsafeIdentifier(
            name, source=source, obj=obj, reason="starts with '_', reserved for loader metadata"
        )
    if kind == "table":
        if "__" in name:
            raise UnsafeIdentifier(
                name, source=source, obj=obj, reason="contains '__', reserved for version tables"
            )
        if len(name) > MAX_TABLE_NAME_LENGTH:
            raise UnsafeIdentifier(
                name,
                source=source,
                obj=obj,
                reason=f"is longer than {MAX_TABLE_NAME_LENGTH} characters",
            )
    return name


def column_name(raw: str, *, source: str, obj: str, convert: bool = True) -> str:
    """Convert (for Salesforce) and validate one field name from an API."""
    return _converted(raw, source=source, obj=obj, kind="column", convert=convert)


def map_columns(
    raw_names: Iterable[str], *, source: str, obj: str, convert: bool = True
) -> tuple[dict[str, str], list[UnsafeIdentifier]]:
    """Map API field names to column names, separating out the ones that cannot be loaded.

    Returns ``({raw: column}, rejected)``. A name whose conversion collides with an earlier
    field (``FooC`` and ``Foo__c`` both give ``foo_c``) is rejected too, because loading both
    into one column would silently overwrite values.
    """
    mapping: dict[str, str] = {}
    rejected: list[UnsafeIdentifier] = []
    taken: dict[str, str] = {}
    for raw in raw_names:
        try:
            column = column_name(raw, source=source, obj=obj, convert=convert)
        except UnsafeIdentifier as exc:
            rejected.append(exc)
            continue
        if column in taken:
            rejected.append(
                UnsafeIdentifier(
                    raw,
                    source=source,
                    obj=obj,
                    reason=f"converts to {column!r}, already used by {taken[column]!r}",
                )
            )
            continue
        taken[column] = raw
        mapping[raw] = column
    return mapping, rejected


def table_name(raw: str, *, source: str, convert: bool = True) -> str:
    """Convert (for Salesforce) and validate an object name used as a table name."""
    return _converted(raw, source=source, obj=raw, kind="table", convert=convert)


def _converted(raw: str, *, source: str, obj: str, kind: str, convert: bool) -> str:
    name = to_snake_case(raw) if convert else raw
    try:
        return validate_identifier(name, source=source, obj=obj, kind=kind)
    except UnsafeIdentifier as exc:
        # Report the name as the API sent it, so it can be found in describe/properties.
        converted = f" (converted: {name!r})" if name != raw else ""
        raise UnsafeIdentifier(raw, source=source, obj=obj, reason=exc.reason + converted) from None


def quote_ident(name: str) -> str:
    """Quote an identifier for SQL, doubling embedded quotes. Used even for validated names."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    """``"schema"."table"``, both parts quoted."""
    return f"{quote_ident(schema)}.{quote_ident(table)}"
