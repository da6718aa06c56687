"""Publish the site atomically: render into a staging folder beside the live one, then swap it in whole.

The live site stays a plain folder (`reports/site/index.html` opens in a browser; DISPLACEMENT_SITE moves it).
On Linux the swap is one `renameat2(RENAME_EXCHANGE)` call: the live path switches from the old tree to
the new one in a single step, so a reader, or a run killed at any instant, sees either the whole old site
or the whole new one. Where that call is missing (another OS, a filesystem without it) the swap falls back
to a pair of renames (live -> site.old-PID, staging -> live) and the next publish repairs the one instant between
them: a missing live folder is restored from the newest old folder before anything else happens.

Staging and old folders are named `site.staging-PID` / `site.old-PID` beside the site (ignored by git).
Publishes are serialised by an advisory lock on the folder holding the site, and leftovers of killed runs
(staging folders, old trees) are removed under that lock.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import shutil
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def site_dir() -> Path:
    return Path(os.environ.get("DISPLACEMENT_SITE", ROOT / "reports" / "site"))


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux renameat2). False when this system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _locked(target: Path):
    """An exclusive advisory lock on the folder that holds the site (no lock file to leave behind)."""
    fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock; so does the death of the process


def _leftovers(target: Path, kind: str) -> list[Path]:
    return sorted(target.parent.glob(f"{target.name}.{kind}-*"), key=lambda p: p.stat().st_mtime)


def recover(target: Path | None = None) -> None:
    """Repair what a killed publish may have left: restore a missing live site, drop stale folders.

    Call with the publish lock held (publish_site does)."""
    target = target or site_dir()
    olds = _leftovers(target, "old")
    if not target.exists() and olds:
        os.replace(olds[-1], target)  # the last good site, moved aside by a fallback swap that did not finish
        olds = olds[:-1]
    for stale in [*olds, *_leftovers(target, "staging")]:
        shutil.rmtree(stale, ignore_errors=True)


def publish_site(con, target: Path | None = None) -> dict:
    from pipeline.site.render import build_site

    target = target or site_dir()
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target):
        recover(target)
        staging = target.with_name(f"{target.name}.staging-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        try:
            files = build_site(con, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        _fsync_dir(staging)
        if not target.exists():
            os.replace(staging, target)                     # first publish: one rename
        elif _exchange(staging, target):                    # live <-> staging in one step
            shutil.rmtree(staging, ignore_errors=True)      # staging now holds the old site
        else:
            old = target.with_name(f"{target.name}.old-{os.getpid()}")
            os.replace(target, old)                         # a kill here is repaired by recover()
            os.replace(staging, target)
            shutil.rmtree(old, ignore_errors=True)
        _fsync_dir(target.parent)
    return {"path": target, "files": len(files),
            "pages": sorted(p.name for p in target.glob("*.html"))}
