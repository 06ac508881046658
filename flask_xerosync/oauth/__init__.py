"""Connecting to Xero with Authlib: clients, the authorisation flow, the token store and the
authorised session that refreshes tokens under a per-connection lock."""
