"""The local server's HTTP side: the ASGI app, its state, routing, routes, keys, fault knobs and counters."""
