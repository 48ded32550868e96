"""Reports for party-affairs workers and editors: coverage, progress, alerts and content feedback."""
