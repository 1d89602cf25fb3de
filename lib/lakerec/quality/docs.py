"""Great Expectations' own Data Docs: one static HTML site per quality run."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from great_expectations.data_context.store.store import DataDocsSiteConfigTypedDict

SITE_NAME = "lakerec"


def docs_dir(data_docs_root: str, run_date: date, layer: str, run_id: str) -> Path:
    """``<paths.data_docs>/<run date>/<layer>-<run id>``: where one run's site is built."""
    return Path(data_docs_root).resolve() / run_date.isoformat() / f"{layer}-{run_id}"


def site_config(base_directory: Path) -> DataDocsSiteConfigTypedDict:
    """A local-filesystem Data Docs site rooted at ``base_directory``.

    Notes
    -----
    GX writes through a ``TupleFilesystemStoreBackend``: the folder must be on a local (or
    mounted) file system; object storage would need GX's S3/GCS/Azure store backends.
    """
    return {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                          "base_directory": str(base_directory)},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    }


def index_html(base_directory: Path) -> Path:
    return base_directory / "index.html"
