"""One endpoint run from request to every row: its arguments, the async wait and its schedule, pages (read
a slice of rows at a time when large: `page_body`), the data version (`digest`), cancel."""
