"""Stages uploaded files safely (size caps, gzip, encodings) and detects their dialect, column names and kinds."""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import os
import re
import time
import weakref
import zlib
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

from core.errors import CsvUnreadable, FileRefused
from core.store.workspace import Workspace, new_id

MAX_COLUMNS = 2000
MAX_UPLOAD_BYTES = int(float(os.environ.get("WORKBENCH_MAX_UPLOAD_MB", "1200")) * 1024 * 1024)
MAX_INFLATED_BYTES = int(float(os.environ.get("WORKBENCH_MAX_INFLATED_MB", "2048")) * 1024 * 1024)
MAX_STAGING_BYTES = int(float(os.environ.get("WORKBENCH_MAX_STAGING_MB", "3072")) * 1024 * 1024)
STAGING_MAX_AGE_S = 3600.0  # an upload not loaded within an hour is deleted (sooner: when its session ends)
MAX_INFLATE_RATIO = 40  # real CSVs gzip 5-15x; a bomb inflates 100-1000x: stop long before the disk fills
SAMPLE_BYTES = 256 * 1024
_CHUNK = 4 * 1024 * 1024
_SCAN_CHUNK = 1024 * 1024
_DELIMS = (",", ";", "\t", "|")


@dataclass(frozen=True)
class StagedFile:
    """An uploaded file written to the staging folder, already inflated and converted to UTF-8 where needed."""

    path: Path
    original_name: str
    fmt: str  # csv | parquet | xlsx
    size_bytes: int  # as uploaded
    digest: str | Future  # SHA-256 of the bytes as uploaded; a Future while stage_path hashes beside the preview
    encoding: str  # as detected: utf-8, utf-8-sig, utf-16, cp1252
    compressed: bool = False
    owned: bool = True  # the staging copy belongs to us and is deleted after loading

    @property
    def sha256(self) -> str:
        """The SHA-256 of the bytes as uploaded (waits for the hashing thread of stage_path when it is still busy)."""
        return self.digest if isinstance(self.digest, str) else self.digest.result()

    def discard(self) -> None:
        if self.owned:
            self.path.unlink(missing_ok=True)


UPLOAD_TYPES = ("csv", "tsv", "txt", "gz", "parquet", "xlsx")


def upload_name(name: object) -> str:
    """Returns an uploaded file's name as the browser sent it, made safe to show and store: no NUL or control
    characters, no folder part, at most 200 characters (a forged name can hold anything).

    Raises: FileRefused (no usable name, or an extension the Data page does not read).
    """
    text = "".join(ch for ch in str(name or "") if ch.isprintable())
    text = text.replace("\\", "/").rsplit("/", 1)[-1].strip()[:200]
    if not text:
        raise FileRefused("The uploaded file has no usable name. Rename it, e.g. 'sales.csv', and upload it again.")
    ext = text.rsplit(".", 1)[-1].lower() if "." in text else ""
    if ext not in UPLOAD_TYPES:
        raise FileRefused(f"{text!r} is not a file the workbench reads ({', '.join('.' + t for t in UPLOAD_TYPES)}). "
                          "Export the data as CSV, Parquet or Excel (.xlsx) and upload that.")
    return text


# -- staging ------------------------------------------------------------------------------------------------------------
def sweep_staging(folder: Path, max_age_s: float = STAGING_MAX_AGE_S) -> int:
    """Deletes staged uploads older than `max_age_s` (never loaded: abandoned, or left by a crash); returns how many."""
    cutoff, removed = time.time() - max_age_s, 0
    for p in Path(folder).iterdir() if Path(folder).is_dir() else ():
        try:
            if p.is_file() and p.stat().st_mtime < cutoff:
                p.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def staged_bytes(folder: Path) -> int:
    """Bytes the staging folder holds now."""
    total = 0
    for p in Path(folder).iterdir() if Path(folder).is_dir() else ():
        try:
            total += p.stat().st_size if p.is_file() else 0
        except OSError:
            pass
    return total


class UploadLease:
    """Ties a staged upload to one browser session: its files go when the upload is replaced or cleared, when the
    session ends (the lease, kept in the session's state, is collected with it), or after an hour at the latest."""

    def __init__(self, staged: StagedFile):
        self.path = staged.path
        self._finalizer = weakref.finalize(self, _delete_owned, staged.path if staged.owned else None)

    def discard(self) -> None:
        self._finalizer()

    @property
    def is_alive(self) -> bool:
        return self._finalizer.alive


