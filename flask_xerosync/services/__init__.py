"""The extension's services: what the pages, the CLI and the worker do, without Flask's request.

Each function takes what it needs as arguments (the state or a session, the account id, the
connection, a redirect URI, the flow's session mapping…); none reads ``flask.request`` or
``flask.session`` or builds URLs. The views turn requests into these calls and their answers into
pages.
"""
