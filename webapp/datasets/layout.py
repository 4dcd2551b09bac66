"""Which image belongs to which class: one folder per class, or a CSV of filename,label.

Class labels become folder names on the worker (the tuner uses the folder name as the class name in
its prompts), so a label must be a single, harmless folder name; we keep the human spelling.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from webapp.datasets.archive import ArchiveIndex, ByteBudget, Member
from webapp.datasets.errors import UploadRejected

MAX_LABEL_LENGTH = 100
MAX_LABEL_BYTES = 200  # file systems allow 255 bytes a name, and 100 emoji are 400 in UTF-8
# Names Windows refuses for a file or folder (with any extension), and characters it refuses in one:
# an adapter's folders and a line PC's copies of the dataset must work there too.
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}
WINDOWS_FORBIDDEN = set('<>:"|?*')
HEADER_WORDS = {"filename", "file", "path", "image", "file_name", "image_path"}


@dataclass
class Plan:
    items: list[tuple[Member, str]] = field(default_factory=list)  # (member, class label)
    skipped: list[dict] = field(default_factory=list)  # {"file", "reason"}
    warnings: list[str] = field(default_factory=list)
    empty_classes: list[str] = field(default_factory=list)
    source: str = "folders"  # or "csv"


def check_label(label: str) -> str:
    """Return the label in canonical form (NFC, as macOS and Windows zips differ) or refuse it."""
    label = unicodedata.normalize("NFC", label)
    shown = label if len(label) <= 60 else label[:57] + "..."
    if not label.strip():
        raise UploadRejected("A class name is empty. Every image needs a class name.")
    if label != label.strip():
        raise UploadRejected(f"The class name {shown!r} starts or ends with a space; remove the space.")
    if "/" in label or "\\" in label or label in (".", "..") or ".." in label:
        raise UploadRejected(
            f"The class name {shown!r} cannot be used: class names become folder names, so they may "
            "not contain '/', '\\' or '..'."
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in label):
        raise UploadRejected(f"The class name {shown!r} contains control characters; rename the class.")
    if len(label) > MAX_LABEL_LENGTH or len(label.encode()) > MAX_LABEL_BYTES:
        raise UploadRejected(f"The class name {shown!r} is too long: at most {MAX_LABEL_LENGTH} characters "
                             f"and {MAX_LABEL_BYTES} bytes (an emoji or an accented letter takes 2 to 4).")
    if WINDOWS_FORBIDDEN & set(label) or label.split(".")[0].strip().lower() in WINDOWS_RESERVED or label[-1] == ".":
        raise UploadRejected(
            f"The class name {shown!r} cannot be a folder name on Windows: rename the class (no <>:\"|?*, "
            "no CON, PRN, AUX, NUL, COM1-9 or LPT1-9, no dot at the end).")
    return label


def _check_distinct(labels: set[str]) -> None:
    """Refuse two spellings of one name, whether they differ in case or only in Unicode form (an
    accent typed on macOS (NFD) or on Windows (NFC)): many systems cannot keep them apart."""
    by_fold: dict[str, list[str]] = {}
    for label in labels:
        by_fold.setdefault(unicodedata.normalize("NFC", label).casefold(), []).append(label)
    clashes = [sorted(group) for group in by_fold.values() if len(group) > 1]
    if clashes:
        pair = " and ".join(repr(x) for x in clashes[0])
        raise UploadRejected(
            f"The classes {pair} differ only in upper/lower case or in how an accent is encoded; many "
            "systems cannot keep them apart. Merge them or rename one."
        )


def _strip_wrapper(index: ArchiveIndex) -> int:
    """How many leading folders every file shares (a zip of the folder *containing* the classes)."""
    depth = 0
    members = index.members
    while members and all(len(m.parts) > depth + 1 for m in members):
        first = {m.parts[depth] for m in members}
        if len(first) != 1 or not any(len(m.parts) > depth + 2 for m in members):
            break
        depth += 1
    return depth


def _csv_plan(zf: zipfile.ZipFile, csv_member: Member, others: list[Member], budget: ByteBudget, depth: int) -> Plan:
    plan = Plan(source="csv")
    raw = budget.read_member(zf, csv_member)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")  # Excel on Windows often saves in the local code page
    # Excel saves "CSV" with semicolons where the comma is the decimal mark: read those as they are.
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if ";" in first_line and "," not in first_line else ","
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=delimiter) if any(cell.strip() for cell in row)]
    if rows and rows[0] and rows[0][0].strip().lower() in HEADER_WORDS:
        rows = rows[1:]
    if not rows:
        raise UploadRejected(f"The CSV file {csv_member.name!r} has no rows. Each row needs: filename,label")

    csv_dir = csv_member.parts[depth:-1]
    by_path = {m.parts[depth:]: m for m in others}
    by_basename: dict[str, list[Member]] = {}
    for m in others:
        by_basename.setdefault(m.parts[-1], []).append(m)

    used: set[tuple[str, ...]] = set()
    missing, bad_rows = [], []
    for line_no, row in enumerate(rows, start=1):
        if len(row) < 2 or not row[0].strip():
            bad_rows.append(line_no)
            continue
        rel = tuple(p for p in PurePosixPath(row[0].strip().replace("\\", "/")).parts if p not in ("", "."))
        label = row[1].strip()  # checked with the folder names in plan_layout
        member = by_path.get(csv_dir + rel) or by_path.get(rel)
        if member is None and len(by_basename.get(rel[-1] if rel else "", [])) == 1:
            member = by_basename[rel[-1]][0]
        if member is None:
            missing.append(row[0].strip())
            continue
        key = member.parts
        if key in used:
            plan.warnings.append(f"{row[0].strip()!r} is listed more than once in the CSV; the first row was used.")
            continue
        used.add(key)
        plan.items.append((member, label))
    if bad_rows:
        lines = ", ".join(str(n) for n in bad_rows[:10]) + (" ..." if len(bad_rows) > 10 else "")
        plan.warnings.append(f"CSV rows without a filename and a label were ignored (rows {lines}).")
    if missing:
        names = ", ".join(repr(n) for n in missing[:10]) + (" ..." if len(missing) > 10 else "")
        plan.warnings.append(f"{len(missing)} file(s) listed in the CSV are not in the zip: {names}")
    for m in others:
        if m.parts not in used:
            plan.skipped.append({"file": m.name, "reason": "not listed in the CSV"})
    return plan


def _folder_plan(index: ArchiveIndex, depth: int) -> Plan:
    plan = Plan(source="folders")
    for m in index.members:
        rel = m.parts[depth:]
        if len(rel) < 2:
            plan.skipped.append({"file": m.name, "reason": "not inside a class folder"})
            continue
        plan.items.append((m, rel[0]))
    for d in sorted(index.empty_dirs):
        parts = tuple(d.split("/"))[depth:]
        if len(parts) == 1:
            plan.empty_classes.append(parts[0])
    return plan


def plan_layout(zf: zipfile.ZipFile, index: ArchiveIndex, budget: ByteBudget) -> Plan:
    csvs = [m for m in index.members if m.parts[-1].lower().endswith(".csv")]
    if len(csvs) > 1:
        names = ", ".join(repr(m.name) for m in csvs[:5])
        raise UploadRejected(
            f"The zip contains several CSV files ({names}). Keep only the one that lists filename,label."
        )
    depth = _strip_wrapper(index)
    if csvs:
        others = [m for m in index.members if m is not csvs[0]]
        depth = min(depth, len(csvs[0].parts) - 1)
        plan = _csv_plan(zf, csvs[0], others, budget, depth)
    else:
        plan = _folder_plan(index, depth)
    spellings = {label for _, label in plan.items} | set(plan.empty_classes)
    _check_distinct(spellings)
    plan.items = [(member, check_label(label)) for member, label in plan.items]
    labels = {label for _, label in plan.items}
    plan.empty_classes = [check_label(c) for c in plan.empty_classes if check_label(c) not in labels]
    return plan
