"""Messages a user reads whether or not their script set up logging."""


def inform(logger, message, *args):
    """An INFO line that reaches the user as matterport's prints did.

    Logged at INFO when logging is configured (a handler on `logger` or an
    ancestor: the mrcnn command, an application, pytest); printed to stdout
    otherwise, where Python's logging would drop it.
    message, args: %-style, as for logger.info.
    """
    if logger.hasHandlers():
        # The record names the caller, not this function.
        logger.info(message, *args, stacklevel=2)
    else:
        print(message % args if args else message)
