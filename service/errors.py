"""The error a person must fix before a command can work: its message says what to do.

Raised where the problem is understood (a database that cannot be reached, an argument that
names a file where a folder is needed); the command line prints the message as one line and
exits with code 2. Kept free of imports, so that every command can catch it cheaply.
"""


class UserError(Exception):
    """Something the person running newswatch must fix; the message says what, on one line."""
