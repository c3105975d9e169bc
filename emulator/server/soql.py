"""A small SOQL: parser and vectorised evaluator over the org's pandas frames.

Supported (what connectors and the official SDKs send):

- ``SELECT f1, f2, Parent.Field, ... FROM Object`` and ``SELECT COUNT() FROM Object``; field and
  object names are case-insensitive, the response uses the API names. Parent paths follow
  single-target lookups (``Owner.Name``, ``Account.Owner.Email``).
- ``WHERE`` with ``= != <> < <= > >=``, ``IN (...)``, ``NOT IN (...)``, ``LIKE`` (``%`` and ``_``,
  case-insensitive), ``AND``, ``OR``, ``NOT`` and parentheses. As in SOQL, ``AND`` and ``OR`` do
  not mix without parentheses.
- Literals: ``'strings'`` (backslash escapes), numbers, ``TRUE``/``FALSE``, ``NULL``, dates
  ``2024-04-01``, datetimes ``2024-05-20T00:00:00Z`` or with ``+hh:mm``/``-hh:mm`` offsets (a
  datetime without zone -- what a raw ``+`` becomes after URL decoding -- is ``MALFORMED_QUERY``),
  and the relative date literals ``TODAY``, ``YESTERDAY``, ``TOMORROW``, ``LAST_N_DAYS:n``,
  ``NEXT_N_DAYS:n``.
- ``ORDER BY f [ASC|DESC] [NULLS FIRST|LAST], ...``, ``LIMIT n``, ``OFFSET n``.

Semantics follow SOQL rather than SQL: string comparisons are case-insensitive, ``= null`` and
``!= null`` test for null, and ``!=`` / ``NOT IN`` also match null values. Type rules are checked
like Salesforce does (a date field needs a date literal, a number field an unquoted number, an id
field a well-formed id) and reported as ``INVALID_FIELD`` / ``INVALID_QUERY_FILTER_OPERATOR``.

Evaluation is vectorised: a ``WHERE`` clause becomes one boolean mask over the frame and
``ORDER BY`` one ``np.lexsort``; the caller keeps the resulting row positions and encodes pages
from them. Errors are :class:`SoqlError` carrying the Salesforce ``errorCode`` and a message in
Salesforce's style (the query, a caret, ``ERROR at Row:1:Column:N`` and the reason).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from emulator.ids import _PREFIX_BY_CODE, TYPE_SHIFT, parse_sf_id
from emulator.schema import SfField

DAY_MS = 86_400_000
TEXT_TYPES = frozenset(
    {"string", "textarea", "picklist", "multipicklist", "email", "url", "phone", "combobox"}
)
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int", "long"})
KEYWORDS = frozenset(
    {
        "SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "NULL", "TRUE", "FALSE",
        "ORDER", "BY", "ASC", "DESC", "NULLS", "FIRST", "LAST", "LIMIT", "OFFSET", "GROUP",
        "HAVING", "WITH", "FOR", "INCLUDES", "EXCLUDES", "TYPEOF", "USING", "SCOPE",
    }
)  # fmt: skip
RELATIVE_DATES = {"TODAY": (0, 1), "YESTERDAY": (-1, 0), "TOMORROW": (1, 2)}
N_DAY_LITERALS = {"LAST_N_DAYS", "NEXT_N_DAYS"}

# Sort key of an id: rank of its 3-character key prefix, then the local number. The rendered
# ids' base-62 bodies are fixed width in ASCII order, so this orders like the id strings do.
_PREFIX_RANK = np.zeros(max(_PREFIX_BY_CODE) + 1, dtype=np.int64)
for _rank, (_code, _prefix) in enumerate(sorted(_PREFIX_BY_CODE.items(), key=lambda kv: kv[1])):
    _PREFIX_RANK[_code] = _rank + 1
_LOCAL_MASK = np.int64((1 << TYPE_SHIFT) - 1)


def id_sort_keys(keys: np.ndarray) -> np.ndarray:
    keys = np.asarray(keys, dtype=np.int64)
    valid = keys >= 0
    codes = np.where(valid, keys >> np.int64(TYPE_SHIFT), 0)
    out = (_PREFIX_RANK[codes] << np.int64(TYPE_SHIFT)) | (keys & _LOCAL_MASK)
    return np.where(valid, out, -1)


# ------------------------------------------------------------------------------ errors
class SoqlError(Exception):
    """A query Salesforce would reject: ``code`` is the errorCode, ``status`` the HTTP status."""

    def __init__(self, code: str, reason: str, text: str = "", pos: int | None = None):
        self.code = code
        self.reason = reason
        self.status = 400
        if text and pos is not None:
            caret = " " * pos + "^"
            message = f"\n{text}\n{caret}\nERROR at Row:1:Column:{pos + 1}\n{reason}"
        else:
            message = reason
        super().__init__(message)
        self.message = message


# ------------------------------------------------------------------------------ tokens
@dataclass
class Token:
    kind: str  # ident, string, number, date, datetime, op, (, ), ",", reldate, eof
    value: object
    pos: int
    text: str


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<reldate>[A-Za-z_]+:\d+)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_ZONE_RE = re.compile(r"(Z|[+-]\d{2}:?\d{2})$")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            if text[pos] == "'":
                raise SoqlError("MALFORMED_QUERY", "unterminated string literal", text, pos)
            raise SoqlError(
                "MALFORMED_QUERY",
                f"line 1:{pos} no viable alternative at character '{text[pos]}'",
                text,
                pos,
            )
        kind = m.lastgroup
        raw = m.group()
        if kind == "ws":
            pos = m.end()
            continue
        if kind == "datetime":
            if not _ZONE_RE.search(raw):
                raise SoqlError(
                    "MALFORMED_QUERY",
                    f"unexpected token: '{raw}': a datetime literal ends in Z or an offset "
                    "+hh:mm/-hh:mm (a raw '+' in the URL arrives as a space: let the HTTP library "
                    "encode the query, or use Z)",
                    text,
                    pos,
                )
            value: object = _parse_datetime(raw, text, pos)
        elif kind == "date":
            try:
                value = dt.date.fromisoformat(raw)
            except ValueError:
                raise SoqlError("MALFORMED_QUERY", f"invalid date: {raw}", text, pos) from None
        elif kind == "number":
            value = float(raw) if any(c in raw for c in ".eE") else int(raw)
        elif kind == "string":
            value = _unescape(raw[1:-1], text, pos)
        elif kind == "punct":
            kind = raw
            value = raw
        elif kind == "op":
            value = "!=" if raw == "<>" else raw
        elif kind == "reldate":
            name, _, n = raw.partition(":")
            if name.upper() not in N_DAY_LITERALS:
                raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{raw}'", text, pos)
            value = (name.upper(), int(n))
        else:
            value = raw
        tokens.append(Token(kind, value, pos, raw))
        pos = m.end()
    tokens.append(Token("eof", None, len(text), ""))
    return tokens


def _unescape(body: str, text: str, pos: int) -> str:
    if "\\" not in body:
        return body
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt in _ESCAPES:
                out.append(_ESCAPES[nxt])
            elif nxt in "%_":
                out.append("\\" + nxt)  # stays escaped for LIKE; '=' strips it below
            else:
                raise SoqlError(
                    "MALFORMED_QUERY",
                    f"Invalid string literal '{body}'. Illegal character sequence '\\{nxt}' in string literal.",
                    text,
                    pos,
                )
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _parse_datetime(raw: str, text: str, pos: int) -> int:
    """Epoch milliseconds (UTC) of a SOQL datetime literal."""
    value = raw[:-1] + "+00:00" if raw.endswith("Z") else raw
    if re.search(r"[+-]\d{4}$", value):
        value = value[:-2] + ":" + value[-2:]
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise SoqlError("MALFORMED_QUERY", f"invalid datetime: {raw}", text, pos) from None
    return int(parsed.timestamp() * 1000)


# ------------------------------------------------------------------------------ syntax tree
@dataclass
class FieldPath:
    path: str
    pos: int


@dataclass
class Literal:
    kind: str  # string, number, date, datetime, bool, null, reldate
    value: object
    pos: int
    text: str


@dataclass
class Compare:
    field: FieldPath
    op: str
    value: Literal


@dataclass
class InList:
    field: FieldPath
    values: list[Literal]
    negate: bool


@dataclass
class Like:
    field: FieldPath
    pattern: Literal


@dataclass
class BoolOp:
    op: str  # AND, OR
    items: list


@dataclass
class Not:
    item: object


@dataclass
class OrderItem:
    field: FieldPath
    descending: bool = False
    nulls_last: bool | None = None  # None = SOQL default (ASC: first, DESC: last)


@dataclass
class Query:
    text: str
    fields: list[FieldPath]
    count: bool
    object: str
    object_pos: int
    where: object = None
    order: list[OrderItem] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    # -- helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _kw(self, token: Token) -> str | None:
        if token.kind == "ident" and token.text.upper() in KEYWORDS:
            return token.text.upper()
        return None

    def at_kw(self, *words: str) -> bool:
        return self._kw(self.tok) in words

    def take_kw(self, word: str) -> Token:
        if not self.at_kw(word):
            self.unexpected()
        return self.advance()

    def advance(self) -> Token:
        token = self.tok
        self.i += 1
        return token

    def unexpected(self, token: Token | None = None):
        token = token or self.tok
        what = "<EOF>" if token.kind == "eof" else token.text
        raise SoqlError("MALFORMED_QUERY", f"unexpected token: '{what}'", self.text, token.pos)

    def expect(self, kind: str) -> Token:
        if self.tok.kind != kind:
            self.unexpected()
        return self.advance()

    def field_path(self) -> FieldPath:
        token = self.tok
        if token.kind != "ident" or self._kw(token):
            self.unexpected()
        self.advance()
        return FieldPath(token.text, token.pos)

    # -- grammar
    def query(self) -> Query:
        self.take_kw("SELECT")
        count = False
        fields: list[FieldPath] = []
        if (
            self.tok.kind == "ident"
            and self.tok.text.upper() == "COUNT"
            and self.tokens[self.i + 1].kind == "("
        ):
            self.advance()
            self.expect("(")
            if self.tok.kind != ")":
                raise SoqlError(
                    "MALFORMED_QUERY",
                    "aggregate functions other than COUNT() are not supported by this emulator",
                    self.text,
                    self.tok.pos,
                )
            self.expect(")")
            count = True
        else:
            fields.append(self.field_path())
            while self.tok.kind == ",":
                self.advance()
                fields.append(self.field_path())
        self.take_kw("FROM")
        obj = self.tok
        if obj.kind != "ident" or self._kw(obj) or "." in obj.text:
            self.unexpected()
        self.advance()
        q = Query(self.text, fields, count, obj.text, obj.pos)
        if self.at_kw("WHERE"):
            self.advance()
            q.where = self.condition()
        if self.at_kw("ORDER"):
            self.advance()
            self.take_kw("BY")
            q.order.append(self.order_item())
            while self.tok.kind == ",":
                self.advance()
                q.order.append(self.order_item())
        if self.at_kw("LIMIT"):
            self.advance()
            q.limit = self.integer()
        if self.at_kw("OFFSET"):
            self.advance()
            q.offset = self.integer()
            if q.offset > 2000:
                raise SoqlError(
                    "NUMBER_OUTSIDE_VALID_RANGE",
                    "Maximum SOQL offset allowed is 2000",
                    self.text,
                    self.tokens[self.i - 1].pos,
                )
        if self.tok.kind != "eof":
            self.unexpected()
        if count and q.order:
            raise SoqlError(
                "MALFORMED_QUERY",
                "ORDER BY is not allowed with COUNT()",
                self.text,
                q.order[0].field.pos,
            )
        return q

    def integer(self) -> int:
        token = self.expect("number")
        if not isinstance(token.value, int) or token.value < 0:
            self.unexpected(token)
        return int(token.value)

    def order_item(self) -> OrderItem:
        item = OrderItem(self.field_path())
        if self.at_kw("ASC", "DESC"):
            item.descending = self.advance().text.upper() == "DESC"
        if self.at_kw("NULLS"):
            self.advance()
            if not self.at_kw("FIRST", "LAST"):
                self.unexpected()
            item.nulls_last = self.advance().text.upper() == "LAST"
        return item

    def condition(self):
        first = self.unary()
        if not self.at_kw("AND", "OR"):
            return first
        op = self._kw(self.tok)
        items = [first]
        while self.at_kw("AND", "OR"):
            if self._kw(self.tok) != op:
                raise SoqlError(
                    "MALFORMED_QUERY",
                    f"unexpected token: '{self.tok.text}' (use parentheses to combine AND and OR)",
                    self.text,
                    self.tok.pos,
                )
            self.advance()
            items.append(self.unary())
        return BoolOp(op, items)

    def unary(self):
        if self.at_kw("NOT"):
            self.advance()
            return Not(self.unary())
        if self.tok.kind == "(":
            self.advance()
            inner = self.condition()
            self.expect(")")
            return inner
        return self.predicate()

    def predicate(self):
        path = self.field_path()
        if self.at_kw("NOT"):
            self.advance()
            if not self.at_kw("IN"):
                self.unexpected()
            self.advance()
            return InList(path, self.value_list(), negate=True)
        if self.at_kw("IN"):
            self.advance()
            return InList(path, self.value_list(), negate=False)
        if self.at_kw("LIKE"):
            self.advance()
            pattern = self.literal()
            if pattern.kind != "string":
                raise SoqlError(
                    "MALFORMED_QUERY", "LIKE needs a string pattern", self.text, pattern.pos
                )
            return Like(path, pattern)
        if self.tok.kind != "op":
            self.unexpected()
        op = self.advance().value
        return Compare(path, str(op), self.literal())

    def value_list(self) -> list[Literal]:
        self.expect("(")
        if self.at_kw("SELECT"):
            raise SoqlError(
                "MALFORMED_QUERY",
                "semi-join subqueries are not supported by this emulator",
                self.text,
                self.tok.pos,
            )
        values = [self.literal()]
        while self.tok.kind == ",":
            self.advance()
            values.append(self.literal())
        self.expect(")")
        return values

    def literal(self) -> Literal:
        token = self.tok
        kw = self._kw(token)
        if token.kind in ("string", "number", "date", "datetime", "reldate"):
            self.advance()
            return Literal(token.kind, token.value, token.pos, token.text)
        if kw in ("TRUE", "FALSE"):
            self.advance()
            return Literal("bool", kw == "TRUE", token.pos, token.text)
        if kw == "NULL":
            self.advance()
            return Literal("null", None, token.pos, token.text)
        if token.kind == "ident" and token.text.upper() in RELATIVE_DATES:
            self.advance()
            return Literal("reldate", (token.text.upper(), 0), token.pos, token.text)
        self.unexpected()
        raise AssertionError  # unreachable


def parse(text: str) -> Query:
    if not text or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "empty query")
    return _Parser(text).query()


# ------------------------------------------------------------------------------ tables
class Table:
    """One object's served frame plus its field metadata, with lazily cached column views.

    ``fields`` maps lower-case field names to :class:`SfField` (compound address parents
    included); ``resolve`` returns the Table of another object (for parent paths) or ``None``.
    The frame is never modified; ``cache`` holds derived arrays (comparable values, encodings).
    """

    def __init__(
        self,
        name: str,
        frame: pd.DataFrame,
        fields: list[SfField],
        resolve: Callable[[str], Table | None] | None = None,
    ):
        self.name = name
        self.frame = frame
        self.field_list = fields
        self.fields = {f.name.lower(): f for f in fields}
        self.resolve = resolve or (lambda _name: None)
        self.cache: dict = {}
        self.n = len(frame)

    def field(self, name: str, text: str = "", pos: int | None = None) -> SfField:
        f = self.fields.get(name.lower())
        if f is None:
            raise SoqlError(
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{self.name}'. If you are attempting to use a "
                "custom field, be sure to append the '__c' after the custom field name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
                text,
                pos,
            )
        return f

    def raw(self, name: str) -> np.ndarray:
        key = ("raw", name)
        if key not in self.cache:
            self.cache[key] = self.frame[name].to_numpy()
        return self.cache[key]

    def keys(self) -> np.ndarray:
        return np.asarray(self.raw("Id"), dtype=np.int64)

    def has(self, name: str) -> bool:
        return name in self.frame.columns

    def comparable(self, f: SfField) -> tuple[str, np.ndarray, np.ndarray]:
        """(kind, values, null mask) of a field for filtering and sorting."""
        key = ("cmp", f.name)
        if key in self.cache:
            return self.cache[key]
        series = self.frame[f.name]
        if f.type in ("id", "reference"):
            values = np.asarray(series.to_numpy(), dtype=np.int64)
            out = ("key", values, values < 0)
        elif f.type in ("datetime", "date"):
            arr = series.to_numpy().astype("datetime64[ms]")
            null = np.isnat(arr)
            out = ("time", np.where(null, 0, arr.astype(np.int64)), null)
        elif f.type in NUMBER_TYPES:
            values = pd.to_numeric(series, errors="coerce").astype("float64").to_numpy()
            out = ("num", values, np.isnan(values))
        elif f.type == "boolean":
            null = series.isna().to_numpy()
            values = series.fillna(False).astype(bool).to_numpy()
            out = ("bool", values, null)
        else:
            null = series.isna().to_numpy()
            lowered = series.astype(object).where(~null, "").astype(str).str.lower()
            out = ("text", lowered.to_numpy(dtype=object), null)
        self.cache[key] = out
        return out

    def parent_rows(self, f: SfField) -> tuple[Table, np.ndarray]:
        """Parent table of a single-target lookup and, per row, the parent's row (-1 = none)."""
        key = ("parent", f.name)
        if key not in self.cache:
            parent = self.resolve(f.reference_to[0])
            if parent is None:
                raise KeyError(f.reference_to[0])
            index = pd.Index(parent.keys())
            rows = index.get_indexer(np.asarray(self.raw(f.name), dtype=np.int64))
            self.cache[key] = (parent, rows.astype(np.int64))
        return self.cache[key]


