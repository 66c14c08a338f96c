"""The synthetic Plaid-style dataset generator behind `spendsense generate` (SPEC §2)."""
