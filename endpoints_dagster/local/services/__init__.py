"""What the routes call: endpoint lifecycle, runs, query executions, the result cache, materialization."""
