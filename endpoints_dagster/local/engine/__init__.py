"""The analytics engine: HogQL on embedded ClickHouse (chDB), value binding, and the generated data set."""