def _delete_owned(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def stage_upload(ws: Workspace, data: bytes | BinaryIO, filename: str) -> StagedFile:
    """Writes an upload to the staging folder, inflating gzip with a byte cap and converting text to UTF-8.

    Uploads older than an hour are swept first, and all staged uploads together may hold MAX_STAGING_BYTES.
    Raises: FileRefused (empty, too large, staging full, gzip bomb), CsvUnreadable (truncated gzip, binary data).
    """
    stream = io.BytesIO(data) if isinstance(data, (bytes, bytearray)) else data
    sweep_staging(ws.staging)
    room = MAX_STAGING_BYTES - staged_bytes(ws.staging)
    raw_path = ws.staging / f"{new_id('up')}.raw"
    scan = _Scan()
    with open(raw_path, "wb") as out:
        while chunk := stream.read(_CHUNK):
            if scan.size + len(chunk) > MAX_UPLOAD_BYTES:
                out.close()
                raw_path.unlink(missing_ok=True)
                raise FileRefused(f"{filename!r} is larger than the {MAX_UPLOAD_BYTES // 2**20:,} MB limit. "
                                  "Split it into smaller files, or upload a gzipped or Parquet copy.")
            if scan.size + len(chunk) > room:
                out.close()
                raw_path.unlink(missing_ok=True)
                raise FileRefused(f"Uploads waiting to be loaded already fill the staging area "
                                  f"({MAX_STAGING_BYTES // 2**20:,} MB on this server), so {filename!r} was not "
                                  "taken. Load or clear the uploads open in other tabs, or try again within an hour, "
                                  "when abandoned uploads are removed.")
            scan.feed(chunk)
            out.write(chunk)
    try:
        return _prepare(raw_path, filename, scan.size, scan.sha256(), owned=True, is_utf8=scan.is_utf8())
    except BaseException:
        raw_path.unlink(missing_ok=True)
        raise


def stage_path(path: Path, filename: str | None = None) -> StagedFile:
    """Prepares a file already on disk (CLI, samples) without copying it unless it must be converted."""
    path = Path(path)
    if not path.is_file():
        raise FileRefused(f"There is no file at {str(path)!r}. Check the path.")
    # The SHA-256 is only needed when loading (the duplicate check), so a thread computes it while the preview reads
    # the file's first rows: hashlib and file reads release the GIL, so it costs no wall time where a core is free.
    digest = _HASHER.submit(_file_sha256, path)
    scan = _Scan(hashing=False)
    buf = bytearray(_SCAN_CHUNK)  # one buffer read into again and again: no 4 MB bytes object (and page faults) per chunk
    view = memoryview(buf)
    try:
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(view):
                scan.feed(buf if n == len(buf) else buf[:n])
        return _prepare(path, filename or path.name, scan.size, digest, owned=False, is_utf8=scan.is_utf8())
    except BaseException:
        digest.cancel()
        raise


_HASHER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="wb-hash")


def _file_sha256(path: Path) -> str:
    try:
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256")  # reads into one reused buffer, the GIL released
    except OSError as err:
        raise FileRefused(f"{path.name!r} could not be read to the end ({err.strerror or err}). Check the file and "
                          "load it again.") from None
    return digest.hexdigest()


