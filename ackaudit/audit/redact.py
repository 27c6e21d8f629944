"""Masking secrets in command lines before they are shown, exported or sent to a chat robot.

People type passwords on command lines (`mysql -pXXX`, `redis-cli -a XXX`, `curl -H "Authorization:
Bearer XXX"`), and the audit log keeps them. Each rule below finds the secret part of a match; the
secret is replaced by `MASK` and everything else is kept byte for byte, so the line stays readable
("what did they do?") without showing what they used to do it.

Audit command lines are argv joined by spaces: the quotes the operator typed are gone, so the rules
work both on quoted shell text and on bare words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

MASK = "******"

# A value as it follows `--password=` or `--password `: quoted (the secret is inside the quotes) or a
# bare word, which ends at whitespace, a quote or a shell separator.
_DQ = r'"(?P<secret_dq>(?:[^"\\]|\\.)*)"'
_SQ = r"'(?P<secret_sq>[^']*)'"
_BARE = r"""(?P<secret>[^\s'"&;|<>`]+)"""
_VALUE = rf"(?:{_DQ}|{_SQ}|{_BARE})"
# After a space the value must not look like the next option (`mysql --password -h db` prompts).
_NEXT_WORD = rf"(?!-){_VALUE}"

# The last word of an option or assignment name that says its value is a secret.
_SECRET_WORD = r"(?:password|passwd|pwd|secret|token|api[-_]?key|apikey)"
# Options take the same words, plus `--pass` (redis-cli) and the keytool/openssl spellings.
_OPTION_WORD = rf"(?:{_SECRET_WORD}|pass|(?:src|dest)?(?:store|key)pass)"
_AUTH_SCHEMES = r"(?:bearer|basic|digest|token|bot|negotiate|ntlm|oauth|apikey|acs|log|aws4-hmac-sha256)"

# A header value: a run of non-space characters with at least one letter or digit (so the shell's
# own punctuation is not taken for a secret), or an earlier mask (so redacting twice is a no-op).
_WORDY = r"[^\s'\"]*?[A-Za-z0-9*][^\s'\"]*"

_RULES: tuple[re.Pattern[str], ...] = tuple(re.compile(pattern, flags) for pattern, flags in (
    # Private key blocks (PEM, OpenSSH, PGP): the body goes, the armour lines stay. A body is what a
    # key's body can hold (base64, line breaks, `\n` as echo writes them, and the `Proc-Type: 4,...`
    # headers), up to the END line or the first character no key holds: a BEGIN line typed before
    # `; curl ... | sh` must not hide the commands after it.
    (r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
     r"(?P<secret>(?:[ \t]*(?:(?!-----END )[A-Za-z0-9+/=,:.-]|\\[nrt]|[\r\n]))+)", 0),
    # Credentials in a URL: scheme://user:password@host (the password may hold an unencoded '/').
    (r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'\"]*:(?P<secret>[^\s?#'\"]+)@", 0),
    # Authorization headers, with or without a scheme: `Authorization: Bearer X`, `Authorization: X`.
    (rf"(?<![\w-])(?:proxy-)?authorization:\s*(?:{_AUTH_SCHEMES}\s+)?(?P<secret>{_WORDY})", re.IGNORECASE),
    # Other secret-carrying headers and `key: value` pairs: X-Api-Key, X-Auth-Token, Cookie, password: X
    # (header syntax: no space before the colon, so `.../token :0` in a shell line is left alone).
    (rf"(?<![\w-])(?:[\w-]*{_SECRET_WORD}|cookie):\s*(?P<secret>{_WORDY})", re.IGNORECASE),
    # A bearer token anywhere (long enough not to be an English word).
    (r"(?<![\w-])bearer\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE),
    # Options: --password=X, --password X, --db-password X, --token X, --api-key X, -storepass X.
    (rf"(?<![\w-])--?(?:[A-Za-z0-9]+[-_.])*{_OPTION_WORD}(?:=|\s+(?!-)){_VALUE}", re.IGNORECASE),
    # Assignments: password=X, DB_PASSWORD=X, PGPASSWORD=X, token=X, AWS_SECRET_ACCESS_KEY=X.
    (rf"(?<![\w.-])[\w.-]*?(?:{_SECRET_WORD}|[_-]key|[_-]auth)={_VALUE}", re.IGNORECASE),
    # JSON members: {"password": "X"}.
    (rf'"[^"\s]*{_SECRET_WORD}[^"\s]*"\s*:\s*"(?P<secret>(?:[^"\\]|\\.)*)"', re.IGNORECASE),
    # Query-string signatures and keys: ?sign=X&Signature=X&key=X (tokens are assignments above).
    (r"[?&](?:sign|signature|sig|key|x-oss-signature|x-amz-signature|x-amz-credential|ossaccesskeyid)"
     r"=(?P<secret>[^\s&#'\"]+)", re.IGNORECASE),
    # Alibaba Cloud AccessKey ids, STS AccessKey ids and STS security tokens: the prefix stays.
    (r"(?<![A-Za-z0-9])LTAI(?P<secret>[A-Za-z0-9]{12,30})(?![A-Za-z0-9])", 0),
    (r"(?<![A-Za-z0-9])STS\.(?P<secret>[A-Za-z0-9]{10,})", 0),
    (r"(?<![A-Za-z0-9])CAIS(?P<secret>[A-Za-z0-9+/=]{20,})", 0),
    # JSON Web Tokens (Kubernetes service account tokens among them), wherever they appear.
    (r"(?<![\w-])(?P<secret>eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]+)", 0),
))

# Rules that only hold inside one program's arguments: `-p` is a password for mysql, a port for ssh.
# A program's arguments run from its name to the next shell separator (a lone `&` inside a URL's
# query string is not one).
_MYSQL_FAMILY = ("mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlshow", "mysqlcheck", "mysqlpump",
                 "mysqlbinlog", "mariadb", "mariadb-dump", "mariadb-admin")
_SEPARATOR = re.compile(r"[;|\n]|&&|&(?=\s|$)")


def _program(*names: str) -> re.Pattern[str]:
    """A program name as a word of its own, possibly a path (/usr/bin/mysql) or inside sh -c "..."."""
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?:^|(?<=[\s/\"'=(]))(?:{alternatives})(?=\s|$)")


_SCOPED_RULES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    # mysql -pSECRET (attached; a lone -p prompts, and -P is the port).
    (_program(*_MYSQL_FAMILY), re.compile(rf"(?<=\s)-p(?=\S){_VALUE}")),
    # redis-cli -a SECRET.
    (_program("redis-cli"), re.compile(rf"(?<=\s)-a\s+{_NEXT_WORD}")),
    # sshpass -p SECRET / -pSECRET, before the command it wraps (whose own -p is a port).
    (_program("sshpass"), re.compile(rf"\A(?:\s+-[^p\s]\S*)*\s+-p\s*{_VALUE}")),
    # curl/wget -u user:SECRET, --user user:SECRET, --proxy-user user:SECRET.
    (_program("curl", "wget"), re.compile(rf"(?<=\s)(?:-u|-U|--user|--proxy-user)(?:\s+|=)[\"']?[^\s:'\"]*:{_BARE}")),
)


def redact_text(text: str) -> str:
    """`text` with every secret replaced by `MASK`, everything else unchanged."""
    return _apply(text, _merged(_secret_spans(text)))


def redact_argv(argv: list[str]) -> list[str]:
    """An argv list with its secrets masked, read as one command line (`-p` and its value may be
    separate items)."""
    items = [str(item) for item in argv]
    line = " ".join(items)
    spans = _merged(_secret_spans(line))
    if not spans:
        return items
    out, offset = [], 0
    for item in items:
        end = offset + len(item)
        inside = [(max(a, offset) - offset, min(b, end) - offset) for a, b in spans if a < end and b > offset]
        out.append(_apply(item, inside))
        offset = end + 1
    return out


# The fields of a flat event that carry command lines, besides any field named like one.
_COMMAND_FIELDS = frozenset({"process.cmdline", "kubeObject.operation.podExecOptions.commandStr",
                             "kubeObject.operation.podExecOptions.command"})
_COMMAND_LEAVES = frozenset({"cmdline", "commandstr", "command", "args", "argv"})


def redact_event(event: dict[str, Any]) -> dict[str, Any]:
    """A copy of a flat event (`flatten_event` output) with its command lines redacted."""
    out = dict(event)
    for key, value in event.items():
        if not _carries_commands(key):
            continue
        if isinstance(value, str):
            out[key] = redact_text(value)
        elif isinstance(value, list):
            out[key] = redact_argv(value)
    return out


def _carries_commands(key: str) -> bool:
    leaf = key.rsplit(".", 1)[-1].lower()
    return key in _COMMAND_FIELDS or leaf in _COMMAND_LEAVES or "cmdline" in leaf


def _secret_spans(text: str) -> Iterator[tuple[int, int]]:
    for rule in _RULES:
        for match in rule.finditer(text):
            yield from _group_spans(match)
    for program, rule in _SCOPED_RULES:
        runs = list(program.finditer(text))
        for index, run in enumerate(runs):
            # The arguments end at a separator, or where the program is named again (that run has its own).
            limit = runs[index + 1].start() if index + 1 < len(runs) else len(text)
            separator = _SEPARATOR.search(text, run.end(), limit)
            arguments = text[run.end():separator.start() if separator else limit]
            for match in rule.finditer(arguments):
                yield from ((start + run.end(), end + run.end()) for start, end in _group_spans(match))


def _group_spans(match: re.Match[str]) -> Iterator[tuple[int, int]]:
    for name, value in match.groupdict().items():
        if name.startswith("secret") and value:
            yield match.span(name)


def _merged(spans: Iterator[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _apply(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    parts, position = [], 0
    for start, end in spans:
        parts.append(text[position:start])
        parts.append(MASK)
        position = end
    parts.append(text[position:])
    return "".join(parts)