def relationship_name(f: SfField) -> str | None:
    if f.type != "reference":
        return None
    if f.name.endswith("__c"):
        return f.name[:-3] + "__r"
    if f.name.endswith("Id") and len(f.name) > 2:
        return f.name[:-2]
    return None


@dataclass
class Column:
    """A resolved field path: the field, the table holding it, and how base rows reach it."""

    path: str  # API-name path as Salesforce echoes it, e.g. "Owner.Name"
    field: SfField
    table: Table
    hops: list[tuple[str, Table, np.ndarray]]  # (relationship name, parent table, rows) per hop

    def rows(self, base_rows: np.ndarray) -> np.ndarray:
        """Rows of ``self.table`` for base rows (-1 where a lookup on the way is null)."""
        rows = base_rows
        for _name, _table, parent_rows in self.hops:
            rows = np.where(rows >= 0, parent_rows[np.maximum(rows, 0)], -1)
        return rows

    def comparable(self, base_rows: np.ndarray | None) -> tuple[str, np.ndarray, np.ndarray]:
        """Comparable values at ``base_rows`` of the queried table (``None`` = every row)."""
        kind, values, null = self.table.comparable(self.field)
        if base_rows is None and not self.hops:
            return kind, values, null
        if base_rows is None:
            base_rows = np.arange(len(self.hops[0][2]))
        if not self.hops:
            return kind, values[base_rows], null[base_rows]
        rows = self.rows(base_rows)
        safe = np.maximum(rows, 0)
        return kind, values[safe], null[safe] | (rows < 0)


