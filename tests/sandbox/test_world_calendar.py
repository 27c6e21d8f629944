"""Whatever the date and hour, the seeded history holds every scenario the tests, the README and the
docs rely on, inside the last seven days (with a day to spare, so a `--since 7d` asked a while after
the world was built still sees it)."""

import json
from datetime import datetime, timedelta, timezone
from importlib import resources

import pytest

from ackaudit.sandbox.world_clusters import audited_cluster
from ackaudit.sandbox.world_history import (
    API_BEARER_TOKEN,
    IDENTITIES,
    MYSQL_PASSWORD,
    POSTGRES_URL_PASSWORD,
    REDIS_PASSWORD,
    history_rows,
)

DAY = 86400
SHANGHAI = timezone(timedelta(hours=8))
INTRUDER_UID = "2901746385019274"
CI = "system:serviceaccount:ci:deployer"
RISKY = {p["name"] for p in json.loads(
    resources.files("ackaudit.data").joinpath("risky-programs.json").read_text())["programs"]}
# A command line of each scripted session (a substring, as it appears in the log).
EVERY_SESSION = [
    f"-p{MYSQL_PASSWORD}", f"-a {REDIS_PASSWORD}", f"etl:{POSTGRES_URL_PASSWORD}@", f"Bearer {API_BEARER_TOKEN}",
    "nslookup payments-api", "rm /tmp/heapdump", "tcpdump -c 20", "grep -i timeout", "grep -i payments",
    "python manage.py shell", "celery inspect active", "pip install pandas", "pg_stat_activity", "nginx -T",
    "rm -rf .next/cache/images", "npm ls", "cat /proc/loadavg", "manage.py migrate", "grep ok",
]


def instants():
    start = datetime(2026, 11, 20, tzinfo=SHANGHAI)
    # 30 consecutive days, each at another hour and minute of the day (China Standard Time).
    days = [start + timedelta(days=n, hours=(n * 7) % 24, minutes=(n * 13) % 60) for n in range(30)]
    odd = [
        datetime(2026, 12, 2, 0, 0, 30, tzinfo=SHANGHAI),       # just after midnight in Shanghai
        datetime(2026, 12, 1, 16, 0, 30, tzinfo=timezone.utc),  # the same instant, said in UTC (+1 s)
        datetime(2026, 12, 1, 23, 59, 59, tzinfo=timezone.utc), # just before midnight UTC
        datetime(2026, 12, 7, 0, 5, tzinfo=SHANGHAI),           # a Monday, just after midnight
        datetime(2026, 12, 7, 9, 0, tzinfo=SHANGHAI),           # a Monday morning
        datetime(2026, 12, 6, 23, 55, tzinfo=SHANGHAI),         # a Sunday night
        datetime(2026, 12, 6, 12, 0, tzinfo=SHANGHAI),          # a Sunday noon
        datetime(2026, 12, 5, 3, 30, tzinfo=SHANGHAI),          # a Saturday at night
    ]
    return [d.timestamp() for d in days + odd]


@pytest.mark.parametrize("now", instants(), ids=lambda t: datetime.fromtimestamp(t, SHANGHAI).strftime("%a-%m%d-%H%M"))
def test_every_scenario_is_in_the_last_seven_days(now):
    rows = history_rows(audited_cluster(now, list(IDENTITIES)), seed=1, now=now)
    assert all(now - 7 * DAY <= r["__time__"] < now for r in rows)
    # `query` without --since looks at the last 24 hours: never empty, whatever the day and hour.
    assert any(r["__time__"] >= now - DAY + 3600 for r in rows)
    recent = [r for r in rows if r["__time__"] >= now - 6 * DAY]
    commands = [(json.loads(r["k8s"])["user"]["username"], json.loads(r["process"])) for r in recent
                if r["kind"] == "Command"]
    cmdlines = [p["cmdline"] for _, p in commands]
    missing = [s for s in EVERY_SESSION if not any(s in c for c in cmdlines)]
    assert not missing, f"no session with {missing}"
    assert "env" in cmdlines                                  # `kubectl exec ... -- env`
    assert any(c.startswith("mysql ") and f"-p{MYSQL_PASSWORD}" in c for c in cmdlines)
    assert any(c.startswith("redis-cli ") for c in cmdlines) and any(c.startswith("psql ") for c in cmdlines)
    # The intrusion: one session, at night in Shanghai, with the host escape.
    intruder = [r for r in recent if json.loads(r["k8s"])["user"]["username"] == INTRUDER_UID]
    assert len({r["traceId"] for r in intruder}) == 1
    assert datetime.fromtimestamp(intruder[0]["__time__"], SHANGHAI).hour == 3
    assert any(p["cmdline"] == "nsenter -t 1 -m -u -i -n sh" for u, p in commands if u == INTRUDER_UID)
    # CI runs on weekdays; every seven days hold at least five weekdays' deploys.
    ci_sessions = {r["traceId"] for r in rows if r["kind"] == "Kubernetes"
                   and json.loads(r["k8s"])["user"]["username"] == CI}
    assert len(ci_sessions) >= 8
    risky = {p["name"] for _, p in commands} & RISKY
    assert len(risky) >= 8 and {"rm", "curl", "wget", "nsenter", "mysql", "redis-cli", "pip"} <= risky
