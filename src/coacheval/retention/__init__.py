"""Retention as time to event: Cox models of turnover on counting-process (start, stop] data."""
