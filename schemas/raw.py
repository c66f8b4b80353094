import pandera.polars as pa
import polars as pl

SHA256 = r"^[0-9a-f]{64}$"
FORMATS = ["jekyll", "html", "docx", "portal_text", "word_text", "text", "unsupported"]


class RawDocument(pa.DataFrameModel):
    """raw/documents: one row per landed file, exactly as it arrived. The same bytes under several names are
    several rows with one doc_id (every arrival is kept); staged and curated hold the document once."""

    doc_id: pl.String = pa.Field(
        str_matches=SHA256,
        description="sha256 hex digest of the file's bytes (identical files share it)",
    )
    source_file: pl.String = pa.Field(
        str_length={"min_value": 1}, description="file name in the landing zone"
    )
    source_path: pl.String = pa.Field(
        unique=True, description="path relative to the landing zone root (one row per landed file)"
    )
    arrival_date: pl.Date = pa.Field(description="partition: the date folder the file arrived in")
    size_bytes: pl.Int64 = pa.Field(ge=0, description="file size in bytes")
    format: pl.String = pa.Field(
        isin=FORMATS, description="detected format (jekyll post, html page, docx, portal or Word text dump)"
    )
    encoding: pl.String = pa.Field(
        nullable=True,
        description=(
            "detected text encoding (utf-8, utf-8-sig, utf-16 with a BOM, gb18030, big5, utf-16-le/-be without"
            " a BOM); null for .docx or undecodable bytes"
        ),
    )
    content: pl.Binary = pa.Field(description="the exact original bytes")

    class Config:
        strict = True
