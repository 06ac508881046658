"""Clients ⇄ Xero Contacts: the field mapping, the run's three steps and their writes."""
