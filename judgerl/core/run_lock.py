"""One `judgerl run` / `judgerl stage` at a time per run_dir: an exclusive lock, `<run_dir>/.judgerl.lock`.

The lock is an `fcntl.flock` on that file, which the kernel releases when the holder exits, however
it exits; the file holds a JSON record of the holder (pid, host, command, start) for the message a
second run prints. The holder names the lock in the environment (`JUDGERL_RUN_LOCK`), so the ranks
of a launched stage (torchrun / accelerate / deepspeed around `judgerl stage ... --launched`) run
under their parent's lock instead of asking for it. A record left behind by a holder that is gone
(killed with SIGKILL, a power cut: the lock itself is free) is taken over with a warning. The file
is never deleted (a deleted lock file would let two runs lock two different files); a released lock
leaves it empty.

    with run_dir_lock(recipe.run_dir, "judgerl run recipes/quickstart.yaml"):
        ...
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from judgerl.core.errors import StageError
from judgerl.core.logging import get_logger

LOCK_NAME = ".judgerl.lock"
HOLDER_ENV = "JUDGERL_RUN_LOCK"
log = get_logger("judgerl.lock")
_held: dict[str, list[int]] = {}  # lock path -> [fd, depth]: this process's locks (re-entrant)


def lock_path(run_dir: str | os.PathLike[str]) -> Path:
    """The lock file of a run_dir (resolved, so that two spellings of one folder share one lock).

    Usage: lock_path(recipe.run_dir)
    """
    return Path(run_dir).resolve() / LOCK_NAME


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _read_record(fd: int) -> dict[str, Any]:
    """The holder record in the lock file; {} when empty, and {"unreadable": text} when torn."""
    chunks = []
    offset = 0
    while chunk := os.pread(fd, 65536, offset):
        chunks.append(chunk)
        offset += len(chunk)
    text = b"".join(chunks).decode("utf-8", errors="replace").strip()
    if not text:
        return {}
    try:
        record = json.loads(text)
    except ValueError:
        return {"unreadable": text[:200]}
    return record if isinstance(record, dict) else {"unreadable": text[:200]}


def _holder(record: dict[str, Any]) -> str:
    if "pid" not in record:
        return "an unknown process (its record in the lock file is unreadable)"
    started = f", since {record['started_at']}" if record.get("started_at") else ""
    command = f" ({record['command']})" if record.get("command") else ""
    return f"PID {record['pid']} on host {record.get('host', '?')}{command}{started}"


def _busy(path: Path, record: dict[str, Any], why: str) -> StageError:
    pid = record.get("pid")
    stop = f"stop it (kill {pid}) and rerun this command to take over" if pid else "stop it and rerun"
    return StageError(
        f"run_dir {path.parent} is in use by {_holder(record)}{why}: wait for it to finish, or {stop}; "
        f"a finished or stopped run resumes where it left off (lock file: {path})"
    )


def _check_previous(path: Path, record: dict[str, Any], flock_works: bool) -> None:
    """The lock is ours; a record left in it (a holder that did not release it) is taken over with a
    warning when its holder is gone. With working flock on this host the holder is gone (else the
    lock would be held); a holder on another host, or a live one where flock does not work, is an
    error."""
    if not record:
        return
    pid = record.get("pid")
    if record.get("host") != socket.gethostname():
        raise _busy(
            path,
            record,
            "; judgerl cannot check a process on another host: if that run is gone, delete the lock "
            "file and rerun",
        )
    if not flock_works and isinstance(pid, int) and pid != os.getpid() and _pid_alive(pid):
        raise _busy(path, record, "")
    log.warning(f"taking over the lock of {path.parent} from {_holder(record)}, which is no longer running")


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    except OSError as e:
        reason = "it is a symbolic link" if e.errno == errno.ELOOP else (e.strerror or str(e))
        raise StageError(f"cannot lock run_dir {path.parent}: {path} cannot be opened ({reason})") from None


def _acquire(path: Path, command: str) -> int:
    fd = _open(path)
    try:
        flock_works = True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            record = _read_record(fd)
            pid = record.get("pid")
            gone = record.get("host") == socket.gethostname() and isinstance(pid, int) and not _pid_alive(pid)
            why = f", which is gone, but a process it started still holds the lock (see: fuser {path})"
            raise _busy(path, record, why if gone else "") from None
        except OSError as e:  # a filesystem without flock (ENOLCK, EOPNOTSUPP): the record decides
            log.warning(f"{path}: the filesystem cannot lock files ({e.strerror}); checking its record only")
            flock_works = False
        _check_previous(path, _read_record(fd), flock_works)
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(record) + "\n").encode(), 0)
    except OSError as e:  # a full disk while writing the record
        os.close(fd)
        raise StageError(
            f"cannot lock run_dir {path.parent}: writing {path} failed ({e.strerror or e})"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    return fd


def _release(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)  # an empty file: released cleanly, nothing to take over
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def held_by_parent(run_dir: str | os.PathLike[str]) -> bool:
    """True in a process started under a holder of this run_dir's lock (a rank of a launched stage)
    while that holder still holds it.

    Usage: if not held_by_parent(recipe.run_dir): ...
    """
    path = lock_path(run_dir)
    if os.environ.get(HOLDER_ENV) != str(path) or str(path) in _held:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True  # the holder has it
    finally:
        os.close(fd)  # closing drops a shared lock taken just now
    return False


@contextlib.contextmanager
def run_dir_lock(run_dir: str | os.PathLike[str], command: str | None = None) -> Iterator[None]:
    """Hold the run_dir's exclusive lock for the block; a StageError (one line, naming the holder's PID
    and host, and how to wait or take over) when another run holds it. Re-entrant in one process;
    a no-op in a process whose parent holds it (`HOLDER_ENV`).

    Usage: with run_dir_lock(recipe.run_dir, "judgerl run quickstart"): run_recipe(recipe)
    """
    path = lock_path(run_dir)
    key = str(path)
    if key in _held:
        _held[key][1] += 1
        try:
            yield
        finally:
            _held[key][1] -= 1
        return
    if held_by_parent(run_dir):
        yield
        return
    fd = _acquire(path, command or " ".join(["judgerl", *sys.argv[1:]]))
    _held[key] = [fd, 1]
    previous_env = os.environ.get(HOLDER_ENV)
    os.environ[HOLDER_ENV] = key  # every process started from here on runs under this lock
    try:
        yield
    finally:
        del _held[key]
        if previous_env is None:
            os.environ.pop(HOLDER_ENV, None)
        else:
            os.environ[HOLDER_ENV] = previous_env
        _release(fd)
