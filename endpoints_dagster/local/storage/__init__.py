"""The local server's durable state in SQLite: schema and store."""
