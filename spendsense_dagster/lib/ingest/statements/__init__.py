"""CSV bank statements (docs/statements.md): files found, decoded and sniffed, headers mapped to roles.

Python only reads the files: the text of every cell lands in raw.statement_rows, and the dbt models
parse dates and amounts, normalise merchants, categorise, deduplicate and reject, set-based.
"""
