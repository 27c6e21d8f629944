"""The analytic part of an SLS query (Presto dialect), rewritten for DuckDB.

sqlglot does most of the translation (json_extract_scalar, from_unixtime, date_format,
approx_distinct, arbitrary, max_by, regexp_like ...). On the same tree we apply what SLS adds to
Presto: `FROM log` is optional, unnamed columns are called `_col0`, `_col1`..., a statement
without LIMIT returns 100 rows and LIMIT stops at 1,000,000, `date_trunc` accepts unix seconds.
The statement may read only the table `log` (and its own CTEs): no other tables, files or
table functions, and nothing but a query.
"""

from __future__ import annotations

DEFAULT_LIMIT = 100
MAX_LIMIT = 1_000_000
TABLE = "log"

# Functions SLS has and neither DuckDB nor sqlglot's translation provides.
MACROS = (
    "CREATE OR REPLACE MACRO json_array_contains(j, v) AS list_contains(CAST(j AS VARCHAR[]), v)",
    "CREATE OR REPLACE MACRO url_extract_host(u) AS "
    "nullif(regexp_extract(u, '^[a-zA-Z][a-zA-Z0-9+.-]*://([^/:?#]+)', 1), '')",
    "CREATE OR REPLACE MACRO url_extract_parameter(u, p) AS "
    "nullif(regexp_extract(u, '[?&]' || p || '=([^&#]*)', 1), '')",
)


def warm_up() -> None:
    """Load the translator (about 0.1 s of Python: sqlglot and its Presto and DuckDB dialects) in
    a thread of its own, while the caller waits on something that does not hold the GIL (DuckDB
    attaching a file, say)."""
    import threading

    def load() -> None:
        import sqlglot

        sqlglot.parse_one("SELECT 1", read="presto").sql(dialect="duckdb")

    threading.Thread(target=load, name="ackaudit-sql-warm-up").start()


def translate(sql: str, source):
    """DuckDB SQL for the SLS analytic statement `sql`, reading `log` from the query `source`
    (a sqlglot expression, placed as the first CTE so every reference to `log` sees it)."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    from ackaudit.engine.errors import invalid

    try:
        statements = [s for s in sqlglot.parse(sql, read="presto") if s is not None]
    except SqlglotError as e:
        raise invalid(f"SQL syntax error: {_describe(e)}") from None
    if len(statements) != 1:
        raise invalid("the analytic statement must be exactly one SELECT")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        raise invalid(f"only SELECT statements are supported, not {tree.key.upper()}")
    if isinstance(tree, exp.Select) and tree.args.get("from_") is None:
        tree = tree.from_(TABLE)
    _check_tables(tree)
    if isinstance(tree, exp.Select):
        _name_columns(tree)
    _accept_unix_seconds(tree)
    _apply_limit(tree)

    ctes = tree.args.get("with_")
    log_cte = exp.CTE(this=source, alias=exp.TableAlias(this=exp.to_identifier(TABLE)))
    if ctes is None:
        tree.set("with_", exp.With(expressions=[log_cte]))
    else:
        ctes.set("expressions", [log_cte, *ctes.expressions])
    return tree.sql(dialect="duckdb")


def _describe(error) -> str:
    details = getattr(error, "errors", None)
    if details:
        first = details[0]
        return f"{first.get('description')} (line {first.get('line')}, column {first.get('col')})"
    return first_line(error)


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _check_tables(tree) -> None:
    from sqlglot import exp

    from ackaudit.engine.errors import invalid

    if list(tree.find_all(exp.Placeholder, exp.Parameter)):
        raise invalid("parameters ('?') are not allowed in the analytic statement")
    allowed = {TABLE} | {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        name = table.this
        if not isinstance(name, exp.Identifier) or table.args.get("db") or table.args.get("catalog"):
            raise invalid(f"unsupported table source: {table.sql(dialect='presto')}")
        if name.name.lower() not in allowed:
            raise invalid(f"table '{name.name}' does not exist; the logstore is read as '{TABLE}'")


def _name_columns(select) -> None:
    """Presto names an unaliased expression `_col<position>`; columns keep their own name."""
    from sqlglot import exp

    named = []
    for i, expression in enumerate(select.expressions):
        if isinstance(expression, (exp.Alias, exp.Column, exp.Star)):
            named.append(expression)
        else:
            named.append(exp.alias_(expression, f"_col{i}"))
    select.set("expressions", named)


def _accept_unix_seconds(tree) -> None:
    """`date_trunc(unit, __time__)`: SLS truncates unix seconds; DuckDB needs a timestamp."""
    from sqlglot import exp

    for trunc in tree.find_all(exp.TimestampTrunc, exp.DateTrunc):
        if _is_unix_seconds(trunc.this):
            trunc.this.replace(exp.UnixToTime(this=trunc.this.copy()))


def _is_unix_seconds(value) -> bool:
    """`__time__`, a number, or arithmetic on them (`__time__ - __time__ % 60`)."""
    from sqlglot import exp

    if isinstance(value, exp.Column):
        return value.name.lower() == "__time__"
    if isinstance(value, exp.Literal):
        return not value.is_string
    if isinstance(value, exp.Paren):
        return _is_unix_seconds(value.this)
    if isinstance(value, exp.Binary) and not isinstance(value, (exp.Connector, exp.Predicate)):
        return _is_unix_seconds(value.left) and _is_unix_seconds(value.right)
    return False


def _apply_limit(tree) -> None:
    from sqlglot import exp

    limit = tree.args.get("limit")
    if limit is None:
        tree.set("limit", exp.Limit(expression=exp.Literal.number(DEFAULT_LIMIT)))
        return
    count = limit.expression
    if isinstance(count, exp.Literal) and not count.is_string and int(count.this) > MAX_LIMIT:
        limit.set("expression", exp.Literal.number(MAX_LIMIT))
