"""The ``avi`` subcommands by group; each module registers its own with :func:`register`."""
