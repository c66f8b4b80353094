"""Curated tables rebuilt as one snapshot after every run: the indicator panel and two dimensions."""

import pandera.polars as pa
import polars as pl
from pandera.polars import PolarsData

from schemas.raw import SHA256
from schemas.staged import REGION_CODE
from warehouse.catalog import indicators

LEVELS = ["country", "province", "city", "county"]


class CuratedPanel(pa.DataFrameModel):
    """curated/indicator_panel: one row per (region_code, year, indicator), consolidated across documents."""

    region_code: pl.String = pa.Field(str_matches=REGION_CODE, description="GB/T 2260 code (000000: 全国)")
    region_name: pl.String = pa.Field(description="full official name of the region")
    year: pl.Int64 = pa.Field(ge=2000, le=2035, description="reference year (facts without a year stay out)")
    indicator: pl.String = pa.Field(isin=sorted(indicators()), description="catalog code")
    unit: pl.String = pa.Field(
        description="catalog unit: CNY (yuan), person, household, village, county, post, percent"
    )
    value: pl.Float64 = pa.Field(ge=0, description="the chosen value, in `unit`")
    chosen_fact_id: pl.String = pa.Field(
        description="the fact the value comes from (joins curated/indicators)"
    )
    chosen_doc_id: pl.String = pa.Field(str_matches=SHA256, description="its source document")
    rule: pl.String = pa.Field(
        description='why this fact was chosen: a value of its own before parts ("parts only" when the scope '
        "has none), exact before approximate, then the most recent publication, then the most specific source "
        "(the region's own report), then the largest value, then the smallest fact_id"
    )
    sources: pl.Int64 = pa.Field(
        ge=1, description="number of documents reporting this region, year and indicator"
    )
    conflicting_values: pl.List(pl.Float64) = pa.Field(  # type: ignore[valid-type]
        description="other values reported for the same scope, sorted: facts of role value that disagree "
        "with the chosen one (different sources, or one source giving two values); parts, range ends and "
        "change starts are not conflicts, nor an approximate figure beside an exact one; empty when none"
    )
    conflicting_fact_ids: pl.List(pl.String) = pa.Field(  # type: ignore[valid-type]
        description="the facts that give conflicting_values (their evidence is in indicators)"
    )
    fact_ids: pl.List(pl.String) = pa.Field(description="every fact behind the row")  # type: ignore[valid-type]

    class Config:
        strict = True
        unique = ["region_code", "year", "indicator"]

    @pa.dataframe_check
    def chosen_fact_is_listed(cls, data: PolarsData) -> pl.LazyFrame:
        """chosen_fact_id is one of fact_ids."""
        return data.lazyframe.select(pl.col("fact_ids").list.contains(pl.col("chosen_fact_id")))


class CuratedRegion(pa.DataFrameModel):
    """curated/regions: the gazetteer as a dimension, with every parent up to the province."""

    region_code: pl.String = pa.Field(str_matches=REGION_CODE, unique=True, description="GB/T 2260 code")
    region_name: pl.String = pa.Field(description="full official name")
    level: pl.String = pa.Field(isin=LEVELS, description="country, province, city (prefecture) or county")
    parent_code: pl.String = pa.Field(nullable=True, description="immediate parent (null for 全国)")
    city_code: pl.String = pa.Field(nullable=True, description="prefecture-level ancestor, if any")
    province_code: pl.String = pa.Field(
        nullable=True, description="province-level ancestor (itself for provinces)"
    )

    class Config:
        strict = True


class CuratedDocument(pa.DataFrameModel):
    """curated/documents: one row per source document that reached the staged layer."""

    doc_id: pl.String = pa.Field(str_matches=SHA256, unique=True, description="sha256 of the file's bytes")
    title: pl.String = pa.Field(nullable=True, description="document title")
    publisher: pl.String = pa.Field(nullable=True, description="publisher or 来源 line")
    published_date: pl.Date = pa.Field(nullable=True, description="publication date stated by the document")
    source_file: pl.String = pa.Field(description="file name in the landing zone")
    arrival_date: pl.Date = pa.Field(description="arrival partition")
    region_code: pl.String = pa.Field(nullable=True, description="region the document speaks for")
    region_name: pl.String = pa.Field(nullable=True, description="its full official name")
    facts: pl.Int64 = pa.Field(ge=0, description="facts published from the document")

    class Config:
        strict = True
