"""Reading an uploaded zip safely: every check that can be made from the zip directory, before any
member is decompressed, and a reader that counts the bytes it actually inflates.

Nothing here writes a file. Member names are only ever used as labels and report entries, never as
paths on a disk, so a hostile name cannot place a file anywhere; we still reject such archives
outright, because an archive built to escape is not a dataset anyone meant to upload.
"""

from __future__ import annotations

import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO

from webapp.datasets.errors import UploadRejected, human_bytes

# Files that operating systems and zip tools add on their own; nobody wants them listed.
JUNK_NAMES = {".ds_store", "thumbs.db", "desktop.ini", ".localized"}
JUNK_DIRS = {"__macosx", ".git", ".svn"}
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the end record of an empty zip


@dataclass
class Member:
    """One regular file inside the archive, with its name cleaned into path parts."""

    info: zipfile.ZipInfo
    parts: tuple[str, ...]

    @property
    def name(self) -> str:
        return "/".join(self.parts)


@dataclass
class ArchiveIndex:
    members: list[Member] = field(default_factory=list)
    empty_dirs: set[str] = field(default_factory=set)
    declared_bytes: int = 0


def _declared_entries(fileobj: BinaryIO) -> int | None:
    """The entry count in the end-of-directory record, read before zipfile builds its (unbounded)
    in-memory list of entries: a small upload can declare millions of them."""
    try:
        record = zipfile._EndRecData(fileobj)  # stable since Python 2; private, hence the fallback
    except Exception:
        return None
    fileobj.seek(0)
    return int(record[zipfile._ECD_ENTRIES_TOTAL]) if record else None


def open_zip(fileobj: BinaryIO, *, max_files: int | None = None) -> zipfile.ZipFile:
    """Open the upload as a zip, telling "this is not a zip at all" apart from "a damaged zip"."""
    fileobj.seek(0)
    head = fileobj.read(4)
    fileobj.seek(0)
    declared = _declared_entries(fileobj) if max_files else None
    # Folders and OS junk are entries too: allow twice the file limit before even listing them.
    if declared is not None and declared > 2 * max_files + 100:
        raise UploadRejected(
            f"The zip contains {declared:,} entries, far more than the {max_files:,} files one dataset may "
            "have. Split it into smaller datasets or leave out images you do not need."
        )
    try:
        return zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        if head not in ZIP_MAGIC:
            raise UploadRejected(
                "This file is not a zip archive. Put one folder per class (or the images and a "
                "filename,label CSV) into a .zip file and upload that."
            ) from exc
        raise UploadRejected(
            "The zip archive is damaged (it may have been cut short while copying or uploading). "
            "Create the zip again and upload it once more."
        ) from exc


def _is_junk(parts: tuple[str, ...]) -> bool:
    lowered = [p.lower() for p in parts]
    return (
        any(p in JUNK_DIRS for p in lowered[:-1])
        or lowered[-1] in JUNK_NAMES
        # hidden files and folders: macOS resource forks (._x), .ipynb_checkpoints, editor files
        or any(p.startswith(".") for p in parts)
    )


def _clean_parts(raw_name: str) -> tuple[str, ...]:
    """Split a member name into parts; reject names that point outside the archive's own folder."""
    name = raw_name.replace("\\", "/")
    shown = raw_name if len(raw_name) <= 120 else raw_name[:117] + "..."
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise UploadRejected(
            f"The zip contains a file with an absolute path ({shown!r}). Archives must only contain "
            "relative paths; create the zip from inside the dataset folder."
        )
    parts = tuple(p for p in PurePosixPath(name).parts if p not in ("", "."))
    if ".." in parts:
        raise UploadRejected(
            f"The zip contains a path that points outside the archive ({shown!r}). This is how "
            "malicious archives overwrite files, so the upload was refused."
        )
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise UploadRejected(f"The zip contains a file name with control characters ({shown!r}); rename it.")
    return parts


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    unix_mode = info.external_attr >> 16
    return info.create_system == 3 and stat.S_ISLNK(unix_mode)


def index_archive(zf: zipfile.ZipFile, *, max_files: int, max_uncompressed_bytes: int) -> ArchiveIndex:
    """All checks that the zip directory allows, before a single byte is decompressed."""
    index = ArchiveIndex()
    for info in zf.infolist():
        parts = _clean_parts(info.filename)
        if not parts or _is_junk(parts):
            continue
        if _is_symlink(info):
            raise UploadRejected(
                f"The zip contains a symbolic link ({info.filename!r}). Links can point anywhere on "
                "a machine, so archives with links are refused: zip the real image files instead."
            )
        if info.flag_bits & 0x1:
            raise UploadRejected(
                f"The zip is password-protected ({info.filename!r} is encrypted). Upload a zip without a password."
            )
        if info.is_dir():
            index.empty_dirs.add("/".join(parts))
            continue
        index.members.append(Member(info=info, parts=parts))
        index.declared_bytes += info.file_size
        if len(index.members) > max_files:
            raise UploadRejected(
                f"The zip contains more than {max_files:,} files, the most one dataset may have. "
                "Split it into smaller datasets or leave out images you do not need."
            )
        if index.declared_bytes > max_uncompressed_bytes:
            raise UploadRejected(
                f"Unpacked, the zip would take more than {human_bytes(max_uncompressed_bytes)}, the "
                "most one dataset may take. Upload fewer or smaller images."
            )
    # A folder that holds files is not empty: keep only the truly empty ones (possible empty classes).
    for member in index.members:
        for depth in range(1, len(member.parts)):
            index.empty_dirs.discard("/".join(member.parts[:depth]))
    return index


class MemberTooLarge(UploadRejected):
    """One file is larger than any file of a dataset may be; the caller keeps that file out."""


class ByteBudget:
    """Counts the bytes really inflated across the whole archive (headers can lie about sizes), and
    stops reading any one member at `member_limit`: a 1 MB zip can hold a 1 GiB file of zeros."""

    def __init__(self, limit: int, member_limit: int):
        self.limit = limit
        self.member_limit = member_limit
        self.used = 0

    def _too_large(self, member: Member) -> MemberTooLarge:
        return MemberTooLarge(f"{member.name!r} unpacks to more than {human_bytes(self.member_limit)}, the most "
                              "one file of a dataset may take")

    def read_member(self, zf: zipfile.ZipFile, member: Member, *, chunk: int = 1 << 20) -> bytes:
        if member.info.file_size > self.member_limit:
            raise self._too_large(member)
        pieces, size = [], 0
        try:
            with zf.open(member.info) as stream:
                while True:
                    block = stream.read(chunk)
                    if not block:
                        break
                    size += len(block)
                    if size > self.member_limit:
                        raise self._too_large(member)
                    self.used += len(block)
                    if self.used > self.limit:
                        raise UploadRejected(
                            f"Unpacked, the zip holds more than {human_bytes(self.limit)} (more than "
                            "its directory claims), the most one dataset may take. The upload was refused."
                        )
                    pieces.append(block)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
                NotImplementedError) as exc:
            raise UploadRejected(
                f"The zip archive is damaged: {member.name!r} cannot be unpacked ({_short(exc)}). "
                "Create the zip again and upload it once more."
            ) from exc
        return b"".join(pieces)


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 80 else text[:77] + "..."
