"""The warm-pool controller: observe → plan (pure) → act, in every server replica."""
