"""csrules.spark: a Spark DataFrame decided on local executors equals decide_frame row by row.

Skipped when pyspark is not installed, unless ``CSRULES_REQUIRE_SPARK=1``
(set by ``.ci/run``), which makes a missing pyspark or Java a failure.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import csrules
from csrules import spark as csrules_spark
from csrules.exceptions import ArgumentTypeError, MissingDependencyError, StreamError

ROOT = Path(__file__).resolve().parent.parent
REQUIRED = os.environ.get("CSRULES_REQUIRE_SPARK") == "1"


def _need(module: str) -> Any:
    """Import ``module``; skip the test without it unless Spark is required."""
    if REQUIRED:
        return __import__(module)
    return pytest.importorskip(module)


def _java_home() -> str | None:
    """JAVA_HOME as set, else the JDK of the ``java`` on PATH, else a JDK 17 under /usr/lib/jvm."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java is not None:
        return str(Path(java).resolve().parent.parent)
    for home in sorted(Path("/usr/lib/jvm").glob("*17*")):
        if (home / "bin" / "java").exists():
            return str(home)
    return None


def _generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", ROOT / "examples" / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate", module)
    spec.loader.exec_module(module)
    return module


# ------------------------------------------------------------------ without Spark


class TestRefusals:
    def test_complaints_are_refused_with_the_reason(self) -> None:
        """Complaint streams are not distributed: the error says why and what to use instead."""
        with pytest.raises(StreamError) as caught:
            csrules_spark.decide(object(), "b2c", kind="complaint")  # type: ignore[arg-type]
        message = str(caught.value)
        assert "'complaint'" in message
        assert "one monitor" in message
        assert "csrules batch" in message
        assert "decide_frame" in message

    def test_a_missing_pyspark_is_one_csrules_error_saying_what_to_install(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """With pyspark not importable, decide raises MissingDependencyError (an ImportError)."""
        monkeypatch.setitem(sys.modules, "pyspark", None)
        with pytest.raises(MissingDependencyError, match=r"pip install 'csrules\[spark\]'"):
            csrules_spark.decide(object(), "b2c", kind="return")  # type: ignore[arg-type]
        with pytest.raises(ImportError):
            csrules_spark.decide(object(), "b2c", kind="return")  # type: ignore[arg-type]

    def test_kind_must_be_a_string(self) -> None:
        with pytest.raises(ArgumentTypeError, match="'kind'"):
            csrules_spark.decide(object(), "b2c", kind=1)  # type: ignore[arg-type]


# ------------------------------------------------------------------ with Spark


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    """A local Spark session on two cores, stopped after the module."""
    _need("pyspark")
    _need("pyarrow")
    home = _java_home()
    if home is None:
        if REQUIRED:
            pytest.fail("CSRULES_REQUIRE_SPARK=1 but no Java runtime found (set JAVA_HOME)")
        pytest.skip("no Java runtime for Spark (set JAVA_HOME)")
    os.environ["JAVA_HOME"] = home
    # executors run this interpreter, where csrules is installed
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("csrules-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "512m")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "700")
        # split a Parquet file of a few hundred KB into several partitions,
        # in file order (no shuffle)
        .config("spark.sql.files.maxPartitionBytes", "65536")
        .config("spark.sql.files.openCostInBytes", "0")
        .config("spark.log.level", "ERROR")
        .getOrCreate()
    )
    try:
        yield session
    finally:
        session.stop()


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Generated Parquet files: 5,000 returns, 300 promotions, 300 price adjustments, and
    another 500 returns."""
    _need("pyarrow")
    generate = _generate()
    out = tmp_path_factory.mktemp("spark-cases")
    paths = {}
    for kind, rows, seed in (
        ("return", 5000, 21),
        ("promotion", 300, 22),
        ("price_adjustment", 300, 23),
        ("return-small", 500, 24),
    ):
        path = out / f"{kind}.parquet"
        status = generate.main(
            [str(path), "--kind", kind.split("-")[0], "--rows", str(rows), "--seed", str(seed),
             "--chunk-rows", "1000", "--no-progress"],
            out=io.StringIO(),
            err=sys.stderr,
        )
        assert status == 0
        paths[kind] = path
    return paths


def _spark_result(spark: Any, frame: Any, tmp: Path) -> Any:
    """A Spark result as an Arrow table, through Parquet (types kept, no pandas needed)."""
    import pyarrow.parquet as pq

    frame.write.mode("overwrite").parquet(str(tmp))
    return pq.read_table(str(tmp))


def _by_id(table: Any, schema: Any) -> Any:
    """The table cast to ``schema`` and sorted by id, without the row column."""
    table = table.select(schema.names).cast(schema).sort_by("id")
    return table.drop_columns(["row"])


class TestDecideOnSpark:
    @pytest.mark.parametrize("kind", ["return", "promotion", "price_adjustment"])
    def test_equals_decide_frame_row_by_row(
        self, spark: Any, cases: dict[str, Path], kind: str, tmp_path: Path
    ) -> None:
        """Several partitions, small Arrow batches: every row's decision and error equal what
        decide_frame gives for the same Parquet file (compared by id); rows are numbered
        per partition in file order."""
        import pyarrow.parquet as pq

        from csrules.io import decision_schema

        rules = csrules.ruleset("b2c")
        table = pq.read_table(cases[kind])
        local = rules.decide_frame(table, kind=kind)
        df = spark.read.parquet(str(cases[kind]))
        partitions = df.rdd.getNumPartitions()
        got = _spark_result(spark, csrules_spark.decide(df, "b2c", kind=kind), tmp_path / "out")
        schema = decision_schema(rules, kind)
        assert got.num_rows == local.num_rows == table.num_rows
        expected = _by_id(local, schema)
        actual = _by_id(got, schema)
        for name in expected.column_names:
            assert actual[name].to_pylist() == expected[name].to_pylist(), name
        if kind != "return":
            return
        assert partitions > 1
        # the sample holds both decisions and errors, so both were compared
        codes = expected["error.code"].to_pylist()
        assert any(code is None for code in codes)
        # row: partition p numbers its rows p * PARTITION_ROWS + 1, + 2, ... in file order
        numbered = got.select(["id", "row"]).sort_by("row")
        assert numbered["id"].to_pylist() == table["id"].to_pylist()
        rows = numbered["row"].to_pylist()
        blocks: dict[int, list[int]] = {}
        for row in rows:
            blocks.setdefault(row // csrules_spark.PARTITION_ROWS, []).append(
                row % csrules_spark.PARTITION_ROWS
            )
        assert sorted(blocks) == list(range(partitions))
        for block in blocks.values():
            assert block == list(range(1, len(block) + 1))
        # ... which is monotonically_increasing_id() + 1 of the same DataFrame
        from pyspark.sql import functions as F  # noqa: N812

        ids = df.select("id", F.monotonically_increasing_id().alias("mid")).collect()
        assert {r["id"]: r["mid"] + 1 for r in ids} == dict(
            zip(numbered["id"].to_pylist(), rows, strict=True)
        )

    def test_one_partition_numbers_rows_as_decide_frame(
        self, spark: Any, cases: dict[str, Path], tmp_path: Path
    ) -> None:
        """On one partition the whole output, row numbers included, is decide_frame's."""
        import pyarrow.parquet as pq

        from csrules.io import decision_schema

        rules = csrules.ruleset("b2c")
        schema = decision_schema(rules, "promotion")
        local = rules.decide_frame(pq.read_table(cases["promotion"]), kind="promotion")
        df = spark.read.parquet(str(cases["promotion"])).coalesce(1)
        got = _spark_result(spark, csrules_spark.decide(df, kind="promotion"), tmp_path / "o")
        got = got.select(schema.names).cast(schema).sort_by("row")
        assert got["row"].to_pylist() == list(range(1, local.num_rows + 1))
        assert got.equals(local.select(schema.names).cast(schema))

    def test_a_rule_set_of_ones_own_is_shipped_pickled(
        self, spark: Any, cases: dict[str, Path], tmp_path: Path
    ) -> None:
        """A RuleSet that is not bundled (taobao parameters under another name) reaches the
        executors pickled and decides as it does locally, which differs from b2c."""
        import pyarrow.parquet as pq

        from csrules.io import decision_schema

        mine = csrules.ruleset("taobao").with_name("my-shop")
        schema = decision_schema(mine, "return")
        table = pq.read_table(cases["return-small"])
        local = _by_id(mine.decide_frame(table, kind="return"), schema)
        b2c = _by_id(csrules.ruleset("b2c").decide_frame(table, kind="return"), schema)
        df = spark.read.parquet(str(cases["return-small"]))
        got = _by_id(_spark_result(spark, csrules_spark.decide(df, mine, kind="return"),
                                   tmp_path / "o"), schema)
        assert got.equals(local)
        assert not got.equals(b2c)

    def test_an_unknown_kind_fails_on_the_driver(self, spark: Any) -> None:
        from csrules.exceptions import RuleDefinitionError

        df = spark.createDataFrame([("a",)], ["id"])
        with pytest.raises(RuleDefinitionError, match="'refund'"):
            csrules_spark.decide(df, kind="refund")

    def test_a_naive_time_column_fails_the_job_unless_tz_says_its_zone(
        self, spark: Any, tmp_path: Path
    ) -> None:
        """TIMESTAMP_NTZ `at`: the job fails with decide_arrow's message naming 'at'; with
        tz the rows are decided (here: an error row, the case has no order)."""
        df = spark.sql(
            "SELECT 'R1' AS id, 'return' AS kind, TIMESTAMP_NTZ'2026-05-01 10:00:00' AS at"
        )
        with pytest.raises(Exception, match="'at' must be an aware timestamp column"):
            csrules_spark.decide(df, kind="return").collect()
        rows = csrules_spark.decide(df, kind="return", tz="Asia/Shanghai").collect()
        assert [(r["id"], r["row"]) for r in rows] == [("R1", 1)]
        assert rows[0]["error.code"] == "missing_field"

    def test_not_a_dataframe(self, spark: Any) -> None:
        with pytest.raises(ArgumentTypeError, match="'df'"):
            csrules_spark.decide([{"id": "a"}], kind="return")  # type: ignore[arg-type]

    def test_an_empty_dataframe_gives_an_empty_result(
        self, spark: Any, cases: dict[str, Path]
    ) -> None:
        df = spark.read.parquet(str(cases["return-small"])).limit(0)
        out = csrules_spark.decide(df, kind="return")
        assert out.count() == 0
        assert "decision.freight_payer" in out.columns or any(
            c.startswith("decision.") for c in out.columns
        )
