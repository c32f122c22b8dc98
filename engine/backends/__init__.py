"""Destinations that hold a repository's immutable objects: a local folder today, S3 next."""
