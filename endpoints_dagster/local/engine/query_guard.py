"""The query allowlist: what an endpoint query may contain, judged on a parsed AST.

Every query the local server runs for a caller (endpoint create/update, a run, a
materialization) is translated from HogQL to ClickHouse SQL first (``hogql.py``), then
parsed here with sqlglot's ClickHouse dialect and walked node by node. Only what HogQL
allows passes:

- one SELECT statement (CTEs, subqueries, UNION / EXCEPT / INTERSECT, joins, windows);
- tables: the project's own (``events``), the query's CTE names, and ``numbers(N)``;
  nothing qualified by a database (``system.tables``, ``default.events``);
- functions from :data:`ALLOWED_FUNCTIONS` (plus aggregate combinators of allowed
  aggregates); every other name, however it is quoted or cased, is refused;
- no ``SETTINGS``, ``FORMAT`` or ``INTO OUTFILE`` clause, no ``x IN some_table``, and
  ``{name:Type}`` slots only for the parameters the translator bound.

:func:`check_engine_ast` then judges ClickHouse's own parse of the same text (``EXPLAIN AST``)
against the same lists, so a difference between the two parsers cannot let a name through.

Names are judged after parsing, so quoting (`` `file` ``, ``"file"``), case and comments
change nothing. A refusal is a :class:`QueryRefused` whose message names the construct.

>>> check("SELECT count() FROM events WHERE event = {v_e:String}", tables={"events"}, params={"v_e"})
>>> check("SELECT `file`('/etc/passwd')", tables={"events"})
Traceback (most recent call last):
...
endpoints_dagster.local.engine.query_guard.QueryRefused: Function 'file' is not available in HogQL queries
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Collection, Iterable

import sqlglot
from sqlglot import exp
from sqlglot.dialects.clickhouse import ClickHouse
from sqlglot.errors import SqlglotError
from sqlglot.tokens import TokenType


class QueryRefused(ValueError):
    """The query uses something outside the allowlist; ``message`` names it (user-facing)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class QueryUnparseable(QueryRefused):
    """sqlglot cannot parse the query, so it cannot be judged (and never runs)."""


class _Dialect(ClickHouse):
    """ClickHouse, but every plain ``name(...)`` call stays an ``Anonymous`` node with its name
    as written, so the allowlist judges the name ClickHouse will resolve, not sqlglot's guess."""

    class Parser(ClickHouse.Parser):  # type: ignore[misc,valid-type]
        FUNCTIONS: dict = {}
        # Only the special-syntax forms HogQL has; ``view(...)``, ``JSON_TABLE`` and the rest
        # are left to fail as unknown syntax or to arrive as names the allowlist refuses.
        FUNCTION_PARSERS = {
            k: v
            for k, v in ClickHouse.Parser.FUNCTION_PARSERS.items()
            if k
            in {
                "CAST",
                "TRY_CAST",
                "EXTRACT",
                "POSITION",
                "SUBSTRING",
                "TRIM",
                "TUPLE",
                "QUANTILE",
                "COLUMNS",
            }
        }
        NO_PAREN_FUNCTIONS: dict = {}


# Aggregates (combinators below extend them: countIf, uniqExactIf, sumArray, quantilesIf, ...).
_AGGREGATES = """
count sum avg min max any anyLast anyHeavy argMin argMax avgWeighted uniq uniqExact uniqCombined
uniqCombined64 uniqHLL12 uniqTheta uniqUpTo groupArray groupUniqArray groupArrayMovingSum
groupArrayMovingAvg groupArraySample groupArrayLast groupBitAnd groupBitOr groupBitXor median
quantile quantiles quantileExact quantilesExact quantileTiming quantilesTiming quantileTDigest
quantilesTDigest quantileDeterministic quantileExactWeighted quantileBFloat16 quantileGK
stddevPop stddevSamp varPop varSamp covarPop covarSamp corr topK topKWeighted sumMap minMap maxMap
windowFunnel retention sequenceMatch sequenceCount histogram simpleLinearRegression sumCount
entropy skewPop skewSamp kurtPop kurtSamp first_value last_value nth_value lagInFrame leadInFrame
row_number rank dense_rank percent_rank cume_dist ntile lag lead sumKahan sumWithOverflow
groupConcat intervalLengthSum boundingRatio deltaSum exponentialMovingAverage
"""
_COMBINATORS = (
    "If",
    "Array",
    "Distinct",
    "OrNull",
    "OrDefault",
    "Merge",
    "State",
    "ForEach",
    "Map",
    "Resample",
)

