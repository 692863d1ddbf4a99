"""Runtime providers: where warm-pool instances and prebuilds actually run."""
