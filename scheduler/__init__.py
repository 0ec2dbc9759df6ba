"""The background service: `bantin serve` runs the scheduled crawl and digest."""
