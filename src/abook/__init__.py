"""abook: keep an Audiobookshelf library growing and tidy, unattended."""

__version__ = "0.1.0"
