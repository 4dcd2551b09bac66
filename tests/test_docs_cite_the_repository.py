"""Code and docs speak of the product: no issue numbers, no paths on a developer's machine, and every
document they cite exists in the repository: a `*.md` path from the root or beside the citing file; in a
document, a bare file name anywhere in the repository (bench results are cited by name). In code, a bare
name or a bench result may be a file the code writes, so only other paths are checked there."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = {".py", ".md", ".txt", ".toml", ".ini", ".sh", ".yml", ".yaml", ".js", ".html", ".css", ".conf", ""}
# Written with character classes so that this file does not itself name what it looks for.
ISSUE_OR_MACHINE = re.compile(r"\b[Ii]ssu[e][- ]?#?\d+|/w[o]rk/|\bnote[s]/\w+\.md|D[E]SIGN\.md")
CITED = re.compile(r"(?<![\w/.*<>-])([\w.-]+(?:/[\w.-]+)*\.md)\b")  # not a pattern such as a_<set>.md


def _tracked_text_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    return [ROOT / n for n in names if Path(n).suffix in TEXT and (ROOT / n).is_file() and "/weights/" not in n]


def _lines(path: Path):
    try:
        yield from enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
    except UnicodeDecodeError:
        return


def test_no_issue_number_or_machine_path():
    found = [f"{p.relative_to(ROOT)}:{n}: {line.strip()[:100]}" for p in _tracked_text_files()
             for n, line in _lines(p) if ISSUE_OR_MACHINE.search(line)]
    assert not found, "say what the code does, not which issue asked for it:\n" + "\n".join(found)


def _exists(doc: str, cited_in: Path, names: set[str]) -> bool:
    if "/" not in doc or (cited_in.suffix != ".md" and doc.startswith("bench/results/")):
        return cited_in.suffix != ".md" or doc in names  # code may name a result file it is about to write
    return (ROOT / doc).exists() or (cited_in.parent / doc).exists()


def test_every_cited_document_exists():
    files = _tracked_text_files()
    assert len(files) > 100, "the test is looking in the wrong place"
    names = {p.name for p in files}
    missing = [f"{p.relative_to(ROOT)}:{n} cites {doc}" for p in files for n, line in _lines(p)
               for doc in CITED.findall(line) if not _exists(doc, p, names)]
    assert not missing, "cite only documents in the repository:\n" + "\n".join(missing)
