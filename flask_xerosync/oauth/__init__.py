"""Connecting to Xero with Authlib: the OAuth sessions, what a consent granted, the encrypted token
store, and the authorised session that refreshes tokens under a per-connection lock."""