def resolve(table: Table, fp: FieldPath, text: str) -> Column:
    parts = fp.path.split(".")
    if len(parts) > 1 and parts[0].lower() == table.name.lower():
        parts = parts[1:]  # "Opportunity.Name" is allowed for the queried object itself
    current = table
    hops: list[tuple[str, Table, np.ndarray]] = []
    names: list[str] = []
    for part in parts[:-1]:
        ref = next(
            (f for f in current.field_list if (relationship_name(f) or "").lower() == part.lower()),
            None,
        )
        if ref is None or len(ref.reference_to) != 1 or not current.has(ref.name):
            raise SoqlError(
                "INVALID_FIELD",
                f"Didn't understand relationship '{part}' in field path. If you are attempting to "
                "use a custom relationship, be sure to append the '__r' after the custom "
                "relationship name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
                text,
                fp.pos,
            )
        try:
            parent, parent_rows = current.parent_rows(ref)
        except KeyError:
            raise SoqlError(
                "INVALID_FIELD",
                f"Didn't understand relationship '{part}' in field path.",
                text,
                fp.pos,
            ) from None
        rel = relationship_name(ref)
        assert rel is not None
        hops.append((rel, parent, parent_rows))
        names.append(rel)
        current = parent
    f = current.field(parts[-1], text, fp.pos)
    names.append(f.name)
    return Column(".".join(names), f, current, hops)


