"""The synthetic Plaid-style dataset generator behind `spendsense generate` (docs/ingest.md)."""
