"""Storage: SQL, migrations, the connection pool and the embedded Postgres."""
