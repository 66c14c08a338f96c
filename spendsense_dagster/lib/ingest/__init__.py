"""Input files into the raw schema: readers, entity contracts, checks and the quarantine."""