class _Scan:
    """One pass over a file's bytes: size, SHA-256 (unless `hashing` is off), and whether it is valid UTF-8."""

    def __init__(self, hashing: bool = True) -> None:
        self.size = 0
        self._digest = hashlib.sha256() if hashing else None
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._utf8: bool | None = None

    def feed(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self._digest is not None:
            self._digest.update(chunk)
        # ASCII is valid UTF-8 and checks ten times faster; only decode chunks with other bytes (and a chunk that
        # follows one ending in the middle of a multi-byte character, which the decoder still holds).
        if self._utf8 is None and not (chunk.isascii() and not self._decoder.getstate()[0]):
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError:
                self._utf8 = False

    def sha256(self) -> str:
        return self._digest.hexdigest()

    def is_utf8(self) -> bool:
        if self._utf8 is None:
            try:
                self._decoder.decode(b"", final=True)
                self._utf8 = True
            except UnicodeDecodeError:
                self._utf8 = False
        return self._utf8


def _prepare(path: Path, filename: str, size: int, sha: str | Future, owned: bool,
             is_utf8: bool | None = None) -> StagedFile:
    if size == 0:
        raise FileRefused(f"{filename!r} is empty (0 bytes). Export the data again and upload the new file.")
    head = _head(path, 8)
    if head.startswith(b"\x1f\x8b"):
        inflated = _inflate(path, filename, size)
        if owned:
            path.unlink(missing_ok=True)
        inner = _prepare(inflated, filename, size, sha, owned=True)
        return replace(inner, compressed=True)
    if head.startswith(b"PAR1"):
        return StagedFile(path, filename, "parquet", size, sha, "binary", owned=owned)
    if head.startswith(b"PK\x03\x04"):
        return StagedFile(path, filename, "xlsx", size, sha, "binary", owned=owned)
    encoding, converted = _to_utf8(path, filename, is_utf8)
    if converted is not None:
        if owned:
            path.unlink(missing_ok=True)
        return StagedFile(converted, filename, "csv", size, sha, encoding, owned=True)
    return StagedFile(path, filename, "csv", size, sha, encoding, owned=owned)


def _head(path: Path, n: int) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(n)


def _inflate(path: Path, filename: str, size: int) -> Path:
    cap = min(MAX_INFLATED_BYTES, max(256 * 2**20, MAX_INFLATE_RATIO * size))
    out_path = path.with_name(new_id("gz") + ".csv")
    total = 0
    try:
        with gzip.open(path, "rb") as src, open(out_path, "wb") as out:
            while chunk := src.read(_CHUNK):
                total += len(chunk)
                if total > cap:
                    raise FileRefused(
                        f"{filename!r} inflates to more than {cap // 2**20:,} MB from {max(size // 2**20, 1):,} MB "
                        "compressed, which is beyond what this workspace accepts. Upload a smaller extract.")
                out.write(chunk)
    except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as err:
        out_path.unlink(missing_ok=True)
        raise CsvUnreadable(f"{filename!r} is a damaged or truncated gzip file ({type(err).__name__}). "
                            "Compress the original again, or upload it uncompressed.") from None
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    if total == 0:
        out_path.unlink(missing_ok=True)
        raise FileRefused(f"{filename!r} is a gzip file with nothing inside. Export the data again.")
    return out_path


def _to_utf8(path: Path, filename: str, is_utf8: bool | None = None) -> tuple[str, Path | None]:
    """Returns the detected encoding and, when the file is not plain UTF-8, a converted UTF-8 copy."""
    head = _head(path, SAMPLE_BYTES)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", _transcode(path, "utf-16")
    if b"\x00" in head[:8192]:
        raise CsvUnreadable(f"{filename!r} looks like a binary file, not a table of text. "
                            "Upload a CSV, gzipped CSV, Parquet or Excel (.xlsx) file.")
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", None  # DuckDB skips a UTF-8 byte-order mark itself
    if is_utf8 if is_utf8 is not None else _is_utf8(path):
        return "utf-8", None
    text = head.decode("cp1252", errors="replace")
    if sum(ch.isprintable() or ch in "\r\n\t" for ch in text) < 0.9 * max(len(text), 1):
        raise CsvUnreadable(f"{filename!r} looks like a binary file, not a table of text. "
                            "Upload a CSV, gzipped CSV, Parquet or Excel (.xlsx) file.")
    return "cp1252", _transcode(path, "cp1252")


def _is_utf8(path: Path) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
        return True
    except UnicodeDecodeError:
        return False


def _transcode(path: Path, encoding: str) -> Path:
    out_path = path.with_name(new_id("u8") + ".csv")
    # cp1252 leaves five bytes undefined; map them like Latin-1 instead of failing on them.
    errors = "strict" if encoding == "utf-16" else "replace"
    decoder = codecs.getincrementaldecoder(encoding)(errors=errors)
    try:
        with open(path, "rb") as src, open(out_path, "w", encoding="utf-8", newline="") as out:
            while chunk := src.read(_CHUNK):
                out.write(decoder.decode(chunk))
            out.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as err:
        out_path.unlink(missing_ok=True)
        raise CsvUnreadable(f"The file is not valid {encoding.upper()} text near byte {err.start:,}. "
                            "Save it again as UTF-8 CSV and upload that.") from None
    return out_path


# -- dialect, names and kinds ------------------------------------------------------------------------------------------
def sample_lines(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    text = head.decode("utf-8-sig", errors="replace")
    if len(head) == SAMPLE_BYTES and "\n" in text:
        text = text[: text.rfind("\n")]
    return text.splitlines()


def detect_delimiter(lines: list[str]) -> str:
    """Chooses the delimiter whose field count is most consistent across the sample lines (ties: more fields)."""
    lines = [ln for ln in lines if ln.strip()][:200]
    best, best_score = ",", (-1.0, 0)
    for delim in _DELIMS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delim, quotechar='"')]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        score = (counts.count(mode) / len(counts), mode)
        if score > best_score:
            best, best_score = delim, score
    return best


def clean_column_names(names: list[str]) -> list[str]:
    """Trims names, fills blanks as column_<n>, and suffixes duplicates (_2, _3; DuckDB ignores case)."""
    out, taken = [], {"_row"}
    for i, raw in enumerate(names, start=1):
        base = " ".join(str(raw).replace("\x00", "").split()) or f"column_{i}"
        name, n = base, 2
        while name.lower() in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name.lower())
        out.append(name)
    return out


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


def has_decimal_commas(lines: list[str], delim: str) -> bool:
    if delim == ",":
        return False
    rows = list(csv.reader(lines[1:200], delimiter=delim, quotechar='"'))
    cells = [c.strip() for r in rows for c in r if c.strip()]
    return bool(cells) and sum(bool(_DECIMAL_COMMA.match(c)) for c in cells) >= 0.1 * len(cells)
