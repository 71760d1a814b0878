"""The one exception type that reaches users: it says what was wrong, where, and what to do."""


class UserError(Exception):
    """A problem with the user's input or environment, printed without a traceback.

    The message names the input (file, line, key, flag) and the fix.
    """
