"""Facts every stage shares: settings, files, the warehouse, windows, personas. No stage imports another
stage through here."""