_SCALARS = """
plus minus multiply divide intDiv intDivOrZero modulo moduloOrZero negate abs gcd lcm
equals notEquals less greater lessOrEquals greaterOrEquals and or not xor if multiIf ifNull nullIf
coalesce assumeNotNull toNullable isNull isNotNull isNullable isFinite isInfinite isNaN greatest least
round roundBankers floor ceil ceiling trunc truncate sqrt cbrt exp exp2 exp10 log ln log2 log10 log1p
pow power sign sin cos tan asin acos atan atan2 pi e
toInt8 toInt16 toInt32 toInt64 toInt128 toInt256 toUInt8 toUInt16 toUInt32 toUInt64 toUInt128 toUInt256
toFloat32 toFloat64 toDecimal32 toDecimal64 toDecimal128 toString toFixedString toBool toUUID
toInt8OrNull toInt16OrNull toInt32OrNull toInt64OrNull toUInt8OrNull toUInt16OrNull toUInt32OrNull
toUInt64OrNull toFloat32OrNull toFloat64OrNull toDateOrNull toDateTimeOrNull toDateTime64OrNull
toUUIDOrNull toInt64OrZero toFloat64OrZero toUInt64OrZero toDecimal64OrNull
accurateCast accurateCastOrNull accurateCastOrDefault reinterpretAsString toTypeName
toDate toDate32 toDateTime toDateTime64 toTimeZone toTimezone toYear toQuarter toMonth toWeek toISOWeek
toISOYear toDayOfYear toDayOfMonth toDayOfWeek toHour toMinute toSecond toYYYYMM toYYYYMMDD
toYYYYMMDDhhmmss toUnixTimestamp toUnixTimestamp64Milli toUnixTimestamp64Micro fromUnixTimestamp
fromUnixTimestamp64Milli fromUnixTimestamp64Micro toStartOfYear toStartOfQuarter toStartOfMonth
toStartOfWeek toStartOfISOWeek toStartOfDay toStartOfHour toStartOfMinute toStartOfSecond
toStartOfFiveMinutes toStartOfFiveMinute toStartOfTenMinutes toStartOfFifteenMinutes
toStartOfInterval toMonday toRelativeDayNum toRelativeWeekNum toRelativeMonthNum toLastDayOfMonth
toIntervalSecond toIntervalMinute toIntervalHour toIntervalDay toIntervalWeek toIntervalMonth
toIntervalQuarter toIntervalYear now now64 today yesterday date_trunc dateTrunc dateDiff date_diff
dateAdd date_add dateSub date_sub addSeconds addMinutes addHours addDays addWeeks addMonths
addQuarters addYears subtractSeconds subtractMinutes subtractHours subtractDays subtractWeeks
subtractMonths subtractQuarters subtractYears timeSlot formatDateTime formatReadableSize
formatReadableQuantity formatReadableTimeDelta parseDateTimeBestEffort parseDateTimeBestEffortOrNull
parseDateTime64BestEffort parseDateTime64BestEffortOrNull makeDate makeDateTime
length empty notEmpty lower upper lowerUTF8 upperUTF8 lengthUTF8 reverse concat concatWithSeparator
substring substr substringUTF8 left right leftPad rightPad trim trimLeft trimRight trimBoth
replace replaceOne replaceAll replaceRegexpOne replaceRegexpAll position positionCaseInsensitive
locate startsWith endsWith like notLike ilike notILike match multiMatchAny extract extractAll
extractAllGroups splitByChar splitByString splitByRegexp arrayStringConcat format repeat
base64Encode base64Decode tryBase64Decode hex unhex lowerUTF8 toValidUTF8 domain domainWithoutWWW
topLevelDomain protocol path pathFull queryString fragment cutQueryString extractURLParameter
extractURLParameters decodeURLComponent encodeURLComponent cityHash64 sipHash64 xxHash64 murmurHash3_64
MD5 SHA1 SHA256 generateUUIDv4 rand rand64 randCanonical
JSONExtract JSONExtractRaw JSONExtractString JSONExtractInt JSONExtractUInt JSONExtractFloat
JSONExtractBool JSONExtractArrayRaw JSONExtractKeys JSONExtractKeysAndValues JSONHas JSONLength
JSONType isValidJSON toJSONString simpleJSONExtractString simpleJSONExtractRaw simpleJSONHas
array arrayElement has hasAll hasAny indexOf arrayCount arrayMap arrayFilter arrayExists arrayAll
arraySum arrayAvg arrayMin arrayMax arraySort arrayReverseSort arrayDistinct arrayUniq arrayConcat
arraySlice arrayPushBack arrayPushFront arrayPopBack arrayPopFront arrayEnumerate arrayEnumerateUniq
arrayCompact arrayFlatten arrayZip arrayFirst arrayLast arrayFirstIndex arrayJoin arrayReduce
arrayCumSum arrayDifference arrayIntersect arrayResize arrayReverse arrayStringConcat range
emptyArrayString emptyArrayUInt64 splitByWhitespace groupArrayInsertAt
tuple tupleElement untuple map mapKeys mapValues mapContains
CAST _CAST toIntervalMillisecond
"""

