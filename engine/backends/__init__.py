"""Where bytes are kept: the backend interface, a local folder, S3, retry, locations, the rate limiter.

May import `engine.base` and `engine.config`. A backend stores and lists opaque objects by name; it
must never know the repository format, keys or jobs. `local` and `s3` never import each other.
"""
