"""Write exported files safely: 0600, never through a symlink, never over a file
unless asked.

:func:`check_output_path` validates a destination up front (so a command can
refuse bad input before it does any work); :func:`write_private` writes the
bytes.  Every problem is an :class:`OutputError` whose ``str()`` is one line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


class OutputError(Exception):
    """An output file cannot be written; ``str()`` is a one-line reason."""


def check_output_path(path: str | os.PathLike[str], force: bool = False) -> Path:
    """Refuse a directory, a symlink, a missing parent or (without *force*) an existing file."""
    p = Path(path)
    if not str(path):
        raise OutputError("output path is empty")
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OutputError(f"cannot write {p}: {exc.strerror}") from None
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            raise OutputError(f"{p} is a symbolic link; refusing to write through it")
        if stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{p} is a directory; give a file name")
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{p} exists and is not a regular file")
        if not force:
            raise OutputError(f"{p} already exists; use --force to overwrite it")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError(f"{parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent} is not writable")
    return p


def write_private(path: str | os.PathLike[str], data: bytes, force: bool = False) -> Path:
    """Write *data* to *path* with mode 0600.

    Without *force* the file is created with ``O_CREAT|O_EXCL|O_NOFOLLOW``: an
    existing file or any symlink (even a dangling one) is refused.  With
    *force* an existing regular file is replaced atomically (a temporary file in
    the same directory, then ``rename``), which never follows a symlink either.
    """
    p = check_output_path(path, force)
    if not force:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(p, flags, FILE_MODE)
        except OSError as exc:
            raise OutputError(_why(p, exc)) from None
        try:
            os.fchmod(fd, FILE_MODE)
            _write_all(fd, data)
            os.fsync(fd)
        except OSError as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(p)
            raise OutputError(_why(p, exc)) from None
        os.close(fd)
        return p
    return replace_whole(p, data, FILE_MODE)


def replace_whole(p: Path, data: bytes, mode: int, suffix: str = "") -> Path:
    """Write *data* with *mode* to a temporary file beside *p* (checked already), then
    rename it over *p*: a reader sees the old file or the new one, never half of one,
    and ``rename`` replaces a path, it follows no symlink."""
    parent = p.parent if str(p.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=suffix, dir=parent)
    except OSError as exc:
        raise OutputError(_why(p, exc)) from None
    try:
        os.fchmod(fd, mode)
        _write_all(fd, data)
        os.fsync(fd)
        os.close(fd)
        fd = -1
        check_output_path(p, force=True)  # still not a symlink or directory
        os.replace(tmp, p)
    except (OSError, OutputError) as exc:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(_why(p, exc)) from None
    return p


def ensure_private_dir(path: Path, owned_below: Path | None = None) -> None:
    """Create *path* and each missing parent with mode 0700, whatever the umask
    (``mkdir -p`` would make the parents 0775 under ``umask 002``, and a later run
    would refuse them as group-writable).  *path*, and every directory between
    *owned_below* (excluded) and *path*, is tightened to 0700 when this user owns it:
    those are this program's own, made under whatever umask an earlier run had."""
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(directory, DIR_MODE)  # a umask like 0277 would leave it unusable
    ours = [path]
    if owned_below is not None and path.is_relative_to(owned_below):
        parts = path.relative_to(owned_below).parts
        ours = [owned_below.joinpath(*parts[: i + 1]) for i in range(len(parts))]
    for directory in ours:
        st = os.lstat(directory)
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
            raise OutputError(f"{directory} is not a directory")
        if st.st_uid == os.getuid() and stat.S_IMODE(st.st_mode) != DIR_MODE:
            os.chmod(directory, DIR_MODE)


def writable_by_others(st: os.stat_result) -> bool:
    """True when someone besides this user may write the file *st* describes: others,
    or a group that is not this user's private group (named as the user, no other
    members: what ``umask 002`` distributions give every user)."""
    if st.st_mode & 0o002:
        return True
    return bool(st.st_mode & 0o020) and not _private_group(st.st_gid)


def _private_group(gid: int) -> bool:
    import grp
    import pwd

    try:
        user = pwd.getpwuid(os.getuid())
        group = grp.getgrgid(gid)
    except KeyError:
        return False
    return (
        gid == user.pw_gid
        and group.gr_name == user.pw_name
        and all(member == user.pw_name for member in group.gr_mem)
    )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _why(path: Path, exc: OSError) -> str:
    if exc.errno == errno.EEXIST:
        return f"{path} already exists; use --force to overwrite it"
    if exc.errno == errno.ELOOP:
        return f"{path} is a symbolic link; refusing to write through it"
    if exc.errno == errno.EISDIR:
        return f"{path} is a directory; give a file name"
    return f"cannot write {path}: {exc.strerror or exc}"
