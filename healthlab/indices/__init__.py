"""The indices of a health score: raw metrics per account and as-of date.

Every index is written once as ibis expressions over daily rollups of the
event tables, so it runs where the data lives (DuckDB or Spark); see
:mod:`healthlab.indices.rollup` for the cost model and
:mod:`healthlab.indices.catalog` for benchmarked metrics and their mixes.
"""

from healthlab.indices.batched import read_raw_metrics, write_raw_metrics
from healthlab.indices.catalog import INDEX_MIX, METRIC_DIRECTIONS
from healthlab.indices.compute import compute_page_figures, compute_raw_metrics
from healthlab.indices.params import (
    CustomIndexParams,
    DurationParams,
    IndexParams,
    LoyaltyParams,
    NpsParams,
    PerformanceParams,
    RatingParams,
    RelationshipParams,
    RetentionParams,
)

__all__ = [
    "compute_raw_metrics",
    "write_raw_metrics",
    "read_raw_metrics",
    "compute_page_figures",
    "INDEX_MIX",
    "METRIC_DIRECTIONS",
    "IndexParams",
    "DurationParams",
    "RetentionParams",
    "PerformanceParams",
    "RatingParams",
    "LoyaltyParams",
    "NpsParams",
    "CustomIndexParams",
    "RelationshipParams",
]
