"""Reading untrusted files in short-lived child processes, so that a reader that dies cannot take
the run down with it.

python-calamine is Rust: an allocation it cannot get aborts the whole process (SIGABRT, which no
``except`` catches), and a panic surfaces as a ``BaseException``. The checks of
:mod:`~pipelines.parsing.xlsx_limits` refuse the workbooks known to do that; whatever they miss is
read here, in a forked child that:

* may grow its address space by at most :data:`READ_MEMORY_BYTES` beyond what it inherited
  (``RLIMIT_AS``: the parent's own mappings are not counted against the budget), writes no core
  file, ignores Ctrl-C (the parent decides) and keeps none of the parent's files open (no run lock
  or socket outlives the parent in an orphan);
* reads the files one after another and sends each result back (pickled) as soon as it is read,
  so when it dies the file it was reading is known, the files read before it are kept, and a new
  child carries on after it;
* is killed when one file takes over :data:`READ_TIMEOUT_S`.

A file on which a child dies twice is refused: ``too_large`` when the reader ran out of its memory
(Python's ``MemoryError``, or Rust's "memory allocation of N bytes failed" on the child's stderr),
``parser_crashed`` when it died by a signal, panicked, or timed out. One death alone (say the
kernel's OOM killer choosing the child) is retried, since a refusal lasts as long as the bytes.

Cost: one fork per batch (a few ms) plus pickling each table back (about 3 ms for a village file
of 700 rows).

**Where the children come from.** A child forked straight from a large process costs that process
more than the fork: every page of its heap is write-protected by the fork, and each page it writes
afterwards faults once, child alive or not. An ingestion worker holds a heap of ~0.8 GB and forks
once per batch, so it faulted about a million pages per Banten e-PPGBM pass (10-15 % of its CPU,
measured below). A process that reads many batches therefore starts a **spawner** while it is still
small (:func:`start_spawner`; the ingestion workers do when they start): a forked process that
only waits for requests on a socket and forks each reading child itself. The worker sends it the
reader, the jobs and the two ends the child writes to (its result pipe and stderr file, passed as
file descriptors); it gets back the child's pid, then its exit status. Everything else is as
above: the worker reads the results, enforces the timeout (killing the child by pid) and judges the
death. A reader that does not pickle (a closure), or a spawner that is gone, falls back to forking
here, for that call or for good. The spawner keeps none of its parent's sockets or files but its own
socket (inherited pipes stay open: a library's fork handlers may close theirs in each child), never
collects what it inherited, and ends (``os._exit``) when its socket closes, so it never outlives its
parent by more than the child it is waiting for.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import resource
import select
import signal
import socket
import stat
import struct
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from pipelines.parsing.cells import FileError, withheld

log = logging.getLogger(__name__)

READ_MEMORY_BYTES = 2 * 1024**3
READ_TIMEOUT_S = 120.0
ATTEMPTS = 2  # deaths before a file is refused
_HEADER = struct.Struct(">Q")
_REPLY = struct.Struct(">q")
_OUT_FD = 3  # the pipe's end in the child, once every other inherited file is closed
_ERR_TAIL = 65_536

T = TypeVar("T")
R = TypeVar("R")


def read_isolated(read: Callable[[T], R], jobs: Sequence[T], *, memory_bytes: int | None = None,
                  timeout_s: float | None = None) -> list[R | FileError]:
    """``read(job)`` for every job, in forked children (see the module docstring).

    Args:
        read: runs in the child; it reaches the child through the fork, so it need not pickle
            (its result must).
        jobs: what to read, in order.
        memory_bytes: address space a child may add (default :data:`READ_MEMORY_BYTES`).
        timeout_s: longest one job may take (default :data:`READ_TIMEOUT_S`).

    Returns:
        Per job, what ``read`` returned or the :class:`FileError` it raised or died of.
    """
    memory = READ_MEMORY_BYTES if memory_bytes is None else memory_bytes
    timeout = READ_TIMEOUT_S if timeout_s is None else timeout_s
    results: list[R | FileError] = []
    deaths = 0  # children that died on the file now first in line
    while len(results) < len(jobs):
        got, failure = _one_child(read, jobs[len(results):], memory, timeout)
        results.extend(got)
        deaths = 0 if got else deaths
        if failure is not None:
            deaths += 1
            if deaths >= ATTEMPTS:
                results.append(failure)
                deaths = 0
    return results


def _one_child(read: Callable, jobs: Sequence, memory: int, timeout: float) -> tuple[list, FileError | None]:
    """What one child read before it finished or died, and the error of the file it died on."""
    r, w = os.pipe()
    err = tempfile.TemporaryFile()
    spawner = _SPAWNER[0]
    pid = spawner.spawn(read, jobs, w, err.fileno(), memory) if spawner is not None else None
    if pid is None:
        spawner = None
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; coverage does not follow it
            _child(read, jobs, w, err.fileno(), memory)
    os.close(w)
    got: list = []
    status = None
    try:
        status = _receive(r, got, timeout)
    finally:
        os.close(r)
        if status is None:  # timed out, or this process was interrupted: the child goes too
            os.kill(pid, signal.SIGKILL)
        waited = spawner.reaped(pid) if spawner is not None else os.waitpid(pid, 0)[1]
        err.seek(0, os.SEEK_END)
        err.seek(max(0, err.tell() - _ERR_TAIL))
        stderr = err.read()
        err.close()
    if status is None:
        return got, FileError("parser_crashed", f"reading took over {timeout:g} s and was stopped")
    if len(got) == len(jobs) and os.WIFEXITED(waited) and os.WEXITSTATUS(waited) == 0:
        return got, None
    return got, _death(waited, stderr, memory)


class Spawner:
    """A small forked process that forks the reading children (see the module docstring)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the spawner; coverage does not follow it
            ours.close()
            _spawner_main(theirs)
        theirs.close()
        self.pid, self._sock = pid, ours
        self._lock = threading.Lock()  # held from a child's spawn until its status is read

    def spawn(self, read: Callable, jobs: Sequence, w: int, err: int, memory: int) -> int | None:
        """Start a child reading ``jobs`` into ``w`` (its stderr to ``err``); its pid, or None when
        this reader cannot go through the spawner (the caller then forks it)."""
        try:
            payload = pickle.dumps((read, list(jobs), memory), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - a closure or a lambda: fork here
            return None
        self._lock.acquire()
        try:
            socket.send_fds(self._sock, [_HEADER.pack(len(payload))], [w, err])
            self._sock.sendall(payload)
            pid = _REPLY.unpack(_recv_exactly(self._sock, _REPLY.size))[0]
        except OSError:
            self._lock.release()
            self._gone("it stopped answering")
            return None
        if pid < 0:  # the spawner could not load the reader (say a module it has not imported)
            self._lock.release()
            return None
        return pid

    def reaped(self, pid: int) -> int:
        """The wait status of the child ``pid`` (reaped by the spawner)."""
        try:
            return _REPLY.unpack(_recv_exactly(self._sock, _REPLY.size))[0]
        except OSError:  # the spawner is gone: so is its child's status; treat the child as killed
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            self._gone("it died while a child read")
            return signal.SIGKILL  # a wait status meaning "killed by SIGKILL"
        finally:
            self._lock.release()

    def _gone(self, why: str) -> None:
        log.warning("workbook reader spawner (pid %s): %s; forking readers from this process", self.pid, why)
        if _SPAWNER[0] is self:
            _SPAWNER[0] = None
        self.close()

    def close(self) -> None:
        """Close the socket (the spawner then exits) and reap it."""
        with contextlib.suppress(OSError):
            self._sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


_SPAWNER: list[Spawner | None] = [None]


def start_spawner() -> Spawner:
    """Fork this process's spawner now, while it is small (once; the readers of
    :func:`read_isolated` then come from it)."""
    if _SPAWNER[0] is None:
        _SPAWNER[0] = Spawner()
    return _SPAWNER[0]


def stop_spawner() -> None:
    spawner, _SPAWNER[0] = _SPAWNER[0], None
    if spawner is not None:
        spawner.close()


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionResetError("closed")
        buf += chunk
    return bytes(buf)


def _spawner_main(sock: socket.socket) -> None:  # pragma: no cover - runs in the spawner
    """Fork one reading child per request, send back its pid, then its wait status; exit when the
    socket closes (the parent closed it or died)."""
    code = 0
    try:
        # What this process inherited is never collected here: an inherited file object's finalizer
        # would close a descriptor number that a received pipe or file may now hold.
        gc.freeze()
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _close_inherited(sock.fileno())
        while True:
            try:
                head, fds, _, _ = socket.recv_fds(sock, _HEADER.size, 2)
            except OSError:
                break
            if not head:
                break
            if len(head) < _HEADER.size:
                head += _recv_exactly(sock, _HEADER.size - len(head))
            payload = _recv_exactly(sock, _HEADER.unpack(head)[0])
            w, err = fds
            try:
                read, jobs, memory = pickle.loads(payload)
            except Exception:  # noqa: BLE001 - the parent forks this one itself
                os.close(w)
                os.close(err)
                sock.sendall(_REPLY.pack(-1))
                continue
            del payload
            pid = os.fork()
            if pid == 0:
                sock.close()
                _child(read, jobs, w, err, memory)
            os.close(w)
            os.close(err)
            del read, jobs
            sock.sendall(_REPLY.pack(pid))
            sock.sendall(_REPLY.pack(os.waitpid(pid, 0)[1]))
    except BaseException:  # noqa: BLE001 - nothing of the parent's may run here
        code = 70
    finally:
        os._exit(code)


def _close_inherited(keep: int) -> None:  # pragma: no cover - runs in the spawner
    """Close the descriptors the spawner inherited (sockets, files: a run lock, a database, a Dask
    connection must not outlive their owner here), but its socket and pipes: a library's fork
    handlers may close their own pipe in every child this process forks (Arrow's signal self-pipe
    aborts the child when it finds it closed)."""
    try:
        fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        fds = list(range(3, min(resource.getrlimit(resource.RLIMIT_NOFILE)[0], 65_536)))
    for fd in fds:
        if fd < 3 or fd == keep:
            continue
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                continue
            os.close(fd)
        except OSError:
            continue


def _receive(r: int, got: list, timeout: float) -> bool | None:
    """Collect the child's results into ``got`` until it closes the pipe (True), or None when
    one result took over ``timeout`` seconds."""
    buf = bytearray()
    poll = select.poll()  # not select(): a busy process may hold descriptors past 1024
    poll.register(r, select.POLLIN)
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not poll.poll(left * 1000):
            return None
        chunk = os.read(r, 1 << 20)
        if not chunk:
            return True
        buf += chunk
        while len(buf) >= _HEADER.size and len(buf) >= _HEADER.size + _HEADER.unpack_from(buf)[0]:
            size = _HEADER.unpack_from(buf)[0]
            got.append(pickle.loads(buf[_HEADER.size:_HEADER.size + size]))
            del buf[:_HEADER.size + size]
            deadline = time.monotonic() + timeout


def _death(status: int, stderr: bytes, memory: int) -> FileError:
    limit = f"{memory / 2**20:,.0f} MB"
    if b"memory allocation of" in stderr:  # Rust's allocation failure, then abort()
        return FileError("too_large", f"reading needed more memory than the {limit} allowed")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        return FileError("parser_crashed", f"the reader died ({name})")
    return FileError("parser_crashed", f"the reader exited with status {os.WEXITSTATUS(status)}")


def _child(read: Callable, jobs: Sequence, w: int, err: int, memory: int) -> None:  # pragma: no cover
    code = 0
    try:
        gc.freeze()  # as in the spawner: no inherited file object closes a descriptor of ours
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.dup2(err, 2)
        if w != _OUT_FD:
            os.dup2(w, _OUT_FD)
        os.closerange(_OUT_FD + 1, max(resource.getrlimit(resource.RLIMIT_NOFILE)[0], w + 1, err + 1))
        _limit_memory(memory)
        with os.fdopen(_OUT_FD, "wb") as out:
            for job in jobs:
                blob = pickle.dumps(_read_one(read, job, memory), protocol=pickle.HIGHEST_PROTOCOL)
                out.write(_HEADER.pack(len(blob)) + blob)
                out.flush()
    except BaseException:  # noqa: BLE001 - the parent reads the death; nothing may run after this
        code = 70
    finally:
        os._exit(code)


def _read_one(read: Callable, job, memory: int):  # pragma: no cover - runs in the child
    try:
        return read(job)
    except FileError as exc:
        return exc
    except MemoryError:
        return FileError("too_large", f"reading needed more memory than the {memory / 2**20:,.0f} MB allowed")
    except Exception as exc:  # noqa: BLE001 - a reader bug: the file is refused, the message withheld
        return FileError("internal_error", withheld(exc))
    except BaseException as exc:  # pyo3's PanicException: the Rust reader panicked
        if type(exc).__name__ != "PanicException":
            raise
        return FileError("parser_crashed", "the reader panicked (PanicException)")


def _limit_memory(memory: int) -> None:  # pragma: no cover - runs in the child
    """Address space: what the child inherited plus ``memory``; no core file."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    try:
        with open("/proc/self/statm", "rb") as statm:
            inherited = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # not Linux: no reading of the current size, no limit
        return
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    soft = inherited + memory
    resource.setrlimit(resource.RLIMIT_AS, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
