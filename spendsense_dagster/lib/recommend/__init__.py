"""Recommendation items: user contexts, generation, partner offers, guardrails and the recs rows."""
