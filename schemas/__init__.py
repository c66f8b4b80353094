"""Data contracts: one pandera (polars) model per table per layer. Field descriptions carry meaning and units.
`schemas.registry` lists every table once; what the rest of the code knows about a table derives from it."""

from schemas.curated import CuratedIndicator
from schemas.quarantine import QuarantineRecord
from schemas.raw import RawDocument
from schemas.registry import LAYER_TABLES, TABLES, Table, polars_schema
from schemas.staged import StagedDocument, StagedMention

MODELS = {t.key: t.model for t in LAYER_TABLES}  # (layer, table) → model of the tables a run writes

__all__ = [
    "LAYER_TABLES",
    "MODELS",
    "TABLES",
    "CuratedIndicator",
    "QuarantineRecord",
    "RawDocument",
    "StagedDocument",
    "StagedMention",
    "Table",
    "polars_schema",
]
