"""The table registry (`schemas.registry`) is checked when it loads, and the rest of the code derives what
it knows about a table from it."""

import pandera.polars as pa
import polars as pl
import pytest

from schemas import MODELS, CuratedIndicator, QuarantineRecord, RawDocument, StagedDocument, registry
from schemas.registry import Reference, Table


class NoPartition(pa.DataFrameModel):
    doc_id: pl.String


@pytest.mark.parametrize(
    ("tables", "problem"),
    [
        ((Table("lake/documents", RawDocument),), "not <layer>/<name>"),
        ((Table("raw/documents", RawDocument), Table("raw/documents", RawDocument)), "listed twice"),
        ((Table("raw/x", NoPartition),), "partitioned but its model has no arrival_date"),
        (
            (Table("raw/documents", RawDocument, free_text=("body",)),),
            r"free text \['body'\] not in its model",
        ),
        (
            (
                Table("staged/documents", StagedDocument, references=(Reference("doc_id", "raw/documents"),)),
                Table("raw/documents", RawDocument),
            ),
            "refers to raw/documents, not listed before it",
        ),
        (
            (
                Table("raw/documents", RawDocument),
                Table(
                    "curated/indicators",
                    CuratedIndicator,
                    references=(Reference("fact_id", "raw/documents"),),
                ),
            ),
            "fact_id is not a column of both",
        ),
        (
            (
                Table("raw/documents", RawDocument, consumer="docs"),
                Table("staged/documents", StagedDocument, consumer="docs"),
            ),
            "consumer names repeat",
        ),
    ],
)
def test_an_unsound_registry_is_refused_naming_the_problem(tables, problem):
    with pytest.raises(ValueError, match=problem):
        registry.check(tables)


def test_what_the_code_knows_about_tables_comes_from_the_registry():
    from warehouse import dictionary, pipeline, read, snapshot, storage
    from warehouse.extract import FACT_SCHEMA
    from warehouse.validate import QUARANTINE_SCHEMA

    assert pipeline.TABLES == tuple(MODELS) == tuple(t.key for t in registry.LAYER_TABLES)
    assert read.TABLES == ("indicators", "indicator_panel", "regions", "documents")
    assert set(snapshot.SNAPSHOT_MODELS) == {"indicator_panel", "regions", "documents"}
    assert list(FACT_SCHEMA) == list(CuratedIndicator.to_schema().columns)
    assert registry.polars_schema(QuarantineRecord) == QUARANTINE_SCHEMA
    text = dictionary.dictionary_markdown()
    assert all(f"`{t.path}`" in text for t in registry.TABLES)
    assert "every `doc_id` of `staged/mentions` is in `staged/documents`" in text  # from a reference
    assert (
        storage.PARTITION == registry.PARTITION
        and registry.table("quarantine/raw/documents").model is QuarantineRecord
    )
    with pytest.raises(KeyError, match="no table 'curated/nothing'"):
        registry.table("curated/nothing")


def test_the_audit_checks_every_reference_of_the_registry():
    from warehouse import pipeline

    written = {
        ("raw", "documents"): pl.DataFrame({"doc_id": ["a"]}),
        ("staged", "documents"): pl.DataFrame({"doc_id": ["a", "b"]}),
        ("staged", "mentions"): pl.DataFrame({"doc_id": ["b", "c"]}),
        ("curated", "indicators"): pl.DataFrame({"doc_id": ["a"]}),
    }
    assert pipeline._cross_table(written) == [
        "staged/documents: 1 doc_ids not in raw/documents",
        "staged/mentions: 1 doc_ids not in staged/documents",
    ]
