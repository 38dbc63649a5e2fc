"""HTTP: REST API, pages and static files, health."""
