"""Test support: real Postgres, real servers, real clients."""