ALLOWED_FUNCTIONS: frozenset[str] = frozenset(_SCALARS.split()) | frozenset(_AGGREGATES.split())
# What operators become in ClickHouse's own AST (``x IN (...)`` is ``Function in``): allowed there,
# not as written calls, since ``in(x, some_table)`` would read a table.
_OPERATOR_FUNCTIONS = frozenset(
    [
        "in",
        "notin",
        "globalin",
        "globalnotin",
        "nullin",
        "notnullin",
        "lambda",
        "tupleelement",
        "arrayelement",
    ]
)
_ALLOWED_LOWER = frozenset(n.lower() for n in ALLOWED_FUNCTIONS)
_AGGREGATES_LOWER = frozenset(n.lower() for n in _AGGREGATES.split())
_COMBINATORS_LOWER = tuple(c.lower() for c in _COMBINATORS)
TABLE_FUNCTIONS = frozenset({"numbers"})

# Syntax nodes a HogQL query may contain. Anything else (a typed function sqlglot knows by a
# special parser, a DDL node, a lock clause...) is refused by its class name.
_ALLOWED_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Select,
        exp.Union,
        exp.Except,
        exp.Intersect,
        exp.With,
        exp.CTE,
        exp.Subquery,
        exp.From,
        exp.Join,
        exp.Where,
        exp.Group,
        exp.Having,
        exp.Order,
        exp.Ordered,
        exp.Limit,
        exp.Offset,
        exp.Window,
        exp.WindowSpec,
        exp.Distinct,
        exp.Column,
        exp.Identifier,
        exp.Literal,
        exp.Star,
        exp.Alias,
        exp.TableAlias,
        exp.Table,
        exp.Paren,
        exp.Tuple,
        exp.Array,
        exp.Bracket,
        exp.Null,
        exp.Boolean,
        exp.Placeholder,
        exp.DataType,
        exp.DataTypeParam,
        exp.Var,
        exp.Interval,
        exp.Cast,
        exp.TryCast,
        exp.Case,
        exp.If,
        exp.Lambda,
        exp.Not,
        exp.Neg,
        exp.Is,
        exp.In,
        exp.Between,
        exp.Like,
        exp.ILike,
        exp.And,
        exp.Or,
        exp.Xor,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.Mod,
        exp.IntDiv,
        exp.DPipe,
        exp.Dot,
        exp.Exists,
        exp.Extract,
        exp.Trim,
        exp.Substring,
        exp.StrPosition,
        exp.Struct,
        exp.Quantile,
        exp.Columns,
        exp.Anonymous,
        exp.AnonymousAggFunc,
        exp.CombinedAggFunc,
        exp.ParameterizedAgg,
        exp.CombinedParameterizedAgg,
        exp.Filter,
        exp.HexString,
        exp.WithFill,
        exp.Lateral,
        exp.Unnest,
        exp.PropertyEQ,
        exp.Kwarg,
        exp.Slice,
        exp.RegexpLike,
        exp.Escape,
        exp.JSONExtract,
        exp.Where,
        exp.Qualify,
        exp.Except,
    }
)
# sqlglot reads ARRAY JOIN as a join with ``kind`` ARRAY: fine. ``Lateral``/``Unnest`` are how
# some spellings of it arrive.


