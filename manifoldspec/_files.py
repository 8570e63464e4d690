"""Atomic file replacement shared by every writer of results: a temporary file in the target's directory,
then a rename, so that an existing file is replaced whole or left as it was."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


def atomic_write(path, write) -> Path:
    """Call ``write(tmp_path)`` and rename the result over ``path``.

    The file gets the mode an existing ``path`` had, or what ``open(path, "w")`` would give (mkstemp's own
    mode is 0o600). On any error the temporary file is removed and ``path`` is untouched.
    """
    p = Path(path)
    if p.exists():
        mode = p.stat().st_mode & 0o777
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
