"""WHO 2006 child growth z-scores (HAZ, WAZ, WHZ) matching WHO anthro 1.1.0, vectorised with numpy."""

from pipelines.growth.batch import zscores_csv
from pipelines.growth.who_tables import lms_tables, load_into_duckdb
from pipelines.growth.zscores import compute_zscores

__all__ = ["compute_zscores", "lms_tables", "load_into_duckdb", "zscores_csv"]