def _function_name(node: exp.Expr) -> str | None:
    """The name a call was written with, for the nodes that are plain ``name(...)`` calls."""
    if isinstance(
        node,
        (
            exp.Anonymous,
            exp.AnonymousAggFunc,
            exp.CombinedAggFunc,
            exp.ParameterizedAgg,
            exp.CombinedParameterizedAgg,
        ),
    ):
        return str(node.name if isinstance(node.this, str) else node.this.name)
    return None


def function_allowed(name: str) -> bool:
    """Whether ``name`` (any case) is allowed: listed, or an aggregate plus combinators (``uniqIf``)."""
    low = name.lower()
    if low in _ALLOWED_LOWER:
        return True
    stripped = True
    while stripped:
        stripped = False
        for suffix in _COMBINATORS_LOWER:
            if low.endswith(suffix) and len(low) > len(suffix):
                low = low[: -len(suffix)]
                stripped = True
                if low in _AGGREGATES_LOWER:
                    return True
    return False


def parse(sql: str) -> exp.Expr:
    """Exactly one statement, parsed; a :class:`QueryRefused` otherwise."""
    try:
        tokens = _Dialect().tokenize(sql)
    except SqlglotError:
        raise QueryUnparseable(
            "The query cannot be read: check its quotes, comments and placeholders"
        ) from None
    for tok, nxt in itertools.pairwise(tokens):
        # sqlglot cannot parse ClickHouse's INTO OUTFILE: name it rather than call it a syntax error.
        if tok.token_type == TokenType.INTO and nxt.text.upper() == "OUTFILE":
            raise QueryRefused("An INTO OUTFILE clause is not available in HogQL queries")
    try:
        trees = [t for t in sqlglot.parse(sql, dialect=_Dialect) if t is not None]
    except SqlglotError as exc:
        raise QueryUnparseable(f"The query cannot be parsed: {_first_line(str(exc))}") from None
    except RecursionError:  # sqlglot's parser recurses per nesting level (about 50 levels fit)
        raise QueryRefused("The query nests too deeply to be checked; flatten its parentheses") from None
    if len(trees) != 1:
        raise QueryRefused("A query must be a single statement" if trees else "The query is empty")
    return trees[0]


def check(sql: str, *, tables: Collection[str], params: Collection[str] = ()) -> None:
    """Refuse ``sql`` unless everything in it is on the allowlist (see the module doc).

    ``tables`` are the unqualified table names the project may read; ``params`` the names of
    the ``{name:Type}`` slots the translator bound.
    """
    tree = parse(sql)
    if not isinstance(tree, (exp.Select, exp.Union, exp.Except, exp.Intersect, exp.Subquery)):
        raise QueryRefused(f"Only SELECT queries are supported, not {_construct(tree)}")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        _check_node(node, ctes, frozenset(tables), frozenset(params))


def _check_node(node: exp.Expr, ctes: set[str], tables: frozenset[str], params: frozenset[str]) -> None:
    if type(node) not in _ALLOWED_NODES:
        raise QueryRefused(f"{_construct(node)} is not available in HogQL queries")
    if isinstance(node, (exp.Select, exp.Union, exp.Except, exp.Intersect)):
        for clause, word in (
            ("settings", "SETTINGS"),
            ("format", "FORMAT"),
            ("into", "INTO"),
            ("locks", "FOR UPDATE"),
            ("options", "OPTION"),
        ):
            if node.args.get(clause):
                raise QueryRefused(f"A {word} clause is not available in HogQL queries")
    name = _function_name(node)
    if name is not None and not isinstance(node.parent, exp.Table) and not function_allowed(name):
        raise QueryRefused(f"Function {name!r} is not available in HogQL queries")
    if isinstance(node, exp.Table):
        _check_table(node, ctes, tables)
    if isinstance(node, exp.Placeholder):
        slot = node.name
        if slot not in params:
            raise QueryRefused(
                "Placeholders look like {variables.name} or {filters}; "
                "ClickHouse {name:Type} slots are not allowed"
            )
    if isinstance(node, exp.In) and isinstance(
        node.args.get("field"), (exp.Column, exp.Identifier, exp.Dot, exp.Table)
    ):
        # ClickHouse reads ``x IN name`` as "in the rows of table ``name``", any database's.
        raise QueryRefused("IN takes a list or a subquery: IN <table> is not available in HogQL queries")
    if isinstance(node, exp.Column) and node.args.get("catalog"):
        raise QueryRefused("Columns qualified by a database are not available in HogQL queries")


