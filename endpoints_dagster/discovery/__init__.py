"""A project's endpoint list saved as state, and which endpoints become assets (no component import)."""
