"""The one exception type whose message is meant for people."""


class TiltingError(Exception):
    """An error with a one-sentence message for the person at the keyboard.

    The CLI prints it and exits non-zero; the API answers 4xx with it.
    """
