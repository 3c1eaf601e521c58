"""One module per group of routes: endpoints and versions, runs, the query API, the control API."""
