"""Browser tests: Chromium through Playwright against a real `placements serve` (make browser)."""