# ------------------------------------------------------------------------------ evaluation
@dataclass
class Context:
    """What literals are relative to: the simulated 'today' (UTC)."""

    today: dt.date


def _type_error(f: SfField, lit: Literal, text: str) -> SoqlError:
    expected = {
        "date": "must be of type date and should not be enclosed in quotes",
        "datetime": "must be of type dateTime and should not be enclosed in quotes",
        "boolean": "must be of type boolean and should not be enclosed in quotes",
    }.get(f.type)
    if expected is None and f.type in NUMBER_TYPES:
        expected = f"must be of type {'integer' if f.type in ('int', 'long') else 'double'} and should not be enclosed in quotes"
    if expected is None:
        expected = "must be of type string and should be enclosed in quotes"
    return SoqlError(
        "INVALID_FIELD", f"value of filter criterion for field '{f.name}' {expected}", text, lit.pos
    )


def _literal_value(f: SfField, kind: str, lit: Literal, ctx: Context, text: str):
    """The literal in the field's comparable space, or a (lo, hi) range for relative dates."""
    if lit.kind == "null":
        return None
    if kind == "key":
        if lit.kind != "string":
            raise _type_error(f, lit, text)
        try:
            return int(id_sort_keys(np.array([parse_sf_id(str(lit.value))]))[0])
        except ValueError:
            raise SoqlError(
                "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {lit.value}", text, lit.pos
            ) from None
    if kind == "time":
        if lit.kind == "reldate":
            name, n = lit.value
            if name in RELATIVE_DATES:
                lo, hi = RELATIVE_DATES[name]
            elif name == "LAST_N_DAYS":
                lo, hi = -n, 1
            else:  # NEXT_N_DAYS
                lo, hi = 1, n + 1
            base = (ctx.today - dt.date(1970, 1, 1)).days
            return ((base + lo) * DAY_MS, (base + hi) * DAY_MS)
        if f.type == "date" and lit.kind == "date":
            return (lit.value - dt.date(1970, 1, 1)).days * DAY_MS
        if f.type == "datetime" and lit.kind == "datetime":
            return int(lit.value)
        raise _type_error(f, lit, text)
    if kind == "num":
        if lit.kind != "number":
            raise _type_error(f, lit, text)
        return float(lit.value)
    if kind == "bool":
        if lit.kind != "bool":
            raise _type_error(f, lit, text)
        return bool(lit.value)
    if lit.kind != "string":
        raise _type_error(f, lit, text)
    return str(lit.value).replace("\\%", "%").replace("\\_", "_").lower()


