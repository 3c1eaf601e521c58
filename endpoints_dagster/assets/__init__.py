"""The Dagster assets that run endpoints: the factory (`build_endpoint_assets`) and the concurrent fan-out."""
