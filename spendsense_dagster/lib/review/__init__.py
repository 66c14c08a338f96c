"""The operator side: decision and consent logs, decisions, the approval queue, decision traces."""
