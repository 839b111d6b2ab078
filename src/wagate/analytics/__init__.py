"""Usage counters, the activity log, rate limits and metrics."""
