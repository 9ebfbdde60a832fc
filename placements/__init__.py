"""The placements service: domain rules, persistence, use cases and scheduled jobs."""
