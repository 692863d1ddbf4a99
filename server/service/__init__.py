"""Use cases: validation, rules and authorization, independent of any protocol."""
