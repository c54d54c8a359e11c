"""The same raw metrics on Spark as on DuckDB."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import make_world, write_world

from healthlab.engine import Source, open_source
from healthlab.indices import CustomIndexParams, IndexParams, compute_raw_metrics

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    # py4j leaves its gateway sockets for the garbage collector
    pytest.mark.filterwarnings("ignore:unclosed <socket:ResourceWarning"),
]

LABELS = ["2025-06-30", "2025-11-30"]


def spark_source(spark_session, path) -> Source:
    # read each table folder directly (Spark reads a folder of Parquet files)
    import ibis

    con = ibis.pyspark.connect(spark_session)
    tables = {
        entry.name: con.read_parquet(str(entry), table_name=f"ix_{entry.name}")
        for entry in sorted(path.iterdir())
    }
    return Source(con, tables, str(path), con.name)


def test_spark_matches_duckdb(spark_session, tmp_path):
    path = write_world(make_world(n_accounts=16, n_sessions=6000, seed=5), tmp_path)
    params = IndexParams(
        custom=[
            CustomIndexParams(name="seats", metric="seats", aggregation="last"),
            CustomIndexParams(
                name="integrations", metric="integrations", aggregation="sum"
            ),
        ]
    )
    duck = compute_raw_metrics(open_source(path), LABELS, params)
    spark = compute_raw_metrics(spark_source(spark_session, path), LABELS, params)
    assert duck["value"].notna().sum() > 200
    pd.testing.assert_frame_equal(duck, spark, rtol=1e-9, atol=1e-9)