def _compare(kind: str, values: np.ndarray, null: np.ndarray, op: str, lit) -> np.ndarray:
    if lit is None:
        if op == "=":
            return null.copy()
        if op == "!=":
            return ~null
        return np.zeros(len(values), dtype=bool)
    if kind == "key":
        values = id_sort_keys(values)
    if isinstance(lit, tuple):  # a relative date range [lo, hi)
        lo, hi = lit
        inside = (values >= lo) & (values < hi)
        result = {
            "=": inside,
            "!=": ~inside,
            "<": values < lo,
            "<=": values < hi,
            ">": values >= hi,
            ">=": values >= lo,
        }[op]
    elif kind == "text" and op not in ("=", "!="):
        with np.errstate(all="ignore"):
            result = {
                "<": lambda: values < lit,
                "<=": lambda: values <= lit,
                ">": lambda: values > lit,
                ">=": lambda: values >= lit,
            }[op]()
        result = np.asarray(result, dtype=bool)
    else:
        result = {
            "=": lambda: values == lit,
            "!=": lambda: values != lit,
            "<": lambda: values < lit,
            "<=": lambda: values <= lit,
            ">": lambda: values > lit,
            ">=": lambda: values >= lit,
        }[op]()
        result = np.asarray(result, dtype=bool)
    if op == "!=":
        return result | null
    return result & ~null