def _check_table(node: exp.Table, ctes: set[str], tables: frozenset[str]) -> None:
    if node.args.get("db") or node.args.get("catalog"):
        qualified = ".".join(p for p in (node.catalog, node.db, node.name) if p)
        if (node.catalog or node.db).lower() in ("system", "information_schema"):
            raise QueryRefused(f"System tables are not available in HogQL queries ({qualified!r})")
        raise QueryRefused(
            f"Table {qualified!r} is not available: a query reads only its project's tables "
            f"({', '.join(sorted(tables))})"
        )
    target = node.this
    if isinstance(target, exp.Anonymous):
        if target.name.lower() not in TABLE_FUNCTIONS:
            raise QueryRefused(f"Table function {target.name!r} is not available in HogQL queries")
        for arg in target.expressions:
            if not isinstance(arg, exp.Literal) or arg.is_string:
                raise QueryRefused(f"Table function {target.name!r} takes number literals only")
        return
    if not isinstance(target, exp.Identifier):
        raise QueryRefused(f"{_construct(target)} is not available as a table in HogQL queries")
    if target.name not in tables and target.name not in ctes:
        raise QueryRefused(
            f"Unknown table {target.name!r}: a query reads only its project's tables "
            f"({', '.join(sorted(tables))}) and its own CTEs"
        )


def _construct(node: exp.Expr | None) -> str:
    if node is None:
        return "an empty query"
    key = getattr(node, "key", type(node).__name__)
    return f"'{key.upper().replace('_', ' ')}'"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "syntax error"
    line = re.sub(r"<Token token_type: TokenType\.(\w+), text: (.*?), line.*?>", r"\2", line)
    return line.replace("\x1b[4m", "").replace("\x1b[0m", "")[:200]


def referenced_functions(tree: exp.Expr) -> Iterable[str]:
    """Every plain function name in ``tree`` (for tests and tools)."""
    for node in tree.walk():
        name = _function_name(node)
        if name is not None:
            yield name


# ClickHouse's own parse (``EXPLAIN AST``) lists every function and table the engine will
# resolve. Checking those names too closes any gap between sqlglot's reading and ClickHouse's.
_AST_FUNCTION = re.compile(r"^\s*Function (\S+)")
_AST_TABLE = re.compile(r"^\s*TableIdentifier (\S+)")
# A name qualified by one of the engine's databases, wherever it appears (``x IN system.one``).
_AST_DATABASE_NAME = re.compile(
    r"^\s*Identifier (system|information_schema|default|materialized|p\d+)\.", re.I
)


def check_engine_ast(explain: str, *, tables: Collection[str], ctes: Collection[str]) -> None:
    """Judge ClickHouse's ``EXPLAIN AST`` text of a query against the same allowlists."""
    allowed_tables = set(tables) | set(ctes)
    previous = ""
    for line in explain.splitlines():
        function = _AST_FUNCTION.match(line)
        if function is not None:
            name = function.group(1)
            if previous.strip().startswith("TableExpression"):
                if name.lower() not in TABLE_FUNCTIONS:
                    raise QueryRefused(f"Table function {name!r} is not available in HogQL queries")
            elif not function_allowed(name) and name.lower() not in _OPERATOR_FUNCTIONS:
                raise QueryRefused(f"Function {name!r} is not available in HogQL queries")
        if _AST_DATABASE_NAME.match(line):
            raise QueryRefused(
                f"{line.strip().split(' ', 1)[1]!r} is not available: a query reads only its project's tables"
            )
        table = _AST_TABLE.match(line)
        if table is not None and table.group(1) not in allowed_tables:
            raise QueryRefused(
                f"Table {table.group(1)!r} is not available: a query reads only its project's tables"
            )
        previous = line


def cte_names(sql: str) -> set[str]:
    """The CTE names a (checked) query defines."""
    return {cte.alias_or_name for cte in parse(sql).find_all(exp.CTE)}
