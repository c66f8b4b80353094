import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from schemas.raw import SHA256
from schemas.staged import REGION_CODE
from warehouse.catalog import indicators, plausible_ranges

REGION_LEVELS = ("country", "province", "city", "county", "town")
UNITS = ["CNY", "person", "household", "village", "county", "post", "percent"]
FACT_ROLES = ("value", "part", "range_low", "range_high", "change_start")


class CuratedIndicator(pa.DataFrameModel):
    """curated/indicators: one row per indicator fact, traceable to the sentence it came from."""

    fact_id: pl.String = pa.Field(
        unique=True, description="stable hash of doc_id, indicator, region_code, year and value"
    )
    doc_id: pl.String = pa.Field(str_matches=SHA256, description="source document (joins staged/documents)")
    source_file: pl.String = pa.Field(description="source file name")
    arrival_date: pl.Date = pa.Field(description="partition: arrival date of the source document")
    published_date: pl.Date = pa.Field(nullable=True, description="publication date of the source document")
    indicator: pl.String = pa.Field(
        isin=sorted(indicators()), description="catalog code (warehouse/data/indicators.csv)"
    )
    value: pl.Float64 = pa.Field(
        ge=0,
        description="value in the catalog unit: yuan with 万/亿 expanded, persons, households, villages, counties, posts, percent 0–100",
    )
    unit: pl.String = pa.Field(isin=UNITS, description="catalog unit of the indicator")
    region_code: pl.String = pa.Field(
        nullable=True,
        str_matches=REGION_CODE,
        description="GB/T 2260 code of the region the fact is about (000000: 全国); for a town (region_level "
        "'town') the code of its county, null only for a town whose county the text does not name",
    )
    region_name: pl.String = pa.Field(
        description="name of the unit the fact is about: the full official name of a GB/T 2260 region "
        "(德阳市, 中江县, 甘肃省, 全国), or a town's name as written (新街镇)"
    )
    region_level: pl.String = pa.Field(
        isin=list(REGION_LEVELS),
        description="level of that unit: country, province, city (prefecture level), county (county level) or "
        "town (镇, 乡, 街道: below the GB/T 2260 codes)",
    )
    year: pl.Int64 = pa.Field(
        nullable=True,
        ge=2000,
        le=2035,
        description="reference year of the figure; null when the text does not make it clear",
    )
    evidence: pl.String = pa.Field(description="the sentence the figure was read from")
    char_start: pl.Int64 = pa.Field(ge=0, description="offset of the mention in the staged clean text")
    char_end: pl.Int64 = pa.Field(ge=1, description="end offset (exclusive) of the mention")
    mention: pl.String = pa.Field(str_length={"min_value": 1}, description="the matched text, e.g. 3.16亿元")
    approximate: pl.Boolean = pa.Field(
        description="the text gives the figure approximately (3万多名, 120余个)"
    )
    range_role: pl.String = pa.Field(
        nullable=True, isin=["low", "high"], description="end of a stated range, else null"
    )
    role: pl.String = pa.Field(
        isin=list(FACT_ROLES),
        description="how the figure relates to the others of its document: value (a figure of its own, what "
        "the panel chooses among); part (of another: a 其中 part, a category or breakdown, an allocation "
        "earmarked 用于…, one of several values a sentence lists for one region and year); range_low / "
        "range_high (an end of a stated range); change_start (A in 由A增加到B)",
    )
    part_of: pl.String = pa.Field(
        nullable=True,
        description="fact_id of the fact this one is a part, range end or change start of, when the document "
        "states it as a fact; else null",
    )
    rule: pl.String = pa.Field(description="the cue rule that named the indicator")
    extractor_version: pl.String = pa.Field(description="version of the extraction rules")

    class Config:
        strict = True

    @pa.dataframe_check
    def unit_is_catalog_unit(cls, data: PolarsData) -> pl.LazyFrame:
        """The unit is the catalog unit of the indicator code."""
        units = {code: ind.unit for code, ind in indicators().items()}
        return data.lazyframe.select(
            (pl.col("indicator").replace_strict(units, default=None) == pl.col("unit")).fill_null(False)
        )

    @pa.dataframe_check
    def value_in_plausible_range(cls, data: PolarsData) -> pl.LazyFrame:
        """Value within the code's plausible range (warehouse/data/ranges.csv)."""
        ranges = plausible_ranges()
        low = pl.col("indicator").replace_strict({k: v[0] for k, v in ranges.items()}, default=None)
        high = pl.col("indicator").replace_strict({k: v[1] for k, v in ranges.items()}, default=None)
        return data.lazyframe.select(pl.col("value").is_between(low, high).fill_null(False))

    @pa.dataframe_check
    def evidence_contains_mention(cls, data: PolarsData) -> pl.LazyFrame:
        """The evidence sentence contains the mention verbatim."""
        return data.lazyframe.select(pl.col("evidence").str.contains(pl.col("mention"), literal=True))

    @pa.dataframe_check
    def span_matches_mention(cls, data: PolarsData) -> pl.LazyFrame:
        """char_end - char_start equals the mention's length (the text itself is checked against staged/documents by the cross-table rule mention_matches_staged_text)."""
        return data.lazyframe.select(
            (pl.col("char_end") - pl.col("char_start")) == pl.col("mention").str.len_chars()
        )

    @pa.dataframe_check
    def region_code_in_gazetteer(cls, data: PolarsData) -> pl.LazyFrame:
        """A region's code exists in the gazetteer with region_name as its name and region_level as its
        level; a town's code, when given, is a county's."""
        from warehouse.regions import gazetteer

        gaz = gazetteer()
        names = pl.col("region_code").replace_strict({c: r.name for c, r in gaz.items()}, default=None)
        levels = pl.col("region_code").replace_strict({c: r.level for c, r in gaz.items()}, default=None)
        town = pl.col("region_level") == "town"
        region_ok = (names == pl.col("region_name")) & (levels == pl.col("region_level"))
        town_ok = pl.col("region_code").is_null() | (levels == "county")
        return data.lazyframe.select(pl.when(town).then(town_ok).otherwise(region_ok).fill_null(False))
