"""Run results as typed frames: ClickHouse type names parsed and mapped to pandas dtypes. No Dagster."""
