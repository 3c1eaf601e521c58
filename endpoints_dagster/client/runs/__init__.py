"""One endpoint run from request to every row: its arguments, the async wait and its schedule, pages, cancel."""
