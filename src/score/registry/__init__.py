"""The embedded, Song-compatible metadata registry (SQLite), for deployments without Song."""
