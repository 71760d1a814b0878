"""copilot-finops: GitHub Copilot usage telemetry turned into team-level FinOps."""

__version__ = "0.1.0"

DEFAULT_WAREHOUSE = "data/warehouse.duckdb"
DEFAULT_PARAMS = "params"
