import pandera.polars as pa
import polars as pl


class QuarantineRecord(pa.DataFrameModel):
    """quarantine/<layer>/<table>: rows or whole documents that failed, each with its reason."""

    run_id: pl.String = pa.Field(description="id of the run that quarantined the record")
    layer: pl.String = pa.Field(
        isin=["raw", "staged", "curated"], description="layer the record was bound for"
    )
    table: pl.String = pa.Field(description="table the record was bound for")
    arrival_date: pl.Date = pa.Field(description="partition of the record")
    doc_id: pl.String = pa.Field(nullable=True, description="source document, when known")
    source_file: pl.String = pa.Field(nullable=True, description="source file name, when known")
    reason: pl.String = pa.Field(
        str_length={"min_value": 1}, description="why: failing check names or the document error"
    )
    record: pl.String = pa.Field(description="the rejected row as JSON (binary columns omitted)")

    class Config:
        strict = True
