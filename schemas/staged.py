import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from schemas.raw import FORMATS, SHA256

REGION_CODE = r"^\d{6}$"
UNIT_CLASSES = [
    "cny",
    "person",
    "household",
    "count",
    "village",
    "county",
    "percent",
    "pp",
    "permille",
    "times",
    "other",
    "measure",
    "time",
    "age",
    "code",
]


class StagedDocument(pa.DataFrameModel):
    """staged/documents: one row per readable document, boilerplate removed, Unicode normalized."""

    doc_id: pl.String = pa.Field(
        str_matches=SHA256, unique=True, description="sha256 of the raw bytes (joins raw/documents)"
    )
    source_file: pl.String = pa.Field(description="file name in the landing zone")
    arrival_date: pl.Date = pa.Field(description="partition: arrival date")
    format: pl.String = pa.Field(isin=FORMATS, description="detected source format")
    encoding: pl.String = pa.Field(nullable=True, description="encoding the text was decoded from")
    title: pl.String = pa.Field(nullable=True, description="document title")
    published_date: pl.Date = pa.Field(
        nullable=True,
        description="publication date stated by the document (front matter, 发布时间, date line)",
    )
    publisher: pl.String = pa.Field(nullable=True, description="publisher or 来源 line")
    region_code: pl.String = pa.Field(
        nullable=True,
        str_matches=REGION_CODE,
        description="GB/T 2260 code of the region the document speaks for",
    )
    region_name: pl.String = pa.Field(nullable=True, description="full official name of that region")
    text: pl.String = pa.Field(
        str_length={"min_value": 1},
        description="clean text: title line, blank line, one paragraph per line; fact offsets refer to it",
    )
    char_count: pl.Int64 = pa.Field(ge=1, description="length of `text` in characters")
    paragraph_count: pl.Int64 = pa.Field(ge=0, description="body paragraphs (table rows count as paragraphs)")

    class Config:
        strict = True

    @pa.dataframe_check
    def char_count_matches_text(cls, data: PolarsData) -> pl.LazyFrame:
        """char_count is the length of text."""
        return data.lazyframe.select(pl.col("text").str.len_chars() == pl.col("char_count"))


class StagedMention(pa.DataFrameModel):
    """staged/mentions: every number in the clean text, with its unit and value in the base unit."""

    mention_id: pl.String = pa.Field(unique=True, description="<doc_id prefix>:<char_start>")
    doc_id: pl.String = pa.Field(str_matches=SHA256, description="document the mention is in")
    arrival_date: pl.Date = pa.Field(description="partition: arrival date")
    surface: pl.String = pa.Field(
        str_length={"min_value": 1}, description="the text as written, e.g. 8.14万户"
    )
    number: pl.Float64 = pa.Field(description="the numeral as written, before any 万/亿 multiplier")
    multiplier: pl.Float64 = pa.Field(gt=0, description="千/万/亿 multiplier (1 when none)")
    unit: pl.String = pa.Field(nullable=True, description="surface unit (元, 人, 户, 个, %, …)")
    unit_class: pl.String = pa.Field(
        nullable=True,
        isin=UNIT_CLASSES,
        description="unit class: cny (yuan), person, household, count, percent, …",
    )
    value: pl.Float64 = pa.Field(
        description="number × multiplier in the base unit (yuan, persons, households, percent 0–100)"
    )
    kind: pl.String = pa.Field(
        isin=["quantity", "year", "date", "ordinal", "code"],
        description="quantity, or a number that is never an indicator value",
    )
    approximate: pl.Boolean = pa.Field(description="3万多, 120余, 近, 超过, 以上…")
    range_role: pl.String = pa.Field(
        nullable=True, isin=["low", "high"], description="end of a range such as 5000-10000万元"
    )
    char_start: pl.Int64 = pa.Field(ge=0, description="offset of the mention in staged text")
    char_end: pl.Int64 = pa.Field(ge=1, description="end offset (exclusive)")
    sentence: pl.String = pa.Field(description="the sentence containing the mention")

    class Config:
        strict = True

    @pa.dataframe_check
    def span_is_ordered(cls, data: PolarsData) -> pl.LazyFrame:
        """char_end is after char_start."""
        return data.lazyframe.select(pl.col("char_end") > pl.col("char_start"))
