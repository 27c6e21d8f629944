"""Output files: what --out may name, and how a file is written (atomically, or through)."""

import os
import stat

import pytest

from ackaudit.errors import OutputError, UsageError
from ackaudit.services.files import _host_id, output_target, remove_stale_parts, staged, write_text


@pytest.fixture
def out_dir(tmp_path):
    """A directory of its own, so a file left behind there is noticed."""
    path = tmp_path / "out"
    path.mkdir()
    return path


def test_a_new_file_is_written_and_an_existing_one_kept_without_force(out_dir):
    target = out_dir / "r.md"
    assert write_text(output_target(str(target), force=False), "first\n") == 6
    assert target.read_text(encoding="utf-8") == "first\n"
    with pytest.raises(UsageError, match="already exists"):
        output_target(str(target), force=False)
    # A file that appears between the check and the write is not replaced either.
    late = out_dir / "late.md"
    checked = output_target(str(late), force=False)
    late.write_text("theirs\n", encoding="utf-8")
    with pytest.raises(UsageError, match="already exists"):
        write_text(checked, "ours\n")
    assert late.read_text(encoding="utf-8") == "theirs\n"
    write_text(output_target(str(target), force=True), "third\n")
    assert target.read_text(encoding="utf-8") == "third\n"
    assert sorted(p.name for p in out_dir.iterdir()) == ["late.md", "r.md"]


def test_a_failed_write_leaves_nothing_and_keeps_the_old_file(out_dir):
    target = out_dir / "audit.jsonl"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt), staged(output_target(str(target), force=True)) as staging:
        staging.path.write_text("half", encoding="utf-8")
        raise KeyboardInterrupt
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in out_dir.iterdir()] == ["audit.jsonl"]


def test_a_symbolic_link_is_followed_not_replaced(out_dir):
    real = out_dir / "real.md"
    real.write_text("old\n", encoding="utf-8")
    link = out_dir / "link.md"
    link.symlink_to(real)
    write_text(output_target(str(link), force=True), "new\n")
    assert link.is_symlink() and real.read_text(encoding="utf-8") == "new\n"


@pytest.mark.parametrize("where, message", [
    ("", "is a directory"), ("missing/r.md", "no such directory"), ("file.txt/r.md", "not a directory")])
def test_where_no_file_can_be_written_is_refused_before_anything_runs(out_dir, where, message):
    (out_dir / "file.txt").write_text("x")
    with pytest.raises(OutputError, match=f"(?i)cannot write .*{message}"):
        output_target(str(out_dir / where) if where else str(out_dir), force=True)


def test_proc_and_read_only_places_are_refused_up_front():
    with pytest.raises(OutputError, match="cannot write /proc/audit.jsonl"):
        output_target("/proc/audit.jsonl", force=True)
    with pytest.raises(OutputError, match="cannot write /proc/version"):
        output_target("/proc/version", force=True)


def test_a_device_is_written_through_never_replaced():
    target = output_target("/dev/null", force=True)
    assert target.path is None and target.special is not None
    assert write_text(target, "x" * 100) == 100
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    with pytest.raises(OutputError, match="cannot write /dev/full: No space left on device"):
        write_text(output_target("/dev/full", force=True), "x")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_a_fifo_is_written_through(out_dir):
    import threading

    fifo = out_dir / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text(encoding="utf-8")))
    reader.start()
    write_text(output_target(str(fifo), force=False), "through\n")
    reader.join(10)
    assert got == ["through\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)


@pytest.mark.parametrize("name", ["-", "/dev/stdout", "/proc/self/fd/1", "/dev/fd/1"])
def test_stdout_by_any_name_is_stdout(name):
    assert output_target(name, force=False).to_stdout
    assert output_target(name, force=True).path is None


def test_only_a_dead_process_s_temporary_files_of_this_target_are_removed(out_dir):
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    host, live = _host_id(), os.getpid()
    stale = [f".audit.jsonl.{gone}-{host}-0a1b2c3d.part{suffix}" for suffix in ("", ".1", ".12", ".stage.jsonl")]
    kept = [f".audit.jsonl.{live}-{host}-0a1b2c3d.part",           # a live process
            f".audit.jsonl.{gone}-ffffffff-0a1b2c3d.part",          # another machine's
            f".other.jsonl.{gone}-{host}-0a1b2c3d.part",            # another target
            f".audit.jsonl.{gone}-{host}-0a1b2c3d.part.bak",        # not a name ackaudit writes
            f".audit.jsonl.{gone}-{host}-0a1b2c3d.partial", "audit.jsonl.part"]
    for name in stale + kept:
        (out_dir / name).write_text("x", encoding="utf-8")
    (out_dir / f".audit.jsonl.{gone}-{host}-99999999.part").mkdir()          # not a file: kept
    os.symlink(out_dir / kept[0], out_dir / f".audit.jsonl.{gone}-{host}-88888888.part")   # nor a link
    removed = remove_stale_parts(out_dir / "audit.jsonl")
    assert sorted(p.name for p in removed) == sorted(stale)
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        kept + [f".audit.jsonl.{gone}-{host}-99999999.part", f".audit.jsonl.{gone}-{host}-88888888.part"])
    write_text(output_target(str(out_dir / "audit.jsonl"), force=False), "new\n")
    assert (out_dir / "audit.jsonl").read_text(encoding="utf-8") == "new\n"
