"""Reading landing files: discovery, format detection and parsing, one file at a time.

Landing folders ``<landing>/events|customers|items`` hold CSV (with a header), JSON lines or
Parquet files, at any depth. Every value is read as text: bronze keeps what landed, and
``conform`` does the typing, so a value that does not parse is quarantined rather than
silently turned into null by a reader: typed Parquet columns are rendered as text without
loss (timestamps to the microsecond, nested values as JSON). Malformed lines of CSV and JSON
files are kept in ``_corrupt_record``; a file that cannot be read at all is rejected by name
(:mod:`lakerec.ingest.ingest_step` decides what a rejection means for the run).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakerec.core.errors import InputError
from lakerec.core.lake import list_tree, path_exists
from lakerec.core.schemas import CORRUPT_RECORD

log = logging.getLogger(__name__)

FORMATS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".ndjson": "json",
           ".parquet": "parquet"}


@dataclass(frozen=True)
class LandingFile:
    path: str
    format: str
    size: int


@dataclass(frozen=True)
class RejectedFile:
    path: str
    reason: str


def format_of(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1].lower()
    if name.startswith((".", "_")) or name.endswith(".crc"):
        return None
    for suffix, fmt in FORMATS.items():
        if name.endswith(suffix) or name.endswith(suffix + ".gz"):
            return fmt
    return None


def list_files(spark: SparkSession, folder: str) -> tuple[list[LandingFile], list[str]]:
    """Data files under ``folder`` (recursively) and the paths of other files found.

    Lists through Hadoop's file system (no content is read), so the same code lists a local
    folder, HDFS or object storage, and sees zero-byte files, which Spark's sources skip.
    """
    if not path_exists(spark, folder):
        raise InputError(f"landing folder {folder} does not exist")
    files, ignored = [], []
    for path, size in list_tree(spark, folder):
        fmt = format_of(path)
        if fmt:
            files.append(LandingFile(path, fmt, size))
        else:
            ignored.append(path)
    return files, ignored


def _as_text(df: DataFrame) -> DataFrame:
    """Every column as text, without loss: timestamps to the microsecond (in the session's
    time zone, UTC), nested values as JSON (so conform sees an object, not an id)."""
    cols = []
    for field in df.schema.fields:
        if isinstance(field.dataType, T.StringType):
            cols.append(F.col(f"`{field.name}`"))
        elif isinstance(field.dataType, (T.TimestampType, T.TimestampNTZType)):
            cols.append(F.date_format(f"`{field.name}`", "yyyy-MM-dd HH:mm:ss.SSSSSS")
                        .alias(field.name))
        elif isinstance(field.dataType, (T.StructType, T.ArrayType, T.MapType)):
            cols.append(F.to_json(f"`{field.name}`").alias(field.name))
        else:
            cols.append(F.col(f"`{field.name}`").cast("string").alias(field.name))
    return df.select(*cols)


def root_cause(exc: BaseException) -> str:
    """The innermost message of a (Java) exception, on one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    causes = [line.removeprefix("Caused by: ") for line in lines if line.startswith("Caused by:")]
    message = causes[-1] if causes else (lines[0] if lines else type(exc).__name__)
    if message.startswith(("java.", "org.")):  # drop the exception class, keep the text
        message = message.split(": ", 1)[-1]
    return message[:300]


def read_file(spark: SparkSession, file: LandingFile, *, csv_delimiter: str = ",") -> DataFrame:
    """Read one landing file with every column as text.

    Raises
    ------
    InputError
        When the file cannot be parsed at all (not CSV/JSON/Parquet, empty header, ...).
    """
    if file.size == 0:
        raise InputError(f"{file.path} is empty (0 bytes)")
    try:
        if file.format == "csv":
            reader = spark.read.option("header", "true").option("sep", csv_delimiter)
            header = reader.csv(file.path).columns
            if not header:
                raise InputError(f"{file.path} has no header line")
            schema = T.StructType([T.StructField(c, T.StringType()) for c in header]
                                  + [T.StructField(CORRUPT_RECORD, T.StringType())])
            df = (reader.schema(schema).option("mode", "PERMISSIVE")
                  .option("columnNameOfCorruptRecord", CORRUPT_RECORD).csv(file.path))
        elif file.format == "json":
            df = (spark.read.option("primitivesAsString", "true").option("mode", "PERMISSIVE")
                  .option("columnNameOfCorruptRecord", CORRUPT_RECORD).json(file.path))
            if df.columns in ([], [CORRUPT_RECORD]):
                raise InputError(f"{file.path} is not JSON lines: no line parses as an object")
            df = _as_text(df)
        else:
            df = _as_text(spark.read.parquet(file.path))
    except InputError:
        raise
    except Exception as exc:  # Spark raises many kinds for unreadable files
        cause = root_cause(exc)
        hint = ("; Spark reads no nanosecond timestamps: write them in micro- or milliseconds "
                "(pandas: to_parquet(..., coerce_timestamps='us'))"
                if "TIMESTAMP(NANOS" in cause else "")
        raise InputError(f"{file.path} cannot be read as {file.format}: {cause}{hint}"
                         ) from None
    return df


def checksums(spark: SparkSession, files: Sequence[LandingFile]) -> dict[str, str]:
    """SHA-256 of each file's bytes, computed by the executors (only the digests reach the
    driver): the same content landed under another name is recognised by it."""
    sums = {f.path: hashlib.sha256(b"").hexdigest() for f in files if f.size == 0}
    content = [f.path for f in files if f.size > 0]  # Spark's sources skip empty files
    if content:
        rows = (spark.read.format("binaryFile").load(content)
                .select("path", F.sha2("content", 256).alias("sha")).collect())
        sums.update({r["path"]: r["sha"] for r in rows})
    return sums


def data_lines(spark: SparkSession, file: LandingFile) -> int:
    """Lines of a CSV or JSON-lines file that would be rows (a CSV header excluded), for the
    accounting of a rejected file; 0 for an unreadable Parquet file, which has no lines."""
    if file.format == "parquet" or file.size == 0:
        return 0
    lines = spark.read.text(file.path).where(F.trim("value") != "").count()
    return max(lines - (1 if file.format == "csv" else 0), 0)


def delimiter_hint(columns: Sequence[str], delimiter: str, required: Sequence[str]
                   ) -> str | None:
    """A hint when a CSV header read as one column splits, on another common delimiter,
    into names that include a ``required`` column."""
    columns = [c for c in columns if c != CORRUPT_RECORD]
    if len(columns) != 1:
        return None
    for candidate in (";", "\t", "|", ","):
        names = {name.strip().strip('"') for name in columns[0].split(candidate)}
        if candidate != delimiter and names & set(required):
            return (f"the header looks {candidate!r}-delimited: set ingest.csv_delimiter "
                    f"to {candidate!r}")
    return None


def read_files(spark: SparkSession, files: Sequence[LandingFile], *, csv_delimiter: str = ","
               ) -> tuple[list[tuple[LandingFile, DataFrame]], list[RejectedFile]]:
    """Read each file on its own, so one unreadable file never stops the others."""
    frames, rejected = [], []
    for file in files:
        try:
            frames.append((file, read_file(spark, file, csv_delimiter=csv_delimiter)))
        except InputError as exc:
            log.warning("skipping %s", exc)
            rejected.append(RejectedFile(file.path, str(exc)))
    return frames, rejected
