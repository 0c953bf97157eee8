"""A file named with ``--output``, checked before the work that fills it.

``OutputFile.open`` fails at once (``InputError``) when the file could not be written:
its directory is missing, it is a directory, it exists and ``--force`` was not given,
or nothing may be created there (tried for real: a temporary file is created next to
it, so permissions, read-only mounts and root all answer truthfully). The result is
written to that temporary file and moved into place in one step, so a failed or
interrupted export never leaves half a file, nor replaces a good one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from ctct.api.errors import InputError


class OutputFile:
    """A checked ``--output`` path with its temporary file open; ``commit`` or ``discard``."""

    def __init__(self, path: Path, temporary: Path | None, force: bool) -> None:
        self.path = path
        self._temporary = temporary
        self._force = force

    @classmethod
    def open(cls, path: Path, *, force: bool) -> OutputFile:
        if path.is_dir():
            raise InputError(f"{path} is a directory: name a file, e.g. {path / 'contacts.csv'}.")
        if path.exists() and not path.is_file():
            # A device or a pipe (``-o /dev/stdout``, ``-o >(gzip > f)``): written as it is.
            return cls(path, None, force)
        parent = path.parent
        if not parent.is_dir():
            raise InputError(
                f"Cannot write {path}: there is no directory {parent}; create it first."
            )
        if path.exists() and not force:
            raise InputError(
                f"{path} already exists: add --force to replace it, or name another file."
            )
        try:
            handle, name = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".part")
        except OSError as exc:
            raise InputError(f"Cannot write {path}: {exc.strerror or exc} (in {parent}).") from None
        os.close(handle)
        return cls(path, Path(name), force)

    def commit(self, text: str) -> None:
        """Write ``text`` and move it into place (never over a file that appeared
        meanwhile, unless ``force``)."""
        if self._temporary is None:
            with self.path.open("w", encoding="utf-8", newline="") as stream:
                stream.write(text)
            return
        try:
            with self._temporary.open("w", encoding="utf-8", newline="") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            if self._force:
                os.replace(self._temporary, self.path)
            else:
                self._link()
        except FileExistsError:
            raise InputError(
                f"{self.path} was created by someone else during the export; nothing was "
                "replaced. Rerun with --force to replace it, or name another file."
            ) from None
        except OSError as exc:
            raise InputError(f"Cannot write {self.path}: {exc.strerror or exc}.") from None

    def _link(self) -> None:
        assert self._temporary is not None
        try:
            os.link(self._temporary, self.path)  # fails if the file appeared meanwhile
        except FileExistsError:
            raise
        except OSError:
            # A file system without hard links (FAT, some network shares): check, then move.
            if self.path.exists():
                raise FileExistsError(self.path) from None
            os.replace(self._temporary, self.path)

    def discard(self) -> None:
        """Remove the temporary file (after ``commit`` too: a hard link stays)."""
        if self._temporary is None:
            return
        with contextlib.suppress(OSError):
            self._temporary.unlink()