def _like_regex(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern) and pattern[i + 1] in "%_":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
        i += 1
    return "".join(out)


class Evaluator:
    def __init__(self, query: Query, table: Table, ctx: Context):
        self.q = query
        self.table = table
        self.ctx = ctx
        self.rows = None  # every row of the queried table

    def column(self, fp: FieldPath, purpose: str) -> Column:
        col = resolve(self.table, fp, self.q.text)
        if col.field.type in ("address", "location", "anyType"):
            verb = "filtered" if purpose == "filter" else "sorted"
            raise SoqlError(
                "INVALID_FIELD",
                f"field '{col.field.name}' can not be {verb} in a query call",
                self.q.text,
                fp.pos,
            )
        return col

    def mask(self, node) -> np.ndarray:
        if isinstance(node, BoolOp):
            masks = [self.mask(item) for item in node.items]
            out = masks[0]
            for m in masks[1:]:
                out = (out & m) if node.op == "AND" else (out | m)
            return out
        if isinstance(node, Not):
            return ~self.mask(node.item)
        if isinstance(node, Compare):
            col = self.column(node.field, "filter")
            kind, values, null = col.comparable(self.rows)
            lit = _literal_value(col.field, kind, node.value, self.ctx, self.q.text)
            if kind == "bool" and node.op not in ("=", "!=") and lit is not None:
                raise SoqlError(
                    "INVALID_QUERY_FILTER_OPERATOR",
                    f"invalid operator on boolean field: {col.field.name}",
                    self.q.text,
                    node.field.pos,
                )
            return _compare(kind, values, null, node.op, lit)
        if isinstance(node, InList):
            col = self.column(node.field, "filter")
            kind, values, null = col.comparable(self.rows)
            lits = [_literal_value(col.field, kind, v, self.ctx, self.q.text) for v in node.values]
            if any(isinstance(v, tuple) for v in lits):
                raise SoqlError(
                    "MALFORMED_QUERY",
                    "relative date literals are not allowed in IN lists",
                    self.q.text,
                    node.field.pos,
                )
            wanted = [v for v in lits if v is not None]
            if kind == "key":
                values = id_sort_keys(values)
            hit = (
                np.isin(values, np.array(wanted, dtype=object if kind == "text" else None)) & ~null
                if wanted
                else np.zeros(len(values), dtype=bool)
            )
            if len(wanted) < len(lits):
                hit = hit | null
            return ~hit if node.negate else hit
        if isinstance(node, Like):
            col = self.column(node.field, "filter")
            kind, values, null = col.comparable(self.rows)
            if kind != "text":
                raise SoqlError(
                    "INVALID_FIELD",
                    f"invalid operator on field '{col.field.name}': LIKE works on text fields only",
                    self.q.text,
                    node.field.pos,
                )
            regex = _like_regex(str(node.pattern.value).lower())
            matched = pd.Series(values, dtype=object).str.fullmatch(regex, flags=re.DOTALL)
            return matched.fillna(False).to_numpy(dtype=bool) & ~null
        raise AssertionError(node)

    def where(self) -> np.ndarray:
        if self.q.where is None:
            return np.ones(self.table.n, dtype=bool)
        return self.mask(self.q.where)

    def order(self, positions: np.ndarray) -> np.ndarray:
        """``positions`` sorted by the ORDER BY items (stable: ties keep frame order)."""
        if not self.q.order or len(positions) < 2:
            return positions
        keys: list[np.ndarray] = []
        for item in self.q.order:
            col = self.column(item.field, "sort")
            kind, values, null = col.comparable(positions)
            if kind == "key":
                values = id_sort_keys(values)
            elif kind == "text":
                values = pd.factorize(values, sort=True)[0]
            elif kind == "num":
                values = np.where(null, 0.0, values)
            values = values.astype(np.float64) if kind == "num" else values.astype(np.int64)
            if item.descending:
                values = -values
            nulls_last = item.nulls_last if item.nulls_last is not None else item.descending
            null_rank = null.astype(np.int8) if nulls_last else (~null).astype(np.int8)
            keys.extend([null_rank, values])
        order = np.lexsort(keys[::-1])
        return positions[order]


def select_columns(query: Query, table: Table) -> list[Column]:
    columns: list[Column] = []
    seen: set[str] = set()
    for fp in query.fields:
        col = resolve(table, fp, query.text)
        if col.path.lower() in seen:
            raise SoqlError(
                "MALFORMED_QUERY", f"duplicate field selected: {col.path}", query.text, fp.pos
            )
        seen.add(col.path.lower())
        columns.append(col)
    return columns


def check_object(query: Query, objects: dict[str, object]) -> str:
    """The API name of the queried object, or INVALID_TYPE."""
    for name in objects:
        if name.lower() == query.object.lower():
            return name
    raise SoqlError(
        "INVALID_TYPE",
        f"sObject type '{query.object}' is not supported. If you are attempting to use a custom "
        "object, be sure to append the '__c' after the entity name. Please reference your WSDL "
        "or the describe call for the appropriate names.",
        query.text,
        query.object_pos,
    )
