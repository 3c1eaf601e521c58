"""The SQLite schema of the local server's state (see store.py).

Tables are created if missing, so a data folder made by an older build keeps working as
long as columns are only ever added with defaults.
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    projects TEXT NOT NULL,
    user_id INTEGER NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS endpoints (
    id TEXT PRIMARY KEY,
    project_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    is_active INTEGER NOT NULL DEFAULT 1,
    cache_age_seconds REAL,
    current_version INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    created_by INTEGER,
    last_executed_at REAL,
    deleted_at REAL,
    UNIQUE (project_id, name)
);
CREATE TABLE IF NOT EXISTS versions (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    query TEXT NOT NULL,
    is_active INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    created_by INTEGER,
    UNIQUE (endpoint_id, version)
);
CREATE TABLE IF NOT EXISTS materializations (
    endpoint_id TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    table_name TEXT NOT NULL,
    status TEXT NOT NULL,
    last_materialized_at REAL,
    error TEXT,
    sync_frequency TEXT NOT NULL DEFAULT '24hour',
    PRIMARY KEY (endpoint_id, version)
);
CREATE TABLE IF NOT EXISTS cache_entries (
    cache_key TEXT PRIMARY KEY,
    project_id INTEGER NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
    payload BLOB NOT NULL,
    last_refresh REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL,
    endpoint_id TEXT,
    endpoint TEXT NOT NULL,
    client_query_id TEXT NOT NULL,
    version INTEGER,
    materialized INTEGER NOT NULL DEFAULT 0,
    query_async INTEGER NOT NULL DEFAULT 0,
    api_key_id INTEGER,
    via_api_key INTEGER NOT NULL DEFAULT 1,
    submitted_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    status TEXT NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS executions_by_query ON executions (project_id, client_query_id);
CREATE INDEX IF NOT EXISTS cache_by_endpoint ON cache_entries (endpoint_id);
"""

# Columns added after the first release: (table, column, type). Added to older data folders
# at startup, since CREATE TABLE IF NOT EXISTS leaves an existing table as it was.
ADDED_COLUMNS = (
    ("endpoints", "deleted_at", "REAL"),
    # PostHog today (current dialect): tags as a JSON list, the insight an endpoint came from,
    # and a description per version (NULL: the endpoint's own, as every version had before).
    ("endpoints", "tags", "TEXT"),
    ("endpoints", "derived_from_insight", "TEXT"),
    ("versions", "description", "TEXT"),
)
