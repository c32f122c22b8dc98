"""The on-destination format, exactly what docs/format.md specifies.

Nothing in here knows about scanning, files on the user's disk, threads or the network:
it turns bytes into sealed objects and back, given a backend to store them in.
"""
