"""Data contracts: one pandera (polars) model per table per layer. Field descriptions carry meaning and units."""

from schemas.curated import CuratedIndicator
from schemas.quarantine import QuarantineRecord
from schemas.raw import RawDocument
from schemas.staged import StagedDocument, StagedMention

MODELS = {
    ("raw", "documents"): RawDocument,
    ("staged", "documents"): StagedDocument,
    ("staged", "mentions"): StagedMention,
    ("curated", "indicators"): CuratedIndicator,
}

__all__ = ["MODELS", "CuratedIndicator", "QuarantineRecord", "RawDocument", "StagedDocument", "StagedMention"]
